// The judge's phone: every entrant on one page; each change kept on the phone (localStorage) until the
// server has it, resent on the online event and every 10 s. judging/score_pages.py explains. A module:
// its own scope, strict, deferred; a browser too old for modules keeps the plain forms.
var app = document.getElementById("judge-app"), source = document.getElementById("judge-data");
var store = window.localStorage, data = null;
try {
  if (app && source && window.fetch && history.replaceState) {
    data = JSON.parse(source.textContent);
    store.setItem("denhub:probe", "1");
    store.removeItem("denhub:probe");
  }
} catch (e) { data = null; } // no storage (private browsing): the plain forms work
var base, key, list, byId = {}, problem = {}, waiting = {}, online = navigator.onLine !== false;
var current, busy = false, note = "", shownOff, typing, pause;

function kept(id) { try { return JSON.parse(store.getItem(key + id)); } catch (e) { return null; } }

function h(tag, attrs, kids) {
  var n = document.createElement(tag);
  for (var k in attrs) {
    var v = attrs[k];
    if (v === false || v == null) continue;
    if (k === "text") n.textContent = v;
    else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  (kids || []).forEach(function (c) { if (c) n.appendChild(c); });
  return n;
}

function locked(e) {
  var p = kept(e.id);
  return data.closed || !!e.conflict || (p ? p.action === "submit" : e.status === "submitted");
}

// [css class, words]: where an entrant's scores are.
function state(e) {
  var p = kept(e.id);
  if (e.conflict) return ["none", "Conflict declared"];
  if (p && problem[e.id]) return ["error", "Not synced: " + problem[e.id]];
  if (p) return ["local", (p.action === "submit" ? "Submitted, " : "Draft ") + "saved on this phone — not synced" +
    (waiting[e.id] ? " (sent once the pitch starts)" : "")];
  if (e.status === "submitted") return ["ok", "Submitted — synced"];
  if (e.status === "draft") return ["ok", "Draft — synced"];
  return ["none", e.open ? "Not scored yet" : "Pitch not started"];
}

function notice(e) {
  var lock = locked(e);
  return e.conflict ? "You declared a conflict of interest (“" + e.conflict + "”): you do not score them."
    : data.closed ? "Scoring has closed."
    : kept(e.id) && lock ? "Submitted on this phone; sent when the network allows."
    : lock ? "Submitted: your scores are locked. Ask the organiser to change one."
    : !e.open && online ? "Scoring opens when the pitch starts: this form opens by itself."
    : !e.open ? "Offline: if the pitch has started, score now; your scores are sent once it has." : "";
}

function refresh() {
  [].forEach.call(app.querySelectorAll("[data-entrant]"), function (n) {
    var s = state(byId[n.getAttribute("data-entrant")]);
    n.className = "sync sync-" + s[0];
    n.textContent = s[1];
  });
  var bar = document.getElementById("net"), box = document.getElementById("notice");
  if (bar) bar.hidden = online;
  if (box) { box.textContent = notice(byId[current]); box.hidden = !box.textContent; }
}

function chosen(form) {
  var out = {};
  data.criteria.forEach(function (c) {
    var v = form.querySelector("input[name=c" + c.id + "]:checked");
    if (v) out[c.id] = +v.value;
  });
  return out;
}

function remember(e, form, action) {
  var before = kept(e.id);
  // A change arriving after the sheet was submitted and synced (a typing pause that ended late) is not a
  // draft to send: the server would refuse it as locked.
  if (!before && action === "save" && e.status === "submitted") return;
  store.setItem(key + e.id, JSON.stringify({ values: chosen(form), feedback: form.elements.feedback.value,
    note: form.elements.private_note.value, action: before && before.action === "submit" ? "submit" : action, at: Date.now() }));
  delete problem[e.id];
  refresh();
}

// What a phone kept before the two boxes existed has "comment": the one box the feedback pack printed.
function feedbackOf(p) { return p.feedback != null ? p.feedback : p.comment || ""; }

// A labelled text box with a line saying who reads it; returns the textarea (inside its field).
function box(name, label, who, rows, off, value) {
  var area = h("textarea", { id: name, name: name, rows: rows, maxlength: 4000, disabled: off,
    "aria-describedby": name + "-who" });
  area.value = value || "";
  h("div", { "class": "field" }, [h("label", { "for": name, text: label + " (optional)" }),
    h("p", { "class": "hint", id: name + "-who", text: who }), area]);
  return area;
}

function link(e, rel, text) {
  return h("a", { href: base + "/entrants/" + e.id, rel: rel, text: text,
    onclick: function (ev) { ev.preventDefault(); go(e.id); } });
}

function render() {
  var e = byId[current], i = list.indexOf(e), p = kept(e.id), lock = locked(e);
  var off = shownOff = lock || !e.open && online, vals = p ? p.values : e.values;
  var form = h("form", { "class": "score-form", onsubmit: function (ev) { ev.preventDefault(); } });
  data.criteria.forEach(function (c) {
    var scale = h("div", { "class": "scale" });
    for (var v = c.min; v <= c.max; v++) {
      var id = "e" + e.id + "c" + c.id + "-" + v;
      scale.appendChild(h("input", { type: "radio", id: id, name: "c" + c.id, value: v, checked: vals[c.id] === v }));
      scale.appendChild(h("label", { "for": id, text: v }));
    }
    form.appendChild(h("fieldset", { "class": "criterion", disabled: off }, [h("legend", { text: c.name }),
      c.hint && h("p", { "class": "hint", text: c.hint }), scale, h("p", { "class": "scale-ends" },
        [h("span", { text: c.min + " weak" }), h("span", { text: c.max + " outstanding" })])]));
  });
  // Two boxes, labelled with who reads them (as templates/judging/score.html): the feedback pack prints the
  // first for the entrant; the second stays with the organisers.
  var area = box("feedback", "Feedback for the entrant",
    "The entrant sees this: it is printed in their feedback pack, without your name.", 3, off,
    p ? feedbackOf(p) : e.feedback);
  var noteArea = box("private_note", "Private note for the organisers",
    "Only the organisers see this. It is never shown or printed for the entrant.", 2, off,
    p ? p.note : e.private_note);
  form.appendChild(area.parentNode);
  form.appendChild(noteArea.parentNode);
  var error = h("p", { "class": "flash flash-error", role: "alert", hidden: true });
  if (!off) {
    form.appendChild(error);
    // No "Save draft" button: every change is saved as it is made.
    form.appendChild(h("div", { "class": "score-actions" }, [
      h("button", { "class": "button", type: "button", text: "Submit scores",
        onclick: function () {
          var missing = data.criteria.filter(function (c) { return chosen(form)[c.id] == null; });
          if (missing.length) {
            error.textContent = "Score every criterion first. Still to score: " +
              missing.map(function (c) { return c.name; }).join(", ") + ".";
            error.hidden = false;
            return;
          }
          clearTimeout(typing); // the texts' pending save is part of this submit
          remember(e, form, "submit");
          var next = list.slice(i + 1).concat(list.slice(0, i)).filter(function (x) { return !locked(x); })[0];
          note = e.enterprise + ": scores submitted." + (next ? " Next: " + next.enterprise + "." : "");
          sync();
          go(next ? next.id : e.id);
        } })]));
    form.appendChild(h("p", { "class": "hint", text: "Each change is saved as you make it. Submitting locks your scores." }));
    form.addEventListener("change", function () { remember(e, form, "save"); soon(); });
    [area, noteArea].forEach(function (a) {
      a.addEventListener("input", function () {
        clearTimeout(typing);
        typing = setTimeout(function () { remember(e, form, "save"); soon(); }, 600);
      });
    });
  }
  var all = h("ol", { "class": "judging-list" });
  list.forEach(function (x) {
    var a = link(x);
    a.className = "judging-list-link";
    if (x === e) a.setAttribute("aria-current", "page");
    a.appendChild(h("span", { text: x.enterprise }));
    a.appendChild(h("span", { "data-entrant": x.id }));
    all.appendChild(h("li", {}, [a]));
  });
  app.textContent = "";
  [h("p", { id: "net", "class": "flash flash-warning", role: "status",
      text: "Offline: your scores are kept on this phone and sent when the network is back." }),
    note && h("p", { "class": "flash", role: "status", text: note }),
    h("nav", { "class": "score-nav", "aria-label": "Entrants" }, [
      i > 0 ? link(list[i - 1], "prev", "← " + list[i - 1].enterprise) : h("span"),
      h("a", { href: base, "class": "score-nav-all", text: i + 1 + " of " + list.length }),
      i + 1 < list.length ? link(list[i + 1], "next", list[i + 1].enterprise + " →") : h("span")]),
    h("header", { "class": "score-head" }, [h("p", { "class": "muted", text: "Pitch " + (i + 1) }),
      h("h1", { text: e.enterprise }), h("p", { "class": "score-who", text: e.name }),
      h("p", { "class": "score-pitch", text: e.pitch }), e.mission && h("details", { "class": "score-mission" },
        [h("summary", { text: "Social mission" }), h("p", { text: e.mission })])]),
    h("p", { "class": "sync-line", role: "status" }, [h("span", { "data-entrant": e.id })]),
    h("div", { id: "notice", "class": "flash flash-warning", role: "status" }),
    !e.conflict && form,
    !lock && h("p", { "class": "conflict-box" }, [h("a", { href: base + "/entrants/" + e.id + "?plain=1#conflict",
      text: "Declare a conflict of interest" })]),
    h("h2", { text: "All entrants" }), all
  ].forEach(function (n) { if (n) app.appendChild(n); });
  note = "";
  refresh();
}

function go(id) {
  current = id;
  history.replaceState(null, "", base + "/entrants/" + id);
  render();
  scrollTo(0, 0);
}

// Draw the form again only when it turns on or off, never under a judge's thumb.
function redraw() {
  var e = byId[current];
  if ((locked(e) || !e.open && online) !== shownOff) render(); else refresh();
}

function setOnline(value) {
  if (online !== value) { online = value; redraw(); }
}

function soon() { clearTimeout(pause); pause = setTimeout(sync, 800); }

function send(id) {
  var p = kept(id);
  return fetch(base + "/entrants/" + id, { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf },
    body: JSON.stringify({ values: p.values, feedback: feedbackOf(p), private_note: p.note || "", action: p.action })
  }).then(function (r) {
    return r.json().then(function (body) { return [r.status, body]; }, function () { return [r.status]; });
  }).then(function (answer) {
    var e = byId[id], body = answer[1], now = kept(id);
    if (body && body.ok) {
      e.values = body.values; e.feedback = body.feedback; e.private_note = body.private_note;
      e.status = body.status; e.open = true;
      delete waiting[id];
      if (now && now.at === p.at) store.removeItem(key + id); // unchanged while it was on its way
    } else if (body && body.code === "not_started") {
      waiting[id] = true; e.open = false;
    } else if (body) {
      problem[id] = body.error; // refused for good (locked, conflict...): say so, stop retrying
    } else if (answer[0] === 403) {
      problem[id] = "you are signed out. Sign in again: your scores stay on this phone.";
    } // a server error: kept, and tried again later
  });
}

