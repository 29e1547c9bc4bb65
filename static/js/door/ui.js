// What the door staff see: the big verdict, the status line (online or not, the kept list, the queue) and
// the counts table (the server's figures plus this phone's scans waiting to sync).

import { els } from "./page.js";
import { link, online } from "./net.js";
import { manifest, tickets } from "./manifest.js";
import { lastSync, pendingCounts, queue } from "./queue.js";
import { HEADLINES } from "./decide.js";

// Verdicts drawn as another's colours: a late sync as a duplicate, a refusal as an error.
const VERDICT_STYLE = { late: "already_checked_in", rejected: "error" };

const timeFormat = (function () {
  try {
    return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/London" });
  } catch (e) {
    return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
  }
})();

function hhmm(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? "" : timeFormat.format(d);
}

function pence(p) {
  return "£" + (Number(p || 0) / 100).toFixed(2);
}

function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// --- the verdict ------------------------------------------------------------------------------------
let shownScanId = null;  // the queued scan whose local verdict is on screen
let payHandler = null;
let admitHandler = null;

// What the "Paid £x: mark paid and admit" button does (scan.js, which draws its answer here).
export function whenPayClicked(handler) { payHandler = handler; }
// What a found ticket's "Check in" button does (scan.js: a scan of that ticket by its id).
export function whenAdmitClicked(handler) { admitHandler = handler; }

function showMatches(box, matches) {
  const list = el("ul", "door-matches");
  matches.forEach(function (m) {
    const item = el("li", "door-match");
    item.appendChild(el("span", "door-match-name", m.name)).dir = "auto";
    item.appendChild(el("span", "door-match-type", m.tier && m.tier !== m.type ? m.type + " · " + m.tier : m.type));
    item.appendChild(el("span", "door-match-status", m.status));
    if (!m.cancelled) {
      const admit = el("button", "button", "Check in " + m.name);
      admit.type = "button";
      admit.addEventListener("click", function () { if (admitHandler) admitHandler(m.ticket_id, admit); });
      item.appendChild(admit);
    }
    list.appendChild(item);
  });
  box.appendChild(list);
}

// `scanId`: the queued scan this verdict was decided for on the phone, so that its sync can be noted.
export function show(result, scanId) {
  shownScanId = scanId || null;
  const box = els.verdict;
  const verdict = result.verdict || "unknown";
  box.className = "verdict verdict-" + verdict + (VERDICT_STYLE[verdict] ? " verdict-" + VERDICT_STYLE[verdict] : "") +
    (result.local ? " verdict-local" : "");
  box.textContent = "";
  box.appendChild(el("p", "verdict-headline", result.headline || HEADLINES[verdict] || verdict));
  const t = result.ticket;
  if (t) {
    // Offline, the kept list has the initials only (the QR's signed ones): the door compares those.
    if (t.name) box.appendChild(el("p", "verdict-name", t.name)).dir = "auto"; // an Urdu name reads right to left
    else if (t.initials) box.appendChild(el("p", "verdict-name verdict-initials", "Initials: " + t.initials));
    const type = t.tier && t.tier !== t.type ? t.type + " · " + t.tier : t.type;
    if (type) box.appendChild(el("p", "verdict-type", type));
  }
  let detail = result.detail || "";
  if (verdict === "already_checked_in" && result.first_checked_in_at) {
    detail = "Already checked in at " + hhmm(result.first_checked_in_at) +
      (result.first_device ? " by " + result.first_device : "") +
      (result.first_gate ? " (" + result.first_gate + ")" : "");
  }
  if (detail) box.appendChild(el("p", "verdict-detail", detail));
  if (Array.isArray(result.matches) && result.matches.length) showMatches(box, result.matches);
  // The amount is what the order still owes (ticketing/checkin.py): the server refuses any other.
  if (verdict === "unpaid" && t && t.id && result.amount_due_pence > 0 && !result.local) {
    const amount = result.amount_due_pence;
    const label = "Paid " + pence(amount) + (result.due_tickets > 1 ? " for " + result.due_tickets + " tickets" : "") +
      ": mark paid and admit";
    const pay = el("button", "button button-pay", label);
    pay.type = "button";
    pay.addEventListener("click", function () { if (payHandler) payHandler(t.id, amount, pay); });
    const actions = el("div", "verdict-action");
    actions.appendChild(pay);
    box.appendChild(actions);
  }
  if (result.local) {
    box.appendChild(el("p", "verdict-note", "Decided on this phone (offline); it syncs when the network is back."));
  }
}

// A queued scan was just synced: if its local verdict is on screen, say so, and what the server made of
// it if that differs.
export function noteSynced(scanId, serverResult) {
  if (scanId !== shownScanId) return;
  const note = els.verdict.querySelector(".verdict-note");
  if (!note) return;
  let text = "Decided on this phone while offline; now synced.";
  if (serverResult.verdict !== (els.verdict.className.match(/verdict-([a-z_]+)/) || [])[1]) {
    text += " The server says: " + (serverResult.headline || serverResult.verdict) + ".";
  }
  note.textContent = text;
}

// --- the counts -------------------------------------------------------------------------------------
let serverCounts = null;  // the last counts from the server (the page's own table until then)

export function renderCounts() {
  if (!serverCounts || !els.counts) return;
  const pending = pendingCounts();
  els.counts.textContent = "";
  serverCounts.forEach(function (c) {
    const add = c.ticket_type_id === null ? pending.total
      : pending.byType[String(c.ticket_type_id)] || { in: 0, inside: 0 };
    const row = el("tr", c.ticket_type_id === null ? "total" : "");
    const th = el("th", "", c.name);
    th.scope = "row";
    row.appendChild(th);
    row.appendChild(el("td", "", (c.checked_in + add.in) + " / " + c.expected));
    row.appendChild(el("td", "", String(Math.max(0, c.inside + add.inside))));
    els.counts.appendChild(row);
  });
}

export function setCounts(counts) {
  if (!Array.isArray(counts)) return;
  serverCounts = counts;
  renderCounts();
}

// --- the status line --------------------------------------------------------------------------------
export function renderStatus(problem) {
  const waiting = queue.length;
  const list = manifest ? plural(tickets.size, "ticket", "tickets") + " kept for offline use" +
    (manifest.loaded_at ? " (list from " + hhmm(manifest.loaded_at) + ")" : "") : "no ticket list yet";
  let text;
  if (link.lost) {
    text = "Not signed in for this door: reload the page.";
  } else if (!online()) {
    text = "Offline — " + plural(waiting, "scan", "scans") + " waiting. Checking tickets on this phone: " + list + ".";
  } else if (waiting) {
    text = "Online — syncing " + plural(waiting, "scan", "scans") + "…";
  } else {
    text = "Online · " + list + ".";
  }
  els.net.textContent = problem ? text + " " + problem : text;
  els.net.className = "scanner-status " + (link.lost ? "status-error" : online() ? "status-online" : "status-offline");
  let q = "";
  if (waiting) {
    q = plural(waiting, "scan", "scans") + " waiting to sync.";
  } else if (lastSync) {
    q = "Synced " + plural(lastSync.count, "offline scan", "offline scans") + " at " + hhmm(lastSync.at) + ".";
    if (lastSync.problems.length) q += " " + lastSync.problems.join(" ");
  }
  els.queue.textContent = q;
}
