// One scan, from the camera, a keyboard-wedge scanner or a typed code: the server judges it when it can
// be reached (in 3.5 s), else the phone does from its kept list (decide.js) and queues it for the server.
// Scans are judged one at a time, in the order they were made. Also the unpaid verdict's "mark paid".

import { BASE, CSRF, DEVICE, els } from "./page.js";
import { isJSON, link, lostAccess, online, postJSON, request } from "./net.js";
import { nextScanId } from "./storage.js";
import { applyServer, saveSoon } from "./manifest.js";
import { enqueue, queue } from "./queue.js";
import { decideLocally, HEADLINES } from "./decide.js";
import { MAX_SCAN_CHARS } from "./verify.js";
import { feedback } from "./sound.js";
import { renderCounts, renderStatus, show } from "./ui.js";
import { countsSoon, handleLostAccess, markDown, markUp, pollCounts, syncSoon } from "./sync.js";

const SCAN_TIMEOUT_MS = 3500;  // a dropping signal must not keep a queue waiting at the gate

let chain = Promise.resolve();

export function submitScan(text, direction) {
  chain = chain.then(function () { return judge(text, direction); });
  return chain;
}

function judge(text, direction) {
  if (link.lost) { handleLostAccess(); return Promise.resolve(); }
  const scan = { client_scan_id: nextScanId(), text: text.slice(0, MAX_SCAN_CHARS + 1), direction: direction,
                 device: DEVICE, gate: "", scanned_at: new Date().toISOString() };
  const viaServer = !online() ? Promise.resolve(null) :
    postJSON(BASE + "/scan", scan, SCAN_TIMEOUT_MS).then(function (response) {
      if (lostAccess(response)) return "lost";
      if (response.ok && isJSON(response)) {
        return response.json().then(function (result) { markUp(); return result; });
      }
      return null;  // a server error: decide here and let the queue retry
    }, function () { markDown(); return null; });
  return viaServer.then(function (result) {
    if (result === "lost") { handleLostAccess(); return; }
    if (result) {
      applyServer(result);
      show(result);
      feedback(result);
      if (queue.length) syncSoon();
      countsSoon();
      return;
    }
    return decideLocally(scan.text, direction, scan.scanned_at).then(function (local) {
      if (local.verdict !== "error") {
        // Every scan is queued, refused ones too: the server keeps a record of each.
        enqueue({ client_scan_id: scan.client_scan_id, text: scan.text, scanned_at: scan.scanned_at,
                  device: scan.device, gate: scan.gate, direction: direction, local: local.change,
                  type_id: local.type_id || null, verdict: local.verdict });
        saveSoon();
      }
      show(local, scan.client_scan_id);
      feedback(local);
      renderCounts();
      renderStatus();
    });
  }).catch(function (error) {
    show({ verdict: "error", ok: false, headline: HEADLINES.error, detail: String(error && error.message || error) });
  });
}

export function payAndAdmit(code, button) {
  button.disabled = true;
  const body = new URLSearchParams();
  body.set("code", code);
  body.set("csrf_token", CSRF);
  return request(BASE + "/pay", {
    method: "POST", body: body,
    headers: { "Accept": "application/json", "X-CSRF-Token": CSRF }
  }, 10000).then(function (response) {
    if (lostAccess(response)) { handleLostAccess(); return; }
    if (response.status === 409 && isJSON(response)) {
      // Refused with a verdict (a free order: nothing to pay; a cancelled ticket): shown as such.
      return response.json().then(function (result) {
        applyServer(result);
        show(result);
        feedback(result);
      });
    }
    if (!response.ok || !isJSON(response)) {
      const refused = new Error("The payment was not recorded (error " + response.status + ").");
      refused.answered = true;
      throw refused;
    }
    return response.json().then(function (result) {
      applyServer(result);
      show(result);
      feedback(result);
      pollCounts();
    });
  }).catch(function (error) {
    button.disabled = false;
    if (!error.answered) markDown();
    show({ verdict: "error", ok: false, headline: "Payment not recorded",
           detail: error.answered ? error.message : "No network: try again when it is back." });
  }).then(function () { els.text.focus(); });
}
