// What this phone keeps in localStorage: its own id and scan counter (for client_scan_id), and per event
// the ticket list (manifest.js) and the queue of offline scans (queue.js). Storage may be unavailable
// (private browsing) or full: reads fall back, writes say whether they worked.

import { EVENT_ID } from "./page.js";

export const KEYS = {
  deviceId: "denhub.door.device-id",
  counter: "denhub.door.scan-counter",
  manifest: "denhub.door.manifest." + EVENT_ID,
  queue: "denhub.door.queue." + EVENT_ID
};

export const store = {
  get: function (key, fallback) {
    try {
      const raw = window.localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  },
  set: function (key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
  },
  remove: function (key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* storage unavailable */ }
  }
};

function randomId() {
  const bytes = new Uint8Array(6);
  window.crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, function (b) { return (b % 36).toString(36); }).join("");
}

let deviceId = null;

function thisPhone() {
  if (deviceId) return deviceId;
  deviceId = store.get(KEYS.deviceId, null);
  if (typeof deviceId !== "string" || !/^[a-z0-9]{4,16}$/.test(deviceId)) {
    deviceId = randomId();
    store.set(KEYS.deviceId, deviceId);
  }
  return deviceId;
}

export function nextScanId() {
  // Kept across reloads and events so an id is never reused on this phone.
  let n = Number(store.get(KEYS.counter, 0)) || 0;
  n += 1;
  store.set(KEYS.counter, n);
  return "d-" + thisPhone() + "-" + n;
}
