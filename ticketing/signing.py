"""Signed ticket payloads that a door scanner verifies offline with the event's Ed25519 public key.

Each event has its own Ed25519 key pair (`generate_keypair`); the private key stays on the server, the
public key (`public_key_b64`) is handed to the door scanner with the event. The QR code on a ticket holds:

    DH1.<claims>.<signature>

- ``DH1`` is the format and version; anything else is refused.
- ``<claims>`` is base64url without padding (RFC 4648 section 5, alphabet ``A-Z a-z 0-9 - _``) of the UTF-8
  bytes of a compact JSON array with exactly four elements, no whitespace, non-ASCII kept as UTF-8:

      [ticket_code, event_id, ticket_type_id, initials]
      e.g. ["K7QX2M9R4T",12,3,"RU"]   or   ["K7QX2M9R4T",12,3,"রউ"]

  ticket_code: string matching ``[A-Za-z0-9_-]{1,40}``; event_id and ticket_type_id: integers
  1 .. 2**53-1 (safe in JavaScript; JSON ``true`` is not a number); initials: string of 1 .. 16
  code points with no control characters. Being JSON, nothing in the initials can be mistaken for a
  separator.
- ``<signature>`` is base64url without padding of the 64-byte Ed25519 signature over the ASCII bytes
  ``"DH1." + <claims>``, i.e. everything before the second dot, so the version is signed too.

Verification, in this order (a JavaScript scanner does the same with WebCrypto
``crypto.subtle.verify("Ed25519", key, sig, new TextEncoder().encode(prefixAndClaims))``):
1. refuse more than 512 characters; strip surrounding ASCII whitespace (a keyboard-wedge scanner may add
   a newline); refuse anything outside printable ASCII, or not exactly three dot-separated parts with ``DH1``
   first;
2. base64url-decode both parts strictly: only the alphabet above, no padding, and the canonical
   encoding (re-encoding the bytes gives back the same text); the signature must be 64 bytes;
3. parse the JSON and check the four elements as above;
4. verify the signature with the event's 32-byte raw public key.
Failures in 1 to 3 are `MalformedTicket`; a signature that does not verify is `ForgedTicket`.
Nothing else is raised, whatever the input.

A signature says the server issued this ticket; whether it is still valid (not cancelled or refunded,
not already checked in) is for the check-in list to say.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

PREFIX = "DH1"
MAX_PAYLOAD_CHARS = 512
MAX_INITIALS_CHARS = 16
MAX_ID = 2**53 - 1  # the largest integer a JavaScript scanner reads exactly
TICKET_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_SIGNATURE_BYTES = 64


class InvalidTicket(ValueError):
    """The scanned text is not a ticket this event issued."""


class MalformedTicket(InvalidTicket):
    """Not a ticket payload at all: wrong format, truncated, too long, bad encoding."""


class ForgedTicket(InvalidTicket):
    """Well formed, but the signature does not verify with this event's key."""


@dataclass(frozen=True, slots=True)
class TicketClaims:
    ticket_code: str
    event_id: int
    ticket_type_id: int
    initials: str


# --- keys ------------------------------------------------------------------------------------------