function sync() {
  var ids = list.filter(function (e) { return kept(e.id) && !problem[e.id]; });
  if (busy || !ids.length) return;
  busy = true;
  ids.reduce(function (chain, e) { return chain.then(function () { return send(e.id); }); }, Promise.resolve())
    .then(function () { busy = false; online = true; redraw(); }, function () { busy = false; setOnline(false); });
}

function poll() {
  if (document.hidden) return;
  fetch(base + "/state.json", { credentials: "same-origin" }).then(function (r) {
    return r.ok && !r.redirected ? r.json() : null;
  }).then(function (s) {
    if (s) {
      data.closed = s.closed;
      s.entrants.forEach(function (x) {
        var e = byId[x.id];
        if (!e) return;
        e.open = x.open;
        if (x.status === "conflict") e.conflict = e.conflict || "declared";
        else e.status = x.status;
      });
    }
    online = true;
    redraw();
    sync();
  }, function () { setOnline(false); });
}

if (data) {
  base = "/judging/" + data.competition;
  key = "denhub:judge:" + data.judge + ":" + data.competition + ":";
  list = data.entrants;
  list.forEach(function (e) { byId[e.id] = e; });
  var at = location.pathname.split("/")[4]; // judge-sw.js's copy may be another entrant's
  current = byId[at] ? +at : data.current;
  addEventListener("online", function () { setOnline(true); poll(); });
  addEventListener("offline", function () { setOnline(false); });
  setInterval(sync, 10000);
  setInterval(poll, 15000);
  render();
  sync();
  try { // offline reloads (judge-sw.js); signing out drops its copy
    navigator.serviceWorker.register("/judging/sw.js").catch(function () {});
    addEventListener("submit", function (ev) {
      if (ev.target.getAttribute("action") === "/logout") caches.delete("denhub-judge");
    });
  } catch (e) {}
}
