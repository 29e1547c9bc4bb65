// The scanner page as the server rendered it (templates/door/scanner.html): the event, the form's CSRF
// token, this door's name, and the elements the other modules draw in. Module scripts run once the page is
// parsed, so the elements are there.

export const root = document.getElementById("scanner");

function attribute(name) {
  return (root && root.getAttribute(name)) || "";
}

export const EVENT_ID = Number(attribute("data-event-id"));
export const CSRF = attribute("data-csrf");
export const DEVICE = (attribute("data-device") || "door").slice(0, 64);
export const BASE = "/door/events/" + EVENT_ID;

export const els = {
  verdict: document.getElementById("verdict"),
  net: document.getElementById("net-status"),
  queue: document.getElementById("queue-status"),
  counts: document.querySelector("#counts tbody"),
  form: document.getElementById("scan-form"),
  text: document.getElementById("scan-text"),
  search: document.getElementById("search-form"),
  searchText: document.getElementById("search-name"),
  camera: document.getElementById("camera"),
  cameraView: document.getElementById("camera-view"),
  video: document.getElementById("camera-video"),
  cameraNote: document.getElementById("camera-note"),
  cameraToggle: document.getElementById("camera-toggle")
};

// On a phone, focusing the text field pops the on-screen keyboard over the camera; with a mouse (a laptop
// with a wedge scanner) the field keeps the focus.
export const fineMouse = !!(window.matchMedia && window.matchMedia("(pointer: fine)").matches);
