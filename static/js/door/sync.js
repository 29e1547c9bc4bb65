// Keeping in step with the server in the background: the ticket list (re-downloaded every minute), the
// counts (polled every 5 s; the poll doubles as the probe that tells a dead network from a live one), the
// queue of offline scans (sent when the network is back), and what to do when this phone loses access.

import { BASE } from "./page.js";
import { getJSON, isJSON, link, lostAccess, online, postJSON } from "./net.js";
import { accept, applyServer, forget, isStale } from "./manifest.js";
import { nextBatch, queue, renumber, settle } from "./queue.js";
import { HEADLINES, OK_VERDICTS } from "./decide.js";
import { stopCamera } from "./camera.js";
import { noteSynced, renderStatus, setCounts, show } from "./ui.js";

export function markDown() {
  if (!link.down) { link.down = true; renderStatus(); }
}

export function markUp() {
  if (link.down) { link.down = false; renderStatus(); }
}

// Stop admitting, offline too, until the page is reloaded.
export function handleLostAccess() {
  link.lost = true;
  forget();
  stopCamera();
  show({ verdict: "error", ok: false, headline: HEADLINES.error,
         detail: "This phone is no longer signed in for this door (signed out, or the door link was revoked). " +
                 "Reload the page, or ask the organiser." });
  renderStatus();
}

export function loadManifest() {
  return getJSON(BASE + "/manifest", 20000)
    .then(function (response) {
      if (lostAccess(response)) { handleLostAccess(); return; }
      if (!response.ok || !isJSON(response)) return;
      return response.json().then(function (m) {
        if (!accept(m)) return;
        markUp();
        renderStatus();
      });
    })
    .catch(function () { markDown(); });
}

export function pollCounts() {
  return getJSON(BASE + "/counts", 8000)
    .then(function (response) {
      if (lostAccess(response)) { handleLostAccess(); return; }
      if (!response.ok || !isJSON(response)) return;
      return response.json().then(function (data) { markUp(); setCounts(data.counts); });
    }, function () { markDown(); });
}

let countsTimer = null;
export function countsSoon() {
  if (!countsTimer) countsTimer = setTimeout(function () { countsTimer = null; pollCounts(); }, 300);
}

let syncTimer = null;
export function syncSoon() {
  if (!syncTimer) syncTimer = setTimeout(function () { syncTimer = null; sync(); }, 200);
}

let syncing = false;

export function sync() {
  if (syncing || !queue.length || link.lost || navigator.onLine === false) return Promise.resolve();
  syncing = true;
  const batch = nextBatch();
  let progressed = false;
  const body = {
    scans: batch.map(function (item) {
      return { client_scan_id: item.client_scan_id, text: item.text, scanned_at: item.scanned_at,
               device: item.device, gate: item.gate, direction: item.direction };
    })
  };
  return postJSON(BASE + "/sync", body, 30000).then(function (response) {
    if (lostAccess(response)) { handleLostAccess(); return; }
    if (!response.ok || !isJSON(response)) return;
    return response.json().then(function (data) {
      markUp();
      const byId = {};
      (data.results || []).forEach(function (r) { if (r.client_scan_id) byId[r.client_scan_id] = r; });
      const problems = [];
      const done = {};
      batch.forEach(function (item) {
        const r = byId[item.client_scan_id];
        if (!r || r.retry) return;  // not recorded because of a fault on our side: stays queued
        // Its id was already used for another scan: this one is not recorded yet; it is sent again under a
        // new id (never answered with the other scan's ticket).
        if (r.conflict) { renumber(item); progressed = true; return; }
        done[item.client_scan_id] = true;
        applyServer(r);
        noteSynced(item.client_scan_id, r);
        // Told at the gate "admitted" but the server knows better (another gate was first, or the ticket
        // was cancelled meanwhile): worth a look.
        if (OK_VERDICTS[item.verdict] && !r.ok) {
          problems.push((r.ticket && r.ticket.name || "A ticket") + ": " + (r.headline || r.verdict) + ".");
        }
      });
      progressed = Object.keys(done).length > 0;
      settle(done, problems);
      setCounts(data.counts);
    });
  }, function () { markDown(); }).then(function () {
    syncing = false;
    renderStatus();
    // More to send: go on at once; after a refusal, the 5 s tick tries again.
    if (progressed && queue.length && online()) syncSoon();
  });
}

// Every 5 s, and when the page is shown again or the network comes back.
export function tick() {
  if (link.lost || document.hidden) return;
  if (navigator.onLine === false) { markDown(); return; }
  pollCounts().then(function () {
    if (!online()) return;
    if (queue.length) sync();
    if (isStale()) loadManifest();
  });
}
