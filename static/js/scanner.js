// Door scanner. The page works without this script (the form posts and the server renders the verdict);
// this adds, on a phone at the gate:
// - the camera: the browser's BarcodeDetector when it reads QR codes, else the vendored zxing-wasm decoder
//   (static/vendor/zxing-wasm, its .wasm served from /static, never a CDN); the same code seen again within
//   2 s is ignored, so a QR held in front of the lens is scanned once;
// - the text field for keyboard-wedge scanners and typed codes (Enter submits; cleared and refocused);
// - big coloured verdicts with a beep (one high: in; two low: look again) and a vibration;
// - offline admission: the ticket list and the event's Ed25519 public key (the manifest) are kept in
//   localStorage; with no network the QR signature is checked with WebCrypto and the ticket looked up in the
//   list, the scan is queued with a client_scan_id (this phone's id + a counter), and the queue is sent to
//   /sync when the network is back (replays are harmless on the server);
// - live counts, polled every 5 s while online.
(function () {
  "use strict";

  var root = document.getElementById("scanner");
  if (!root || !window.fetch || !window.Promise || !window.JSON) return;

  var EVENT_ID = Number(root.getAttribute("data-event-id"));
  var CSRF = root.getAttribute("data-csrf") || "";
  var DEVICE = (root.getAttribute("data-device") || "door").slice(0, 64);
  var BASE = "/door/events/" + EVENT_ID;
  var WASM_DIR = "/static/vendor/zxing-wasm/";
  var DEBOUNCE_MS = 2000;
  var SCAN_TIMEOUT_MS = 3500;  // a dropping signal must not keep a queue waiting at the gate
  var POLL_MS = 5000;
  var MANIFEST_REFRESH_MS = 60000;
  var MANIFEST_KEEP_MS = 2 * 24 * 3600 * 1000;  // attendees' names stay on a phone no longer than this
  var SYNC_BATCH = 200;  // the server takes up to 500
  var MAX_SCAN_CHARS = 512;
  var PLAIN_CODE_RE = /^[A-Za-z0-9_-]{6,40}$/;
  var TICKET_CODE_RE = /^[A-Za-z0-9_-]{1,40}$/;
  var B64URL_RE = /^[A-Za-z0-9_-]*$/;
  var OK_VERDICTS = { admitted: 1, readmitted: 1, checked_out: 1 };
  var HEADLINES = {
    admitted: "Admitted", readmitted: "Re-entry: admitted", already_checked_in: "Already checked in",
    cancelled: "Cancelled ticket", unpaid: "Not paid yet", wrong_event: "Wrong event",
    unknown: "Not a valid ticket", forged: "Forged ticket", checked_out: "Checked out",
    not_inside: "Not checked in", late: "Late sync: not counted", rejected: "Refused",
    error: "Cannot check tickets"
  };
  // Verdicts drawn as another's colours: a late sync as a duplicate, a refusal as an error.
  var VERDICT_STYLE = { late: "already_checked_in", rejected: "error" };
  var KEYS = {
    deviceId: "denhub.door.device-id",
    counter: "denhub.door.scan-counter",
    manifest: "denhub.door.manifest." + EVENT_ID,
    queue: "denhub.door.queue." + EVENT_ID
  };

  var els = {
    verdict: document.getElementById("verdict"),
    net: document.getElementById("net-status"),
    queue: document.getElementById("queue-status"),
    counts: document.querySelector("#counts tbody"),
    form: document.getElementById("scan-form"),
    text: document.getElementById("scan-text"),
    camera: document.getElementById("camera"),
    cameraView: document.getElementById("camera-view"),
    video: document.getElementById("camera-video"),
    cameraNote: document.getElementById("camera-note"),
    cameraToggle: document.getElementById("camera-toggle")
  };

  // --- storage ------------------------------------------------------------------------------------
  var store = {
    get: function (key, fallback) {
      try {
        var raw = window.localStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) { return fallback; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, JSON.stringify(value)); return true; } catch (e) { return false; }
    }
  };

  function randomId() {
    var bytes = new Uint8Array(6);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b % 36).toString(36); }).join("");
  }

  var deviceId = store.get(KEYS.deviceId, null);
  if (typeof deviceId !== "string" || !/^[a-z0-9]{4,16}$/.test(deviceId)) {
    deviceId = randomId();
    store.set(KEYS.deviceId, deviceId);
  }

  function nextScanId() {
    // Kept across reloads and events so an id is never reused on this phone.
    var n = Number(store.get(KEYS.counter, 0)) || 0;
    n += 1;
    store.set(KEYS.counter, n);
    return "d-" + deviceId + "-" + n;
  }

  // --- state --------------------------------------------------------------------------------------
  var manifest = null;          // {public_key, generated_at, tickets: [...]}
  var tickets = new Map();      // code -> manifest entry (updated by every verdict this phone sees)
  var publicKey = null;         // Promise<CryptoKey|null>
  var queue = store.get(KEYS.queue, []);
  if (!Array.isArray(queue)) queue = [];
  var serverCounts = null;      // the last counts from the server (the page's own table until then)
  var netDown = navigator.onLine === false;
  var authLost = false;
  var syncing = false;
  var lastSync = null;          // {at, count, problems}
  var chain = Promise.resolve();  // scans are judged one at a time, in order

  function online() { return navigator.onLine !== false && !netDown; }

  // --- time and text ------------------------------------------------------------------------------
  var timeFormat = (function () {
    try {
      return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/London" });
    } catch (e) {
      return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
    }
  })();

  function hhmm(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : timeFormat.format(d);
  }

  function pence(p) {
    return "£" + (Number(p || 0) / 100).toFixed(2);
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // --- network helpers ----------------------------------------------------------------------------
  function request(url, options, timeoutMs) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || 15000) : null;
    options = options || {};
    options.credentials = "same-origin";
    options.cache = "no-store";
    if (controller) options.signal = controller.signal;
    return fetch(url, options).then(function (response) {
      if (timer) clearTimeout(timer);
      return response;
    }, function (error) {
      if (timer) clearTimeout(timer);
      throw error;
    });
  }

  function postJSON(url, body, timeoutMs) {
    return request(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify(body)
    }, timeoutMs);
  }

  function isJSON(response) {
    return !response.redirected && (response.headers.get("content-type") || "").indexOf("application/json") === 0;
  }

  // A 401/403, or a redirect to the login page: this phone may no longer scan here (signed out, door link
  // revoked). Stop admitting, offline too, until the page is reloaded.
  function lostAccess(response) {
    return response.status === 401 || response.status === 403 ||
      (response.ok && response.redirected && /\/login/.test(response.url));
  }

  function markDown() {
    if (!netDown) { netDown = true; renderStatus(); }
  }

  function markUp() {
    if (netDown) { netDown = false; renderStatus(); }
  }

  function handleLostAccess() {
    authLost = true;
    // The ticket list names every attendee: a phone that may no longer scan here does not keep it.
    try { window.localStorage.removeItem(KEYS.manifest); } catch (e) { /* storage unavailable */ }
    manifest = null;
    tickets = new Map();
    stopCamera();
    show({ verdict: "error", ok: false, headline: HEADLINES.error,
           detail: "This phone is no longer signed in for this door (signed out, or the door link was revoked). " +
                   "Reload the page, or ask the organiser." });
    renderStatus();
  }

  // --- manifest (offline ticket list) -------------------------------------------------------------
  function indexManifest(m) {
    manifest = m;
    tickets = new Map();
    (m.tickets || []).forEach(function (t) { tickets.set(t.code, t); });
    publicKey = null;
    // Scans made on this phone and not yet synced still count when a newer list arrives.
    queue.forEach(function (item) { if (item.local) applyLocal(item.local); });
  }

  function saveManifest() {
    if (!manifest) return;
    manifest.tickets = Array.from(tickets.values());
    if (!store.set(KEYS.manifest, manifest)) {
      renderStatus("Could not keep the ticket list on this phone (storage full?)");
    }
  }

  var saveTimer = null;
  function saveManifestSoon() {
    if (saveTimer) return;
    saveTimer = setTimeout(function () { saveTimer = null; saveManifest(); }, 800);
  }

  function loadManifest() {
    return request(BASE + "/manifest", { headers: { "Accept": "application/json" } }, 20000)
      .then(function (response) {
        if (lostAccess(response)) { handleLostAccess(); return; }
        if (!response.ok || !isJSON(response)) return;
        return response.json().then(function (m) {
          if (!m || m.event_id !== EVENT_ID || !Array.isArray(m.tickets)) return;
          m.loaded_at = new Date().toISOString();
          indexManifest(m);
          saveManifest();
          markUp();
          renderStatus();
        });
      })
      .catch(function () { markDown(); });
  }

  function b64urlDecode(text) {
    if (!B64URL_RE.test(text) || text.length % 4 === 1) return null;
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var binary;
    try { binary = window.atob(b64); } catch (e) { return null; }
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    // Canonical only, as the server insists: re-encoding gives back the same text.
    var again = window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    return again === text ? bytes : null;
  }

  function getPublicKey() {
    if (publicKey) return publicKey;
    var raw = manifest && b64urlDecode(manifest.public_key || "");
    if (!raw || raw.length !== 32 || !window.crypto || !window.crypto.subtle) {
      publicKey = Promise.resolve(null);
    } else {
      publicKey = window.crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"])
        .catch(function () { return null; });  // a browser without Ed25519 in WebCrypto
    }
    return publicKey;
  }

  // The claims of a "DH1.<claims>.<signature>" payload, checked as ticketing/signing.py does, or null.
  function parsePayload(text) {
    if (!/^[\x20-\x7e]+$/.test(text)) return null;
    var parts = text.split(".");
    if (parts.length !== 3 || parts[0] !== "DH1") return null;
    var claimsBytes = b64urlDecode(parts[1]);
    var signature = b64urlDecode(parts[2]);
    if (!claimsBytes || !signature || signature.length !== 64) return null;
    var claims;
    try {
      claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(claimsBytes));
    } catch (e) { return null; }
    if (!Array.isArray(claims) || claims.length !== 4) return null;
    var code = claims[0], eventId = claims[1], typeId = claims[2], initials = claims[3];
    if (typeof code !== "string" || !TICKET_CODE_RE.test(code)) return null;
    if (!Number.isSafeInteger(eventId) || eventId < 1 || !Number.isSafeInteger(typeId) || typeId < 1) return null;
    if (typeof initials !== "string" || !initials.length) return null;
    return { code: code, eventId: eventId, typeId: typeId, initials: initials, signature: signature,
             signed: new TextEncoder().encode(parts[0] + "." + parts[1]) };
  }

  function verifySignature(claims) {
    return getPublicKey().then(function (key) {
      if (!key) return null;  // cannot check here: say so on the verdict
      return window.crypto.subtle.verify({ name: "Ed25519" }, key, claims.signature, claims.signed)
        .catch(function () { return false; });
    });
  }

  function ticketJSON(entry) {
    return { code: entry.code, name: entry.name || "", type: entry.type || "", tier: entry.tier_label || "",
             unpaid: !!entry.unpaid, price_pence: entry.price_pence || 0 };
  }

  function localResult(verdict, detail, entry, extra) {
    var result = { verdict: verdict, ok: !!OK_VERDICTS[verdict], headline: HEADLINES[verdict], detail: detail || "",
                   ticket: entry ? ticketJSON(entry) : null, local: true,
                   first_checked_in_at: entry ? entry.checked_in_at || null : null,
                   first_device: entry ? entry.checked_in_device || "" : "",
                   first_gate: entry ? entry.checked_in_gate || "" : "" };
    if (extra) Object.keys(extra).forEach(function (k) { result[k] = extra[k]; });
    return result;
  }

  // Decide a scan on this phone, as ticketing/checkin.py would, from the kept list.
  function decideLocally(text, direction, scannedAt) {
    text = text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
    if (!text) return Promise.resolve(localResult("unknown", "Nothing readable was scanned."));
    if (text.length > MAX_SCAN_CHARS) return Promise.resolve(localResult("unknown", "The code is too long."));
    if (!manifest) {
      return Promise.resolve(localResult("error", "No network, and this phone has no ticket list yet. " +
        "Write the code down, or find a signal and reload the page."));
    }
    if (text.indexOf("DH1.") === 0) {
      var claims = parsePayload(text);
      if (!claims) return Promise.resolve(localResult("unknown", "This QR code is damaged or not one of our tickets."));
      if (claims.eventId !== EVENT_ID) {
        return Promise.resolve(localResult("wrong_event", "This ticket is for a different event."));
      }
      return verifySignature(claims).then(function (verified) {
        if (verified === false) {
          return localResult("forged", "The signature does not match: this ticket was not issued by us.");
        }
        var entry = tickets.get(claims.code);
        if (!entry) {
          if (!verified) return localResult("unknown", "Not on this phone’s ticket list.");
          // Genuine (our signature) but booked after the list was loaded: admit, the server checks on sync.
          entry = { code: claims.code, name: claims.initials, type_id: claims.typeId, type: "", status: "valid",
                    unpaid: false, checked_in_at: null, inside: false, late: true };
          tickets.set(entry.code, entry);
        } else if (entry.type_id !== claims.typeId) {
          return localResult("forged", "The signed details do not match any ticket.");
        }
        var result = judgeEntry(entry, direction, scannedAt);
        if (verified === null) result.detail = (result.detail ? result.detail + " " : "") +
          "(This browser cannot check signatures: compare the name.)";
        if (entry.late && result.verdict === "admitted") {
          result.detail = "Booked after this phone’s list was loaded; the signature is genuine.";
        }
        return result;
      });
    }
    if (!PLAIN_CODE_RE.test(text)) return Promise.resolve(localResult("unknown", "That is not a ticket code."));
    var found = tickets.get(text);
    if (!found) return Promise.resolve(localResult("unknown", "No ticket has that code on this phone’s list."));
    return Promise.resolve(judgeEntry(found, direction, scannedAt));
  }

  function judgeEntry(entry, direction, scannedAt) {
    var change = { code: entry.code, verdict: null, at: scannedAt, device: DEVICE };
    var result;
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

  // The effect of a scan decided on this phone, on the kept list (again when a fresh list arrives).
  function applyLocal(change) {
    var entry = tickets.get(change.code);
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

  // What the server said about a ticket, on the kept list (so a later offline scan knows).
  function applyServer(result) {
    var t = result && result.ticket;
    if (!t || !t.code) return;
    var entry = tickets.get(t.code);
    if (!entry) {
      entry = { code: t.code, name: t.name, type: t.type, type_id: null, status: "valid" };
      tickets.set(t.code, entry);
    }
    entry.name = t.name || entry.name;
    entry.unpaid = !!t.unpaid;
    entry.price_pence = t.price_pence;
    if (result.first_checked_in_at) {
      entry.checked_in_at = result.first_checked_in_at;
      entry.checked_in_device = result.first_device || "";
      entry.checked_in_gate = result.first_gate || "";
    }
    var v = result.verdict;
    if (typeof result.inside === "boolean") {
      entry.inside = result.inside;  // the ticket as the server left it (a synced scan may be older than that)
    } else {
      if (v === "admitted" || v === "readmitted" || v === "already_checked_in") entry.inside = true;
      if (v === "checked_out" || v === "not_inside") entry.inside = false;
    }
    if (v === "cancelled") entry.status = "cancelled";
    if (manifest) saveManifestSoon();
  }

  // --- verdict display, sound, vibration ----------------------------------------------------------
  var audio = null;
  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) {
      try { audio = new Ctx(); } catch (e) { audio = null; }
    }
    if (audio && audio.state === "suspended") audio.resume().catch(function () {});
  }
  // Browsers let a page make sound only after a tap or a key press.
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio);

  function beep(ok) {
    if (!audio || audio.state !== "running") return;
    var tones = ok ? [[1320, 0, 0.16]] : [[220, 0, 0.18], [220, 0.26, 0.18]];
    var t0 = audio.currentTime + 0.01;
    tones.forEach(function (tone) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = ok ? "sine" : "square";
      osc.frequency.value = tone[0];
      var start = t0 + tone[1], end = start + tone[2];
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.35, start + 0.015);
      gain.gain.setValueAtTime(0.35, end - 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, end);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(start);
      osc.stop(end + 0.02);
    });
  }

  function buzz(ok) {
    if (navigator.vibrate) {
      try { navigator.vibrate(ok ? 120 : [220, 120, 220]); } catch (e) { /* not allowed yet */ }
    }
  }

  var shownScanId = null;  // the queued scan whose local verdict is on screen

  function show(result) {
    shownScanId = null;
    var box = els.verdict;
    var verdict = result.verdict || "unknown";
    box.className = "verdict verdict-" + verdict + (VERDICT_STYLE[verdict] ? " verdict-" + VERDICT_STYLE[verdict] : "") +
      (result.local ? " verdict-local" : "");
    box.textContent = "";
    box.appendChild(el("p", "verdict-headline", result.headline || HEADLINES[verdict] || verdict));
    var t = result.ticket;
    if (t) {
      if (t.name) box.appendChild(el("p", "verdict-name", t.name));
      var type = t.tier && t.tier !== t.type ? t.type + " · " + t.tier : t.type;
      if (type) box.appendChild(el("p", "verdict-type", type));
    }
    var detail = result.detail || "";
    if (verdict === "already_checked_in" && result.first_checked_in_at) {
      detail = "Already checked in at " + hhmm(result.first_checked_in_at) +
        (result.first_device ? " by " + result.first_device : "") +
        (result.first_gate ? " (" + result.first_gate + ")" : "");
    }
    if (detail) box.appendChild(el("p", "verdict-detail", detail));
    if (verdict === "unpaid" && t && t.code && !result.local) {
      var pay = el("button", "button button-pay", "Paid " + pence(t.price_pence) + ": mark paid and admit");
      pay.type = "button";
      pay.addEventListener("click", function () { payAndAdmit(t.code, pay); });
      var actions = el("div", "verdict-action");
      actions.appendChild(pay);
      box.appendChild(actions);
    }
    if (result.local) {
      box.appendChild(el("p", "verdict-note", "Decided on this phone (offline); it syncs when the network is back."));
    }
  }

  // The local verdict on screen was just synced: say so, and what the server made of it if that differs.
  function noteSynced(serverResult) {
    var note = els.verdict.querySelector(".verdict-note");
    if (!note) return;
    var text = "Decided on this phone while offline; now synced.";
    if (serverResult.verdict !== (els.verdict.className.match(/verdict-([a-z_]+)/) || [])[1]) {
      text += " The server says: " + (serverResult.headline || serverResult.verdict) + ".";
    }
    note.textContent = text;
  }

  function feedback(result) {
    beep(!!result.ok);
    buzz(!!result.ok);
  }

  // --- scanning -----------------------------------------------------------------------------------
  function judge(text, direction) {
    if (authLost) { handleLostAccess(); return Promise.resolve(); }
    var scan = { client_scan_id: nextScanId(), text: text.slice(0, MAX_SCAN_CHARS + 1), direction: direction,
                 device: DEVICE, gate: "", scanned_at: new Date().toISOString() };
    var viaServer = !online() ? Promise.resolve(null) :
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
          queue.push({ client_scan_id: scan.client_scan_id, text: scan.text, scanned_at: scan.scanned_at,
                       device: scan.device, gate: scan.gate, direction: direction, local: local.change,
                       type_id: local.type_id || null, verdict: local.verdict });
          store.set(KEYS.queue, queue);
          saveManifestSoon();
        }
        show(local);
        shownScanId = scan.client_scan_id;
        feedback(local);
        renderCounts();
        renderStatus();
      });
    }).catch(function (error) {
      show({ verdict: "error", ok: false, headline: HEADLINES.error, detail: String(error && error.message || error) });
    });
  }

  function submitScan(text, direction) {
    chain = chain.then(function () { return judge(text, direction); });
    return chain;
  }

  // A keyboard-wedge scanner types the code and presses Enter: the form's submit, handled here.
  var fineMouse = window.matchMedia && window.matchMedia("(pointer: fine)").matches;
  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var submitter = event.submitter;
    var direction = submitter && submitter.value === "out" ? "out" : "in";
    var text = els.text.value;
    els.text.value = "";
    els.text.focus();
    if (!text.trim()) return;
    submitScan(text, direction);
  });

  // --- camera -------------------------------------------------------------------------------------
  var stream = null;
  var cameraOn = false;
  var decodeFrame = null;   // Promise<function(video) -> Promise<string|null>>
  var lastSeen = { text: "", at: 0 };

  function cameraNote(text) {
    els.cameraNote.textContent = text || "";
    els.cameraNote.hidden = !text;
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function getDecoder() {
    if (decodeFrame) return decodeFrame;
    decodeFrame = nativeDecoder().then(function (native) { return native || wasmDecoder(); });
    decodeFrame.catch(function () { decodeFrame = null; });
    return decodeFrame;
  }

  function nativeDecoder() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") < 0) return null;
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return function (video) {
        return detector.detect(video).then(function (found) { return found.length ? found[0].rawValue : null; });
      };
    }).catch(function () { return null; });
  }

  function wasmDecoder() {
    return loadScript(WASM_DIR + "zxing-reader.js").then(function () {
      var zxing = window.ZXingWASM;
      return Promise.resolve(zxing.prepareZXingModule({
        overrides: {
          // Our own copy of the .wasm, never the library's default CDN.
          locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? WASM_DIR + path : prefix + path; }
        },
        fireImmediately: true
      })).then(function () {
        var canvas = document.createElement("canvas");
        var ctx = canvas.getContext("2d", { willReadFrequently: true });
        var options = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };
        return function (video) {
          var w = video.videoWidth, h = video.videoHeight;
          if (!w || !h) return Promise.resolve(null);
          var scale = Math.min(1, 800 / Math.max(w, h));
          canvas.width = Math.round(w * scale);
          canvas.height = Math.round(h * scale);
          ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
          return zxing.readBarcodes(image, options).then(function (found) {
            return found.length && found[0].isValid ? found[0].text : null;
          });
        };
      });
    });
  }

  function onCameraText(text) {
    var now = Date.now();
    // The same code seen within the last 2 s is the same ticket still held up: scan it once.
    if (text === lastSeen.text && now - lastSeen.at < DEBOUNCE_MS) {
      lastSeen.at = now;
      return;
    }
    lastSeen = { text: text, at: now };
    submitScan(text, "in");
    // On a phone, focusing the field would pop the on-screen keyboard over the camera; with a mouse
    // (a laptop with a wedge scanner) the field keeps the focus.
    if (fineMouse) els.text.focus();
  }

  function scanLoop() {
    if (!cameraOn) return;
    var next = function () { if (cameraOn) setTimeout(scanLoop, 120); };
    if (document.hidden || els.video.readyState < 2) { next(); return; }
    getDecoder().then(function (decode) { return decode(els.video); })
      .then(function (text) { if (text && cameraOn) onCameraText(text); }, function () { /* try the next frame */ })
      .then(next);
  }

  function startCamera() {
    els.camera.hidden = false;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      noCamera("This browser cannot use the camera here. Scan with a USB scanner or type the ticket code.");
      return;
    }
    cameraNote("Starting the camera…");
    els.cameraToggle.disabled = true;
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } }
    }).then(function (s) {
      stream = s;
      els.video.srcObject = s;
      return els.video.play().catch(function () { /* muted inline video plays; ignore a refusal */ });
    }).then(function () {
      cameraOn = true;
      lastSeen = { text: "", at: 0 };
      els.cameraView.hidden = false;
      els.cameraToggle.textContent = "Stop camera";
      els.cameraToggle.disabled = false;
      cameraNote("");
      getDecoder().catch(function () {
        noCamera("The QR reader could not load. Scan with a USB scanner or type the ticket code.");
      });
      scanLoop();
    }).catch(function (error) {
      var name = error && error.name;
      noCamera(name === "NotAllowedError" || name === "SecurityError"
        ? "The camera is blocked for this page. Allow it in the browser’s site settings, or scan with a USB " +
          "scanner or type the ticket code below."
        : "No camera found. Scan with a USB scanner or type the ticket code below.");
    });
  }

  function noCamera(message) {
    stopCamera();
    els.camera.hidden = false;
    els.cameraView.hidden = true;
    els.camera.classList.add("camera-off");
    cameraNote(message);
    els.cameraToggle.textContent = "Try the camera again";
    els.cameraToggle.disabled = false;
  }

  function stopCamera() {
    cameraOn = false;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    els.video.srcObject = null;
    els.cameraView.hidden = true;
    els.cameraToggle.textContent = "Start camera";
  }

  els.cameraToggle.addEventListener("click", function () {
    if (cameraOn) {
      stopCamera();
      cameraNote("Camera off.");
    } else {
      els.camera.classList.remove("camera-off");
      startCamera();
    }
  });

  // --- counts, queue and sync ---------------------------------------------------------------------
  function renderCounts() {
    if (!serverCounts || !els.counts) return;
    // The server's figures plus this phone's admissions still waiting to sync.
    var pending = {}, total = { in: 0, inside: 0 };
    queue.forEach(function (item) {
      var v = item.local && item.local.verdict;
      if (!v) return;
      var key = String(item.type_id);
      var p = pending[key] || (pending[key] = { in: 0, inside: 0 });
      var dIn = v === "admitted" ? 1 : 0, dInside = v === "checked_out" ? -1 : (v === "not_inside" ? 0 : 1);
      p.in += dIn; p.inside += dInside; total.in += dIn; total.inside += dInside;
    });
    els.counts.textContent = "";
    serverCounts.forEach(function (c) {
      var add = c.ticket_type_id === null ? total : pending[String(c.ticket_type_id)] || { in: 0, inside: 0 };
      var row = el("tr", c.ticket_type_id === null ? "total" : "");
      var th = el("th", "", c.name);
      th.scope = "row";
      row.appendChild(th);
      row.appendChild(el("td", "", (c.checked_in + add.in) + " / " + c.expected));
      row.appendChild(el("td", "", String(Math.max(0, c.inside + add.inside))));
      els.counts.appendChild(row);
    });
  }

  function setCounts(counts) {
    if (!Array.isArray(counts)) return;
    serverCounts = counts;
    renderCounts();
  }

  function pollCounts() {
    return request(BASE + "/counts", { headers: { "Accept": "application/json" } }, 8000)
      .then(function (response) {
        if (lostAccess(response)) { handleLostAccess(); return; }
        if (!response.ok || !isJSON(response)) return;
        return response.json().then(function (data) { markUp(); setCounts(data.counts); });
      }, function () { markDown(); });
  }

  function renderStatus(problem) {
    var waiting = queue.length;
    var list = manifest ? plural(tickets.size, "ticket", "tickets") + " kept for offline use" +
      (manifest.loaded_at ? " (list from " + hhmm(manifest.loaded_at) + ")" : "") : "no ticket list yet";
    var text;
    if (authLost) {
      text = "Not signed in for this door: reload the page.";
    } else if (!online()) {
      text = "Offline — " + plural(waiting, "scan", "scans") + " waiting. Checking tickets on this phone: " + list + ".";
    } else if (waiting) {
      text = "Online — syncing " + plural(waiting, "scan", "scans") + "…";
    } else {
      text = "Online · " + list + ".";
    }
    els.net.textContent = problem ? text + " " + problem : text;
    els.net.className = "scanner-status " + (authLost ? "status-error" : online() ? "status-online" : "status-offline");
    var q = "";
    if (waiting) {
      q = plural(waiting, "scan", "scans") + " waiting to sync.";
    } else if (lastSync) {
      q = "Synced " + plural(lastSync.count, "offline scan", "offline scans") + " at " + hhmm(lastSync.at) + ".";
      if (lastSync.problems.length) q += " " + lastSync.problems.join(" ");
    }
    els.queue.textContent = q;
  }

  var countsTimer = null;
  function countsSoon() {
    if (!countsTimer) countsTimer = setTimeout(function () { countsTimer = null; pollCounts(); }, 300);
  }

  var syncTimer = null;
  function syncSoon() {
    if (!syncTimer) syncTimer = setTimeout(function () { syncTimer = null; sync(); }, 200);
  }

  function sync() {
    if (syncing || !queue.length || authLost || navigator.onLine === false) return Promise.resolve();
    syncing = true;
    var batch = queue.slice(0, SYNC_BATCH);
    var progressed = false;
    var body = {
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
        var byId = {};
        (data.results || []).forEach(function (r) { if (r.client_scan_id) byId[r.client_scan_id] = r; });
        var problems = [];
        var done = {};
        batch.forEach(function (item) {
          var r = byId[item.client_scan_id];
          if (!r || r.retry) return;  // not recorded because of a fault on our side: stays queued
          done[item.client_scan_id] = true;
          applyServer(r);
          if (item.client_scan_id === shownScanId) noteSynced(r);
          // Told at the gate "admitted" but the server knows better (another gate was first, or the ticket
          // was cancelled meanwhile): worth a look.
          if (OK_VERDICTS[item.verdict] && !r.ok) {
            problems.push((r.ticket && r.ticket.name || "A ticket") + ": " + (r.headline || r.verdict) + ".");
          }
        });
        progressed = Object.keys(done).length > 0;
        queue = queue.filter(function (item) { return !done[item.client_scan_id]; });
        store.set(KEYS.queue, queue);
        lastSync = { at: new Date().toISOString(), count: Object.keys(done).length,
                     problems: problems.slice(0, 3) };
        setCounts(data.counts);
      });
    }, function () { markDown(); }).then(function () {
      syncing = false;
      renderStatus();
      // More to send: go on at once; after a refusal, the 5 s tick tries again.
      if (progressed && queue.length && online()) syncSoon();
    });
  }

  function payAndAdmit(code, button) {
    button.disabled = true;
    var body = new URLSearchParams();
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
        var refused = new Error("The payment was not recorded (error " + response.status + ").");
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

  // --- start --------------------------------------------------------------------------------------
  function tick() {
    if (authLost || document.hidden) return;
    if (navigator.onLine === false) { markDown(); return; }
    // pollCounts doubles as the probe that tells a dead network from a live one.
    pollCounts().then(function () {
      if (!online()) return;
      if (queue.length) sync();
      if (!manifest || Date.now() - Date.parse(manifest.loaded_at || 0) > MANIFEST_REFRESH_MS) loadManifest();
    });
  }

  window.addEventListener("online", function () { netDown = false; renderStatus(); tick(); });
  window.addEventListener("offline", function () { markDown(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });

  var kept = store.get(KEYS.manifest, null);
  var keptFor = kept && Date.now() - Date.parse(kept.loaded_at || 0);
  if (kept && kept.event_id === EVENT_ID && Array.isArray(kept.tickets) && keptFor < MANIFEST_KEEP_MS) {
    indexManifest(kept);
  } else if (kept) {
    try { window.localStorage.removeItem(KEYS.manifest); } catch (e) { /* storage unavailable */ }
  }
  renderStatus();
  loadManifest().then(function () { if (queue.length) sync(); });
  pollCounts();
  setInterval(tick, POLL_MS);
  startCamera();
  // The server-rendered verdict (a no-JS post, or pay-and-admit) stays until the next scan.
})();