def generate_keypair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair for one event: (32-byte raw private key, 32-byte raw public key)."""
    private = Ed25519PrivateKey.generate()
    private_raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private_raw, public_raw


def public_key_b64(public_raw: bytes) -> str:
    """The raw public key as base64url without padding, as the scanner receives it."""
    if len(public_raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return _b64encode(public_raw)


# --- initials --------------------------------------------------------------------------------------

def _is_letter_or_digit(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def _is_mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "M"


def _is_virama(char: str) -> bool:
    return unicodedata.combining(char) == 9  # canonical combining class "Virama" (Bengali hasanta U+09CD)


def _first_grapheme(word: str) -> str:
    """The first letter or digit of a word with the marks that belong to it.

    A Bengali consonant keeps its vowel sign (সু in সুমাইয়া); a conjunct (consonant + hasanta +
    consonant, স্ব in স্বপন) is kept whole, as Unicode's extended grapheme clusters do since 15.1,
    so the scanner never shows a dangling hasanta. Leading punctuation (O'Neill, "(Sam)") is skipped.
    """
    start = next((i for i, char in enumerate(word) if _is_letter_or_digit(char)), None)
    if start is None:
        return ""
    end = start + 1
    while end < len(word):
        char = word[end]
        if _is_mark(char) or char in "\u200c\u200d":  # marks, zero-width (non-)joiner
            end += 1
        elif _is_virama(word[end - 1]) and _is_letter_or_digit(char):
            end += 1  # conjunct: the consonant after a hasanta belongs to the same cluster
        else:
            break
    return word[start:end]


def initials(name: str) -> str:
    """Up to three initials for the door staff to compare with the name: "Rahim Uddin" -> "RU",
    "রহিম উদ্দিন" -> "রউ". With more than three words, the first two and the last. Never empty ("?")."""
    if not isinstance(name, str):
        return "?"
    name = unicodedata.normalize("NFC", name)
    graphemes = [g for g in (_first_grapheme(word) for word in name.split()) if g]
    if len(graphemes) > 3:
        graphemes = [*graphemes[:2], graphemes[-1]]
    result = "".join(graphemes).upper()  # upper() changes cased scripts only; Bengali has no case
    if not result or len(result) > MAX_INITIALS_CHARS:
        # absurd input (many stacked marks): fall back to base letters only
        result = "".join(g[0] for g in graphemes).upper()[:MAX_INITIALS_CHARS]
    return result or "?"


# --- signing and verifying -------------------------------------------------------------------------

def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict base64url: alphabet only, no padding, canonical (one text per byte string)."""
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedTicket("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedTicket("not base64url") from None
    if _b64encode(data) != text:
        raise MalformedTicket("not canonical base64url")
    return data


def _valid_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _valid_initials(value: object) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_INITIALS_CHARS
        and not any(unicodedata.category(char) in ("Cc", "Cs") for char in value)
    )


def _check_claims(ticket_code: object, event_id: object, ticket_type_id: object, initials_: object) -> None:
    if not isinstance(ticket_code, str) or not TICKET_CODE_RE.fullmatch(ticket_code):
        raise ValueError("ticket_code must be 1-40 characters of A-Z, a-z, 0-9, - and _")
    if not _valid_id(event_id) or not _valid_id(ticket_type_id):
        raise ValueError("event_id and ticket_type_id must be whole numbers from 1 to 2**53-1")
    if not _valid_initials(initials_):
        raise ValueError(f"initials must be 1-{MAX_INITIALS_CHARS} printable characters")


def sign_ticket(
    private_raw: bytes, *, ticket_code: str, event_id: int, ticket_type_id: int, initials: str
) -> str:
    """The QR text for one ticket, signed with the event's raw Ed25519 private key."""
    initials = unicodedata.normalize("NFC", initials) if isinstance(initials, str) else initials
    _check_claims(ticket_code, event_id, ticket_type_id, initials)
    claims = json.dumps(
        [ticket_code, event_id, ticket_type_id, initials], ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    signed = f"{PREFIX}.{_b64encode(claims)}"
    signature = _private_key(bytes(private_raw)).sign(signed.encode("ascii"))
    return f"{signed}.{_b64encode(signature)}"


@functools.lru_cache(maxsize=256)
def _private_key(private_raw: bytes) -> Ed25519PrivateKey:
    """The key object (making one from raw bytes derives the public half: as costly as a signature)."""
    return Ed25519PrivateKey.from_private_bytes(private_raw)


def _split(payload: object) -> tuple[str, bytes, bytes]:
    """(signed part, claims bytes, signature bytes) of a well-formed payload, or MalformedTicket."""
    if not isinstance(payload, str):
        raise MalformedTicket("a ticket payload is text")
    if len(payload) > MAX_PAYLOAD_CHARS:  # before any other work on a possibly huge string
        raise MalformedTicket("too long to be a ticket")
    payload = payload.strip(" \t\r\n")
    if not payload:
        raise MalformedTicket("empty")
    if not payload.isascii() or not payload.isprintable():
        raise MalformedTicket("a ticket payload is printable ASCII")
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise MalformedTicket(f"not a {PREFIX} ticket")
    claims = _b64decode(parts[1])
    signature = _b64decode(parts[2])
    if len(signature) != _SIGNATURE_BYTES:
        raise MalformedTicket("truncated signature")
    return f"{parts[0]}.{parts[1]}", claims, signature


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _parse_claims(claims: bytes) -> TicketClaims:
    try:
        value = json.loads(claims.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedTicket("claims are not JSON") from None
    if not isinstance(value, list) or len(value) != 4:
        raise MalformedTicket("claims are not a four-element array")
    try:
        _check_claims(*value)
    except ValueError as exc:
        raise MalformedTicket(str(exc)) from None
    return TicketClaims(*value)


def parse_unverified(payload: str) -> TicketClaims:
    """The claims WITHOUT checking the signature: only to find which event's key to verify with."""
    try:
        _, claims, _ = _split(payload)
        return _parse_claims(claims)
    except InvalidTicket:
        raise
    except Exception:  # noqa: BLE001 - belt and braces: no input may raise anything but InvalidTicket
        raise MalformedTicket("unreadable ticket payload") from None


def verify_ticket(public_raw: bytes, payload: str) -> TicketClaims:
    """The claims of a payload signed with the private half of `public_raw`.

    Raises MalformedTicket or ForgedTicket (both InvalidTicket), never anything else."""
    try:
        signed, claims, signature = _split(payload)
        result = _parse_claims(claims)
        key = _public_key(bytes(public_raw))
        if key is None:
            raise ForgedTicket("no usable public key for this event")
        try:
            key.verify(signature, signed.encode("ascii"))
        except InvalidSignature:
            raise ForgedTicket("signature does not verify") from None
        return result
    except InvalidTicket:
        raise
    except Exception:  # noqa: BLE001 - belt and braces: no input may raise anything but InvalidTicket
        raise MalformedTicket("unreadable ticket payload") from None


@functools.lru_cache(maxsize=256)
def _public_key(public_raw: bytes) -> Ed25519PublicKey | None:
    try:
        return Ed25519PublicKey.from_public_bytes(public_raw)
    except (TypeError, ValueError):
        return None


VERIFIED_CACHE_SIZE = 8192


def _issued_claims(private_raw: bytes, payload: str) -> TicketClaims | None:
    """The claims of `payload` if it is exactly the text sign_ticket makes for them with this private key;
    else None (not ours, not canonical, or signed otherwise: verify_ticket decides)."""
    try:
        claims = parse_unverified(payload)
        expected = sign_ticket(private_raw, ticket_code=claims.ticket_code, event_id=claims.event_id,
                               ticket_type_id=claims.ticket_type_id, initials=claims.initials)
    except (InvalidTicket, ValueError, TypeError):
        return None
    return claims if hmac.compare_digest(expected.encode("ascii"), payload.strip(" \t\r\n").encode("ascii")) else None


@functools.lru_cache(maxsize=VERIFIED_CACHE_SIZE)
def _remembered(public_raw: bytes, payload: str, private_raw: bytes | None) -> TicketClaims | InvalidTicket:
    if private_raw is not None and payload.isascii():
        claims = _issued_claims(private_raw, payload)
        if claims is not None:
            return claims
    try:
        return verify_ticket(public_raw, payload)
    except InvalidTicket as exc:
        return exc


def verify_ticket_remembered(public_raw: bytes, payload: str, private_raw: bytes | None = None) -> TicketClaims:
    """verify_ticket, remembering the answers for the last VERIFIED_CACHE_SIZE (key, payload) pairs.

    The answer for a given key and payload never changes, and checking an Ed25519 signature is the
    costliest step of a scan: the door sees the same payload again on a re-scan, a re-entry, or a phone
    syncing what it admitted offline. Given the key pair's private half (the server has it; a phone does
    not), a payload is first compared with the one this server issues for its claims: Ed25519 signatures
    are deterministic, so a ticket we issued matches exactly, and signing costs about a third of verifying.
    Anything else (a forgery, a ticket signed some other way) is verified as before."""
    answer = _remembered(bytes(public_raw), payload, bytes(private_raw) if private_raw is not None else None)
    if isinstance(answer, InvalidTicket):
        raise type(answer)(*answer.args)
    return answer
