// The judge's scoring page when the phone reloads it offline: served as /judging/sw.js (scope /judging/),
// registered by judge.js only. judging/score_pages.py explains what is kept, and why.
// Network first; the cache answers only when the network fails. Never POSTs, JSON or other pages.
var CACHE = "denhub-judge", ASSETS = ["/static/css/judge.css", "/static/js/judge.js"];

// The cache key of a scoring page: one per competition, since judge.js moves between entrants with
// history.replaceState and the phone may reload any of them (judge.js shows the entrant in the address).
// Not the plain page (?plain=1, without judge.js): it must never replace the scripted copy.
function pageKey(url) {
  var m = !url.search && /^\/judging\/(\d+)\/entrants\/\d+$/.exec(url.pathname);
  return m && url.origin + "/judging/" + m[1] + "/entrants/";
}

function keep(key, response) {
  if (response.ok && response.type === "basic" && !response.redirected) {
    var copy = response.clone();
    return caches.open(CACHE).then(function (c) { return c.put(key, copy); });
  }
}

self.addEventListener("install", function (event) {
  // The page that registered this worker loaded before it: fetch it again, once, so that a reload works
  // offline from the first visit.
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(ASSETS); }).then(function () {
    return self.clients.matchAll({ type: "window", includeUncontrolled: true });
  }).then(function (open) {
    return Promise.all(open.map(function (client) {
      var key = pageKey(new URL(client.url));
      return key && fetch(client.url, { credentials: "same-origin" }).then(function (r) { return keep(key, r); })
        .catch(function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (request.method !== "GET") {
    // Someone signs in on this phone (magic link): the last judge's page goes.
    if (request.mode === "navigate" && url.pathname.indexOf("/judging/magic/") === 0) {
      event.waitUntil(caches.delete(CACHE));
    }
    return; // POSTs go to the network, untouched: never cached, never answered from the cache
  }
  var navigate = request.mode === "navigate";
  var key = navigate ? pageKey(url) : ASSETS.indexOf(url.pathname) >= 0 && url.origin + url.pathname;
  if (!key) return;
  var done;
  event.waitUntil(new Promise(function (resolve) { done = resolve; }));
  event.respondWith(fetch(request).then(function (response) {
    // Signed out, or not this judge's: forget the page. Otherwise keep the fresh copy.
    var signedOut = navigate && (response.type === "opaqueredirect" || response.status === 401 || response.status === 403);
    done(signedOut ? caches.delete(CACHE) : keep(key, response));
    return response;
  }, function (error) {
    done();
    return caches.match(key, { cacheName: CACHE, ignoreVary: true }).then(function (hit) {
      if (hit) return hit;
      throw error;
    });
  }));
});
