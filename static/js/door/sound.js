// A verdict is heard and felt as well as seen: one high beep for in, two low for look again, and a vibration.

let audio = null;

function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!audio && Ctx) {
    try { audio = new Ctx(); } catch (e) { audio = null; }
  }
  if (audio && audio.state === "suspended") audio.resume().catch(function () {});
}

// Browsers let a page make sound only after a tap or a key press.
export function listenForSound() {
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio);
}

function beep(ok) {
  if (!audio || audio.state !== "running") return;
  const tones = ok ? [[1320, 0, 0.16]] : [[220, 0, 0.18], [220, 0.26, 0.18]];
  const t0 = audio.currentTime + 0.01;
  tones.forEach(function (tone) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = ok ? "sine" : "square";
    osc.frequency.value = tone[0];
    const start = t0 + tone[1], end = start + tone[2];
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

export function feedback(result) {
  beep(!!result.ok);
  buzz(!!result.ok);
}
