// The offline scans waiting for the server, kept on the phone (they survive a reload), and what the last
// sync made of them. sync.js sends them; the server keeps each scan once (client_scan_id), so a resend
// after a lost answer is harmless.

import { KEYS, nextScanId, store } from "./storage.js";

const SYNC_BATCH = 200;  // the server takes up to 500

// Each item: {client_scan_id, text, scanned_at, device, gate, direction, local, type_id, verdict}; `local`
// is the change the phone made to its ticket list (manifest.js applyLocal), or null for a refusal.
export let queue = store.get(KEYS.queue, []);
if (!Array.isArray(queue)) queue = [];

export let lastSync = null;  // {at, count, problems}

export function enqueue(item) {
  queue.push(item);
  store.set(KEYS.queue, queue);
}

export function nextBatch() {
  return queue.slice(0, SYNC_BATCH);
}

// The scans the server has recorded leave the queue; `problems` are the admissions it judged otherwise.
export function settle(done, problems) {
  queue = queue.filter(function (item) { return !done[item.client_scan_id]; });
  store.set(KEYS.queue, queue);
  lastSync = { at: new Date().toISOString(), count: Object.keys(done).length, problems: problems.slice(0, 3) };
}

// The server refused a scan's id as used for another scan (a conflict): the scan is kept, under a new id.
export function renumber(item) {
  item.client_scan_id = nextScanId();
  store.set(KEYS.queue, queue);
}

// This phone's changes not yet synced, in the order they were made.
export function pendingChanges() {
  return queue.map(function (item) { return item.local; }).filter(Boolean);
}

// What the queued scans add to the server's counts: {byType: {typeId: {in, inside}}, total: {in, inside}}.
export function pendingCounts() {
  const byType = {}, total = { in: 0, inside: 0 };
  queue.forEach(function (item) {
    const v = item.local && item.local.verdict;
    if (!v) return;
    const key = String(item.type_id);
    const p = byType[key] || (byType[key] = { in: 0, inside: 0 });
    const dIn = v === "admitted" ? 1 : 0, dInside = v === "checked_out" ? -1 : (v === "not_inside" ? 0 : 1);
    p.in += dIn; p.inside += dInside; total.in += dIn; total.inside += dInside;
  });
  return { byType: byType, total: total };
}
