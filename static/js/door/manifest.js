// The ticket list kept on the phone for offline use (GET /door/events/<id>/manifest) and the event's Ed25519
// public key. Least privilege: no ticket codes and no names, but per ticket a keyed hash of its code (under
// the list's own key, "code_key"), the initials its signed QR carries, its type and state (see
// ticketing/door_reports.py manifest). Offline verdicts (decide.js) read it; every verdict this phone sees,
// online or not, updates it.

import { EVENT_ID } from "./page.js";
import { KEYS, store } from "./storage.js";
import { pendingChanges } from "./queue.js";
import { codeHash, importCodeKey, importPublicKey } from "./verify.js";

const REFRESH_MS = 60000;
const KEEP_MS = 2 * 24 * 3600 * 1000;  // the list (initials, who is inside) stays on a phone no longer than this

export let manifest = null;      // {public_key, code_key, generated_at, loaded_at, tickets: [...]}
export let tickets = new Map();  // ticket id (or "h:" + hash, for a ticket met offline only) -> entry
let byHash = new Map();          // keyed hash of the code -> entry
let publicKey = null;            // Promise<CryptoKey|null>, for this manifest
let codeKey = null;              // Promise<CryptoKey|null>, for this manifest
let saveFailed = function () {};

// How to say that the list could not be kept (ui.js draws the status line, which reads this module).
export function whenSaveFails(callback) { saveFailed = callback; }

function keyOf(entry) {
  return entry.id !== null && entry.id !== undefined ? entry.id : "h:" + entry.h;
}

export function keep(entry) {
  tickets.set(keyOf(entry), entry);
  if (entry.h) byHash.set(entry.h, entry);
}

function index(m) {
  manifest = m;
  tickets = new Map();
  byHash = new Map();
  (m.tickets || []).forEach(keep);
  publicKey = null;
  codeKey = null;
  // Scans made on this phone and not yet synced still count when a newer list arrives.
  pendingChanges().forEach(applyLocal);
}

function save() {
  if (!manifest) return;
  manifest.tickets = Array.from(tickets.values());
  if (!store.set(KEYS.manifest, manifest)) saveFailed();
}

let saveTimer = null;
export function saveSoon() {
  if (saveTimer) return;
  saveTimer = setTimeout(function () { saveTimer = null; save(); }, 800);
}

// The list kept from an earlier visit, if it is this event's, of this format and recent enough; else dropped.
export function restore() {
  const kept = store.get(KEYS.manifest, null);
  const keptFor = kept && Date.now() - Date.parse(kept.loaded_at || 0);
  if (kept && kept.event_id === EVENT_ID && kept.code_key && Array.isArray(kept.tickets) && keptFor < KEEP_MS) {
    index(kept);
  } else if (kept) {
    store.remove(KEYS.manifest);
  }
}

// A list fresh from the server: kept, if it is one. Says whether it was.
export function accept(m) {
  if (!m || m.event_id !== EVENT_ID || !Array.isArray(m.tickets) || !m.code_key) return false;
  m.loaded_at = new Date().toISOString();
  index(m);
  save();
  return true;
}

export function isStale() {
  return !manifest || Date.now() - Date.parse(manifest.loaded_at || 0) > REFRESH_MS;
}

// A phone that may no longer scan here does not keep the list.
export function forget() {
  store.remove(KEYS.manifest);
  manifest = null;
  tickets = new Map();
  byHash = new Map();
}

export function eventKey() {
  if (!publicKey) publicKey = importPublicKey(manifest && manifest.public_key);
  return publicKey;
}

// The kept entry for a ticket code (typed, or a QR's signed code): {hash, entry}; hash null when this
// browser cannot hash (no WebCrypto here), entry null when the list has no such ticket.
export function findByCode(code) {
  if (!codeKey) codeKey = importCodeKey(manifest && manifest.code_key);
  return codeHash(codeKey, code).then(function (h) {
    return { hash: h, entry: h ? byHash.get(h) || null : null };
  });
}

function entryFor(change) {
  if (change.id !== null && change.id !== undefined) return tickets.get(change.id);
  return change.h ? byHash.get(change.h) : null;
}

// The effect of a scan decided on this phone, on the kept list (again when a fresh list arrives).
export function applyLocal(change) {
  const entry = entryFor(change);
  if (!entry || !change.verdict) return;
  if (change.verdict === "admitted" && !entry.checked_in_at) {
    entry.checked_in_at = change.at;
    entry.checked_in_device = change.device;
    entry.checked_in_gate = change.gate || "";
    entry.inside = true;
  } else if (change.verdict === "admitted" || change.verdict === "readmitted") {
    entry.inside = true;
  } else if (change.verdict === "checked_out") {
    entry.inside = false;
  }
}

// What the server said about a ticket, on the kept list (so a later offline scan knows). The server names
// tickets by id; their names are not kept.
export function applyServer(result) {
  const t = result && result.ticket;
  if (!t || t.id === undefined || t.id === null) return;
  const entry = tickets.get(t.id);
  if (!entry) return;  // not on the list (booked since): the next list has it
  entry.unpaid = !!t.unpaid;
  entry.price_pence = t.price_pence;
  if (result.first_checked_in_at) {
    entry.checked_in_at = result.first_checked_in_at;
    entry.checked_in_device = result.first_device || "";
    entry.checked_in_gate = result.first_gate || "";
  }
  const v = result.verdict;
  if (typeof result.inside === "boolean") {
    entry.inside = result.inside;  // the ticket as the server left it (a synced scan may be older than that)
  } else {
    if (v === "admitted" || v === "readmitted" || v === "already_checked_in") entry.inside = true;
    if (v === "checked_out" || v === "not_inside") entry.inside = false;
  }
  if (v === "cancelled") entry.status = "cancelled";
  if (manifest) saveSoon();
}
