// One scan, from the camera, a keyboard-wedge scanner or a typed code: the server judges it when it can
// be reached (in 3.5 s), else the phone does from its kept list (decide.js) and queues it for the server.
// Scans are judged one at a time, in the order they were made. Also the unpaid verdict's "mark paid".

import { BASE, CSRF, DEVICE, els } from "./page.js";
import { getJSON, isJSON, link, lostAccess, online, postJSON, request } from "./net.js";
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

// The server's verdict on a ticket: on the kept list, on screen, and heard.
function showAnswer(result) {
  applyServer(result);
  show(result);
  feedback(result);
}

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
      // 429: too many look-ups by reference (or ticket number) from this phone, said as a verdict.
      if ((response.ok || response.status === 429) && isJSON(response)) {
        return response.json().then(function (result) { markUp(); return result; });
      }
      return null;  // a server error: decide here and let the queue retry
    }, function () { markDown(); return null; });
  return viaServer.then(function (result) {
    if (result === "lost") { handleLostAccess(); return; }
    if (result) {
      showAnswer(result);
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

// A ticket found by its booking reference or by name, admitted by its id (online only: the phone's list has
// no names to find it by).
export function admitTicket(ticketId, button) {
  if (!online()) {
    show({ verdict: "error", ok: false, headline: HEADLINES.error, detail: "No network: scan the ticket instead." });
    return Promise.resolve();
  }
  button.disabled = true;
  const scan = { client_scan_id: nextScanId(), text: "", ticket_id: ticketId, direction: "in", device: DEVICE,
                 gate: "", scanned_at: new Date().toISOString() };
  return postJSON(BASE + "/scan", scan, 10000).then(function (response) {
    if (lostAccess(response)) { handleLostAccess(); return; }
    if (!(response.ok || response.status === 429) || !isJSON(response)) {
      throw new Error("The check-in was not recorded (error " + response.status + ").");
    }
    return response.json().then(function (result) {
      markUp();
      showAnswer(result);
      countsSoon();
    });
  }).catch(function (error) {
    button.disabled = false;
    show({ verdict: "error", ok: false, headline: HEADLINES.error, detail: String(error && error.message || error) });
  });
}

// Tickets of this event whose name has `query` in it (online only).
export function searchByName(query) {
  if (!online()) {
    show({ verdict: "error", ok: false, headline: HEADLINES.error,
           detail: "Finding a name needs the network: scan the ticket or type its code." });
    return Promise.resolve();
  }
  return getJSON(BASE + "/search?q=" + encodeURIComponent(query), 10000).then(function (response) {
    if (lostAccess(response)) { handleLostAccess(); return; }
    if (!isJSON(response)) throw new Error("The search failed (error " + response.status + ").");
    return response.json().then(function (result) { markUp(); show(result); });
  }).catch(function (error) {
    show({ verdict: "error", ok: false, headline: HEADLINES.error, detail: String(error && error.message || error) });
  });
}

export function payAndAdmit(ticketId, amountPence, button) {
  button.disabled = true;
  const body = new URLSearchParams();
  body.set("ticket_id", String(ticketId));
  body.set("amount_pence", String(amountPence));
  body.set("csrf_token", CSRF);
  return request(BASE + "/pay", {
    method: "POST", body: body,
    headers: { "Accept": "application/json", "X-CSRF-Token": CSRF }
  }, 10000).then(function (response) {
    if (lostAccess(response)) { handleLostAccess(); return; }
    if ((response.status === 409 || response.status === 429) && isJSON(response)) {
      // Refused with a verdict (a free ticket: nothing to pay; a cancelled ticket; the order now owes another
      // amount, shown with its own button): shown as such.
      return response.json().then(function (result) {
        showAnswer(result);
      });
    }
    if (!response.ok || !isJSON(response)) {
      const refused = new Error("The payment was not recorded (error " + response.status + ").");
      refused.answered = true;
      throw refused;
    }
    return response.json().then(function (result) {
      showAnswer(result);
      pollCounts();
    });
  }).catch(function (error) {
    button.disabled = false;
    if (!error.answered) markDown();
    show({ verdict: "error", ok: false, headline: "Payment not recorded",
           detail: error.answered ? error.message : "No network: try again when it is back." });
  }).then(function () { els.text.focus(); });
}
