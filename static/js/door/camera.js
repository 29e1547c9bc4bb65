// The camera: the browser's BarcodeDetector when it reads QR codes, else the vendored zxing-wasm decoder
// (static/vendor/zxing-wasm, its .wasm served from /static, never a CDN). The same code seen again within
// 2 s is ignored, so a QR held in front of the lens is scanned once.

import { els } from "./page.js";

const WASM_DIR = "/static/vendor/zxing-wasm/";
const DEBOUNCE_MS = 2000;

let stream = null;
let cameraOn = false;
let decodeFrame = null;   // Promise<function(video) -> Promise<string|null>>
let lastSeen = { text: "", at: 0 };
let onCode = function () {};

function cameraNote(text) {
  els.cameraNote.textContent = text || "";
  els.cameraNote.hidden = !text;
}

// zxing-reader.js is a classic script that sets window.ZXingWASM, loaded only when the camera needs it.
function loadScript(src) {
  return new Promise(function (resolve, reject) {
    const script = document.createElement("script");
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
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return function (video) {
      return detector.detect(video).then(function (found) { return found.length ? found[0].rawValue : null; });
    };
  }).catch(function () { return null; });
}

function wasmDecoder() {
  return loadScript(WASM_DIR + "zxing-reader.js").then(function () {
    const zxing = window.ZXingWASM;
    return Promise.resolve(zxing.prepareZXingModule({
      overrides: {
        // Our own copy of the .wasm, never the library's default CDN.
        locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? WASM_DIR + path : prefix + path; }
      },
      fireImmediately: true
    })).then(function () {
      const canvas = document.createElement("canvas");
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      const options = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };
      return function (video) {
        const w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return Promise.resolve(null);
        const scale = Math.min(1, 800 / Math.max(w, h));
        canvas.width = Math.round(w * scale);
        canvas.height = Math.round(h * scale);
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
        return zxing.readBarcodes(image, options).then(function (found) {
          return found.length && found[0].isValid ? found[0].text : null;
        });
      };
    });
  });
}

function onCameraText(text) {
  const now = Date.now();
  // The same code seen within the last 2 s is the same ticket still held up: scan it once.
  if (text === lastSeen.text && now - lastSeen.at < DEBOUNCE_MS) {
    lastSeen.at = now;
    return;
  }
  lastSeen = { text: text, at: now };
  onCode(text);
}

function scanLoop() {
  if (!cameraOn) return;
  const next = function () { if (cameraOn) setTimeout(scanLoop, 120); };
  if (document.hidden || els.video.readyState < 2) { next(); return; }
  getDecoder().then(function (decode) { return decode(els.video); })
    .then(function (text) { if (text && cameraOn) onCameraText(text); }, function () { /* try the next frame */ })
    .then(next);
}

export function startCamera() {
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
    const name = error && error.name;
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

export function stopCamera() {
  cameraOn = false;
  if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
  stream = null;
  els.video.srcObject = null;
  els.cameraView.hidden = true;
  els.cameraToggle.textContent = "Start camera";
}

// `handler(text)` gets each code the camera reads (once per ticket held up); the button stops and starts it.
export function setUpCamera(handler) {
  onCode = handler;
  els.cameraToggle.addEventListener("click", function () {
    if (cameraOn) {
      stopCamera();
      cameraNote("Camera off.");
    } else {
      els.camera.classList.remove("camera-off");
      startCamera();
    }
  });
}
