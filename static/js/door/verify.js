// The offline check of a ticket's QR payload, "DH1.<claims>.<signature>", as ticketing/signing.py describes
// and checks it: strict canonical base64url, the four claims, and the Ed25519 signature (WebCrypto) with the
// event's public key from the downloaded ticket list.
// No DOM and no imports, so that node runs it as is (tests/js/verify.test.mjs, from
// tests/ticketing/test_scanner_js.py, with tickets the server's own code signed).

export const MAX_SCAN_CHARS = 512;  // signing.py's MAX_PAYLOAD_CHARS
const MAX_INITIALS_CHARS = 16;      // signing.py's MAX_INITIALS_CHARS, in code points
const TICKET_CODE_RE = /^[A-Za-z0-9_-]{1,40}$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
// What signing.py refuses in initials: control characters (Unicode category Cc) and lone surrogates (Cs).
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
// JSON strings, to look at the numbers between them: the server takes whole numbers only (12, not 12.0 or
// 1.2e1, which JSON.parse would read as 12).
const JSON_STRING_RE = /"(?:[^"\\]|\\.)*"/g;

function validInitials(initials) {
  if (typeof initials !== "string") return false;
  const length = Array.from(initials).length;  // code points, as Python's len()
  return length >= 1 && length <= MAX_INITIALS_CHARS && !CONTROL_RE.test(initials) &&
    !LONE_SURROGATE_RE.test(initials);
}

export function b64urlDecode(text) {
  if (!B64URL_RE.test(text) || text.length % 4 === 1) return null;
  let b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  while (b64.length % 4) b64 += "=";
  let binary;
  try { binary = globalThis.atob(b64); } catch (e) { return null; }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Canonical only, as the server insists: re-encoding gives back the same text.
  const again = globalThis.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return again === text ? bytes : null;
}

// The claims of a "DH1.<claims>.<signature>" payload, checked as ticketing/signing.py does, or null.
export function parsePayload(text) {
  if (!/^[\x20-\x7e]+$/.test(text)) return null;
  const parts = text.split(".");
  if (parts.length !== 3 || parts[0] !== "DH1") return null;
  const claimsBytes = b64urlDecode(parts[1]);
  const signature = b64urlDecode(parts[2]);
  if (!claimsBytes || !signature || signature.length !== 64) return null;
  let claims;
  try {
    // ignoreBOM: a byte order mark stays in the text (and JSON.parse refuses it), as Python's json does.
    const json = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(claimsBytes);
    if (/[.eE]/.test(json.replace(JSON_STRING_RE, '""'))) return null;  // a fraction or exponent: not an id
    claims = JSON.parse(json);
  } catch (e) { return null; }
  if (!Array.isArray(claims) || claims.length !== 4) return null;
  const [code, eventId, typeId, initials] = claims;
  if (typeof code !== "string" || !TICKET_CODE_RE.test(code)) return null;
  if (!Number.isSafeInteger(eventId) || eventId < 1 || !Number.isSafeInteger(typeId) || typeId < 1) return null;
  if (!validInitials(initials)) return null;
  return { code: code, eventId: eventId, typeId: typeId, initials: initials, signature: signature,
           signed: new TextEncoder().encode(parts[0] + "." + parts[1]) };
}

// The event's public key (raw 32 bytes as unpadded base64url, as the ticket list carries it), or null when
// it is unusable or this browser has no Ed25519 in WebCrypto.
export function importPublicKey(publicKeyB64) {
  const raw = b64urlDecode(publicKeyB64 || "");
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!raw || raw.length !== 32 || !subtle) return Promise.resolve(null);
  return subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"])
    .catch(function () { return null; });
}

// true or false; null when there is no key to check with (the verdict then says so).
export function verifySignature(key, claims) {
  if (!key) return Promise.resolve(null);
  return globalThis.crypto.subtle.verify({ name: "Ed25519" }, key, claims.signature, claims.signed)
    .catch(function () { return false; });
}

// What a DH1 payload is for this event: {verdict, claims} with verdict one of
//   "malformed"   not one of our payloads at all (damaged, wrong format, not canonical);
//   "wrong_event" well formed, for another event (decided before the signature, as the server does);
//   "forged"      the signature does not verify with this event's key;
//   "genuine"     the signature verifies;
//   "unchecked"   well formed, but there is no key to check it with.
// `key` is the event's key (importPublicKey), or a promise of it.
export async function checkPayload(text, eventId, key) {
  const claims = parsePayload(text);
  if (!claims) return { verdict: "malformed", claims: null };
  if (claims.eventId !== eventId) return { verdict: "wrong_event", claims: claims };
  const verified = await verifySignature(await key, claims);
  const verdict = verified === null ? "unchecked" : verified ? "genuine" : "forged";
  return { verdict: verdict, claims: claims };
}

// --- typed codes against the kept list --------------------------------------------------------------
// The kept list has no ticket codes, only keyed hashes of them (ticketing/door_reports.py code_hash):
// HMAC-SHA256 under the list's own key of the normalised code, first 16 bytes, base64url. A typed code or a
// QR's signed code is hashed the same way and looked up.

// As ticketing/checkin.py's normalise_code: no whitespace anywhere, lower case.
export function normaliseCode(text) {
  return String(text).replace(/\s+/g, "").toLowerCase();
}

// The list's HMAC key (base64url, 32 bytes), or null when unusable or this browser has no WebCrypto here.
export function importCodeKey(keyB64) {
  const raw = b64urlDecode(keyB64 || "");
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!raw || raw.length !== 32 || !subtle) return Promise.resolve(null);
  return subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
    .catch(function () { return null; });
}

function b64urlEncode(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return globalThis.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// The hash under which the kept list has the ticket with this code, or null (no key to hash with).
// `key` is importCodeKey's, or a promise of it.
export async function codeHash(key, code) {
  key = await key;
  if (!key) return null;
  const mac = await globalThis.crypto.subtle.sign("HMAC", key, new TextEncoder().encode(normaliseCode(code)));
  return b64urlEncode(new Uint8Array(mac).slice(0, 16));
}
