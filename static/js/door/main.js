// Door scanner. The page works without this script (the form posts and the server renders the verdict);
// these modules add, on a phone at the gate:
// - the camera (camera.js), and the text field for keyboard-wedge scanners and typed codes (Enter submits;
//   cleared and refocused);
// - big coloured verdicts (ui.js) with a beep and a vibration (sound.js);
// - offline admission: the ticket list and the event's Ed25519 public key are kept on the phone
//   (manifest.js); with no network the QR signature is checked with WebCrypto (verify.js) and the ticket
//   looked up in the list (decide.js), the scan is queued with a client_scan_id (queue.js), and the queue
//   is sent to /sync when the network is back (sync.js; replays are harmless on the server);
// - live counts, polled every 5 s while online;
// - a booking reference typed in the field, or a name searched, lists the tickets to admit (online only).
// A browser too old for modules keeps the plain form.

import { els, fineMouse, root } from "./page.js";
import { link } from "./net.js";
import { restore, whenSaveFails } from "./manifest.js";
import { queue } from "./queue.js";
import { setUpCamera, startCamera } from "./camera.js";
import { listenForSound } from "./sound.js";
import { renderStatus, whenAdmitClicked, whenPayClicked } from "./ui.js";
import { admitTicket, payAndAdmit, searchByName, submitScan } from "./scan.js";
import { loadManifest, markDown, pollCounts, sync, tick } from "./sync.js";

const POLL_MS = 5000;

function start() {
  listenForSound();
  whenPayClicked(payAndAdmit);
  whenAdmitClicked(admitTicket);
  whenSaveFails(function () { renderStatus("Could not keep the ticket list on this phone (storage full?)"); });

  // A keyboard-wedge scanner types the code and presses Enter: the form's submit, handled here.
  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    const submitter = event.submitter;
    const direction = submitter && submitter.value === "out" ? "out" : "in";
    const text = els.text.value;
    els.text.value = "";
    els.text.focus();
    if (!text.trim()) return;
    submitScan(text, direction);
  });
  // No code at hand: find the ticket by the attendee's name (the server's answer lists matches to admit).
  if (els.search) {
    els.search.addEventListener("submit", function (event) {
      event.preventDefault();
      const query = els.searchText.value.trim();
      if (query) searchByName(query);
    });
  }
  setUpCamera(function (text) {
    submitScan(text, "in");
    if (fineMouse) els.text.focus();
  });

  window.addEventListener("online", function () { link.down = false; renderStatus(); tick(); });
  window.addEventListener("offline", function () { markDown(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });

  restore();
  renderStatus();
  loadManifest().then(function () { if (queue.length) sync(); });
  pollCounts();
  setInterval(tick, POLL_MS);
  startCamera();
  // The server-rendered verdict (a no-JS post, or pay-and-admit) stays until the next scan.
}

if (root) start();
