// Talking to the server: requests with a timeout (a dropping signal must not keep the gate waiting), and
// what the answers said about the connection and this phone's access.

import { CSRF } from "./page.js";

// down: the last request failed (navigator.onLine is often wrong on a phone with one bar of signal);
// lost: the server no longer lets this phone scan here (signed out, door link revoked).
export const link = { down: navigator.onLine === false, lost: false };

export function online() { return navigator.onLine !== false && !link.down; }

export function request(url, options, timeoutMs) {
  const controller = window.AbortController ? new AbortController() : null;
  const timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || 15000) : null;
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

export function postJSON(url, body, timeoutMs) {
  return request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": CSRF },
    body: JSON.stringify(body)
  }, timeoutMs);
}

export function getJSON(url, timeoutMs) {
  return request(url, { headers: { "Accept": "application/json" } }, timeoutMs);
}

export function isJSON(response) {
  return !response.redirected && (response.headers.get("content-type") || "").indexOf("application/json") === 0;
}

// A 401/403, or a redirect to the login page: this phone may no longer scan here (signed out, door link
// revoked). The caller stops admitting, offline too, until the page is reloaded.
export function lostAccess(response) {
  return response.status === 401 || response.status === 403 ||
    (response.ok && response.redirected && /\/login/.test(response.url));
}
