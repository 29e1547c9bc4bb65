// The organiser's door page: the live counts refresh themselves from the scanner's counts endpoint
// (GET /door/events/{id}/counts, JSON), every 10 seconds while the page is visible. Without JavaScript the
// page shows the counts as they were when it loaded.
(function () {
  "use strict";
  var list = document.getElementById("door-counts");
  var url = list && list.getAttribute("data-counts-url");
  if (!url || !window.fetch) return;
  var POLL_MS = 10000;
  var busy = false;

  var shown = "";

  function render(counts) {
    var key = JSON.stringify(counts);
    if (key === shown) return;  // unchanged: leave the list (and anyone reading it) alone
    shown = key;
    var items = [];
    counts.forEach(function (c) {
      var li = document.createElement("li");
      if (c.ticket_type_id === null) li.className = "total";
      var name = document.createElement("strong");
      name.textContent = String(c.name);
      li.appendChild(name);
      li.appendChild(document.createTextNode(": " + c.checked_in + " / " + c.expected + " · " + c.inside + " inside"));
      items.push(li);
    });
    list.textContent = "";
    items.forEach(function (li) { list.appendChild(li); });
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) return null;
        return response.json();
      })
      .then(function (data) { if (data && Array.isArray(data.counts)) render(data.counts); })
      .catch(function () { /* offline for a moment: the next tick tries again */ })
      .then(function () { busy = false; });
  }

  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", poll);
})();
