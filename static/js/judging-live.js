// Live scoring view: fetch the grid again every few seconds and swap it in. The page works without this
// (it reloads itself every 15 s from a <noscript> refresh). Skips a refresh while the organiser is typing
// an unlock reason or has an unlock box open, so nothing they are doing disappears.
(function () {
  "use strict";
  var box = document.getElementById("live-table");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-refresh-url");
  var busy = false;
  var status = document.getElementById("live-status");

  // The summary line without its time stamp: "3 of 6 sheets submitted · 1 draft · 0 conflicts".
  function summary() {
    var line = box.querySelector(".live-summary");
    if (!line) return "";
    var copy = line.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll(".muted"), function (n) { n.remove(); });
    return copy.textContent.replace(/\s+/g, " ").replace(/[\s·]+$/, "").trim();
  }
  var said = summary();

  function interacting() {
    return box.contains(document.activeElement) && document.activeElement !== box ||
      box.querySelector("details[open]") !== null;
  }

  function refresh() {
    if (busy || document.hidden || interacting()) return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (response) {
        // A signed-out session is redirected to the login page: never swap that into the table.
        if (!response.ok || response.redirected) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (!interacting()) box.innerHTML = html;
        box.removeAttribute("data-stale");
        var now = summary();
        if (status && now && now !== said) status.textContent = "Updated: " + now + ".";
        said = now;
      })
      .catch(function () { box.setAttribute("data-stale", "true"); })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, 5000);
})();
