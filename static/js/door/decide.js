// A scan decided on this phone, from the kept ticket list, as ticketing/checkin.py would decide it: used
// when the server cannot be reached. The verdict is queued (queue.js) and the server has the last word.

import { DEVICE, EVENT_ID } from "./page.js";
import { applyLocal, eventKey, findByCode, keep, manifest } from "./manifest.js";
import { checkPayload, MAX_SCAN_CHARS, normaliseCode } from "./verify.js";

const PLAIN_CODE_RE = /^[A-Za-z0-9_-]{6,40}$/;
// A booking reference (ticketing/services.py REFERENCE_ALPHABET, six of them): only the server can look one up.
const REFERENCE_RE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$/;

export const OK_VERDICTS = { admitted: 1, readmitted: 1, checked_out: 1 };
export const HEADLINES = {
  admitted: "Admitted", readmitted: "Re-entry: admitted", already_checked_in: "Already checked in",
  cancelled: "Cancelled ticket", unpaid: "Not paid yet", wrong_event: "Wrong event",
  unknown: "Not a valid ticket", forged: "Forged ticket", checked_out: "Checked out",
  not_inside: "Not checked in", late: "Late sync: not counted", rejected: "Refused",
  error: "Cannot check tickets", found: "Found"
};

// The kept list has initials, not names (manifest.js): the verdict shows them for the door to compare.
function ticketJSON(entry) {
  return { id: entry.id === undefined ? null : entry.id, name: "", initials: entry.initials || "",
           type: entry.type || "", tier: entry.tier_label || "", unpaid: !!entry.unpaid,
           price_pence: entry.price_pence || 0 };
}

function localResult(verdict, detail, entry) {
  return { verdict: verdict, ok: !!OK_VERDICTS[verdict], headline: HEADLINES[verdict], detail: detail || "",
           ticket: entry ? ticketJSON(entry) : null, local: true,
           first_checked_in_at: entry ? entry.checked_in_at || null : null,
           first_device: entry ? entry.checked_in_device || "" : "",
           first_gate: entry ? entry.checked_in_gate || "" : "" };
}

// The verdict for a scanned text (a QR payload or a typed code), as a result shaped like the server's;
// `change` is the scan's effect on the kept list (for the queue), or null.
export function decideLocally(text, direction, scannedAt) {
  text = text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
  if (!text) return Promise.resolve(localResult("unknown", "Nothing readable was scanned."));
  if (text.length > MAX_SCAN_CHARS) return Promise.resolve(localResult("unknown", "The code is too long."));
  if (!manifest) {
    return Promise.resolve(localResult("error", "No network, and this phone has no ticket list yet. " +
      "Write the code down, or find a signal and reload the page."));
  }
  if (text.indexOf("DH1.") === 0) return decidePayload(text, direction, scannedAt);
  // Typed: spaces and case do not matter (as on the server).
  const code = text.replace(/\s+/g, "");
  const reference = REFERENCE_RE.test(code.replace(/-/g, "").toUpperCase());
  const needsNetwork = "A booking reference needs the network: scan the QR code or type the ticket code.";
  if (!PLAIN_CODE_RE.test(code)) {
    return Promise.resolve(localResult("unknown", reference ? needsNetwork : "That is not a ticket code."));
  }
  return findByCode(normaliseCode(code)).then(function (found) {
    if (found.hash === null) {
      return localResult("error", "This browser cannot check typed codes offline: scan the QR code.");
    }
    if (!found.entry) {
      return localResult("unknown", reference ? needsNetwork : "No ticket has that code on this phone’s list.");
    }
    return judgeEntry(found.entry, direction, scannedAt);
  });
}

function decidePayload(text, direction, scannedAt) {
  return checkPayload(text, EVENT_ID, eventKey()).then(function (checked) {
    if (!checked.claims) return { checked: checked, found: null };
    return findByCode(checked.claims.code).then(function (found) { return { checked: checked, found: found }; });
  }).then(function (both) {
    const checked = both.checked, claims = checked.claims;
    switch (checked.verdict) {
      case "malformed":
        return localResult("unknown", "This QR code is damaged or not one of our tickets.");
      case "wrong_event":
        return localResult("wrong_event", "This ticket is for a different event.");
      case "forged":
        return localResult("forged", "The signature does not match: this ticket was not issued by us.");
    }
    const verified = checked.verdict === "genuine";
    let entry = both.found.entry;
    if (!entry) {
      if (!verified || !both.found.hash) return localResult("unknown", "Not on this phone’s ticket list.");
      // Genuine (our signature) but booked after the list was loaded: admit, the server checks on sync.
      entry = { id: null, h: both.found.hash, initials: claims.initials, type_id: claims.typeId, type: "",
                status: "valid", unpaid: false, checked_in_at: null, inside: false, late: true };
      keep(entry);
    } else if (entry.type_id !== claims.typeId) {
      return localResult("forged", "The signed details do not match any ticket.");
    }
    const result = judgeEntry(entry, direction, scannedAt);
    if (!verified) result.detail = (result.detail ? result.detail + " " : "") +
      "(This browser cannot check signatures: compare the name.)";
    if (entry.late && result.verdict === "admitted") {
      result.detail = "Booked after this phone’s list was loaded; the signature is genuine.";
    }
    return result;
  });
}

function judgeEntry(entry, direction, scannedAt) {
  const change = { id: entry.id === undefined ? null : entry.id, h: entry.h, verdict: null, at: scannedAt,
                   device: DEVICE };
  let result;
  if (entry.status === "cancelled") {
    result = localResult("cancelled", "This ticket was cancelled and is not valid.", entry);
  } else if (direction === "out") {
    change.verdict = entry.inside ? "checked_out" : "not_inside";
    result = localResult(change.verdict, "", entry);
  } else if (entry.unpaid) {
    result = localResult("unpaid", "Not paid yet: taking payment needs the network.", entry);
  } else if (!entry.checked_in_at) {
    change.verdict = "admitted";
  } else if (!entry.inside) {
    change.verdict = "readmitted";
  } else {
    result = localResult("already_checked_in", "", entry);
  }
  if (change.verdict) {
    applyLocal(change);
    result = result || localResult(change.verdict, "", entry);
  }
  result.change = change.verdict ? change : null;
  result.type_id = entry.type_id;
  return result;
}
