// Host screen: the pitch countdown, and a poll that keeps the vote count fresh and reloads the page when
// another device moved the night on (next entrant, pitch started, vote opened or closed). Without this
// script the page shows when the pitch ends and reloads itself every 20 s (a <noscript> refresh).
(function () {
  "use strict";
  var host = document.querySelector("[data-host]");
  if (!host) return;
  var clock = document.getElementById("countdown");
  // The server's clock decides: a laptop a minute out must not cut a pitch short.
  var skew = Date.parse(host.getAttribute("data-now")) - Date.now();
  var endsAt = clock ? Date.parse(clock.getAttribute("data-ends-at")) : NaN;

  function tick() {
    if (isNaN(endsAt)) return;
    var left = Math.ceil((endsAt - (Date.now() + skew)) / 1000);
    if (left <= 0) {
      clock.textContent = "Time’s up";
      clock.className = "countdown countdown-over";
      return;
    }
    var seconds = left % 60;
    clock.textContent = Math.floor(left / 60) + ":" + (seconds < 10 ? "0" : "") + seconds;
    if (left <= 30) clock.className = "countdown countdown-last";
  }

  // Once the host has pressed a button here, that press's page is on its way: a poll that sees the night
  // moved (by this very press) must not reload over it, which would abort the press's navigation.
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; });

  function poll() {
    if (leaving || document.hidden || !window.fetch) return;
    fetch(host.getAttribute("data-state-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (s) {
        if (String(s.current || "") !== host.getAttribute("data-current") ||
            String(s.voting_open) !== host.getAttribute("data-voting") ||
            (s.ends_at || "") !== host.getAttribute("data-ends-at")) {
          if (!leaving) window.location.reload();
          return;
        }
        var top = 1;
        Object.keys(s.votes).forEach(function (id) { top = Math.max(top, s.votes[id]); });
        Object.keys(s.votes).forEach(function (id) {
          var count = document.getElementById("votes-" + id);
          var meter = document.getElementById("meter-" + id);
          if (count) count.textContent = s.votes[id];
          if (meter) { meter.max = top; meter.value = s.votes[id]; }
        });
        var total = document.getElementById("votes-total");
        if (total) total.textContent = s.total_votes;
      })
      .catch(function () { /* the next poll tries again */ });
  }

  tick();
  window.setInterval(tick, 250);
  window.setInterval(poll, 4000);
})();
