"""Signed ticket payloads: what the door scanner accepts, and that nothing else gets through."""

from __future__ import annotations

import base64
import json
import random

import pytest

from ticketing.signing import (
    MAX_PAYLOAD_CHARS,
    ForgedTicket,
    InvalidTicket,
    MalformedTicket,
    TicketClaims,
    generate_keypair,
    initials,
    parse_unverified,
    public_key_b64,
    sign_ticket,
    verify_ticket,
)


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return generate_keypair()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make(private: bytes, **overrides) -> str:
    claims = {"ticket_code": "K7QX2M9R4T", "event_id": 12, "ticket_type_id": 3, "initials": "RU"}
    claims.update(overrides)
    return sign_ticket(private, **claims)


def sign_raw(private: bytes, claims_json: bytes) -> str:
    """A correctly signed payload around arbitrary claims bytes (what a leaked key could make)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signed = "DH1." + b64(claims_json)
    return signed + "." + b64(Ed25519PrivateKey.from_private_bytes(private).sign(signed.encode()))


def flip(text: str, index: int) -> str:
    """Change one base64url character into another (never into itself)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replacement = alphabet[(alphabet.index(text[index]) + 1) % len(alphabet)]
    return text[:index] + replacement + text[index + 1:]


# --- keys --------------------------------------------------------------------------------------------

def test_keypair_is_raw_ed25519_and_public_key_is_unpadded_base64url(keys):
    private, public = keys
    assert len(private) == 32 and len(public) == 32
    encoded = public_key_b64(public)
    assert len(encoded) == 43 and "=" not in encoded
    assert base64.urlsafe_b64decode(encoded + "=") == public
    assert generate_keypair()[0] != private


# --- roundtrip ---------------------------------------------------------------------------------------

def test_roundtrip(keys):
    private, public = keys
    payload = make(private)
    assert payload.startswith("DH1.") and payload.count(".") == 2
    expected = TicketClaims(ticket_code="K7QX2M9R4T", event_id=12, ticket_type_id=3, initials="RU")
    assert verify_ticket(public, payload) == expected
    assert parse_unverified(payload) == expected


def test_bengali_initials_roundtrip_and_payload_is_short_enough_for_a_qr(keys):
    private, public = keys
    payload = make(private, ticket_code="A" * 20, event_id=2**40, ticket_type_id=2**40,
                   initials=initials("সুমাইয়া স্বপ্না বেগম"))
    assert payload.isascii()
    assert len(payload) < 200
    assert verify_ticket(public, payload).initials == "সুস্ববে"


def test_initials_cannot_inject_a_field(keys):
    private, public = keys
    tricky = '"],9,9,["x'
    payload = make(private, initials=tricky)
    claims = verify_ticket(public, payload)
    assert claims.initials == tricky and claims.event_id == 12 and claims.ticket_type_id == 3
    for sep in (".", ",", "|", "\\"):
        assert verify_ticket(public, make(private, initials=f"A{sep}B")).initials == f"A{sep}B"


def test_scanner_newline_is_tolerated(keys):
    private, public = keys
    assert verify_ticket(public, make(private) + "\r\n").ticket_code == "K7QX2M9R4T"


@pytest.mark.parametrize("overrides", [
    {"ticket_code": ""}, {"ticket_code": "has space"}, {"ticket_code": "x" * 41}, {"ticket_code": "é"},
    {"event_id": 0}, {"event_id": -1}, {"event_id": True}, {"event_id": 2**53}, {"ticket_type_id": "3"},
    {"initials": ""}, {"initials": "A\nB"}, {"initials": "X" * 17},
])
def test_sign_refuses_claims_the_scanner_could_not_read(keys, overrides):
    with pytest.raises(ValueError):
        make(keys[0], **overrides)


# --- forgeries ---------------------------------------------------------------------------------------

def test_flipping_any_character_of_claims_or_signature_is_refused(keys):
    private, public = keys
    payload = make(private)
    claims_start = len("DH1.")
    claims_end = payload.rindex(".")
    for index in range(claims_start, len(payload)):
        if index == claims_end:
            continue
        tampered = flip(payload, index)
        with pytest.raises(InvalidTicket):
            verify_ticket(public, tampered)


def test_tampered_claims_that_still_parse_are_forged(keys):
    private, public = keys
    payload = make(private)
    _, claims, signature = payload.split(".")
    forged_claims = b64(json.dumps(["K7QX2M9R4T", 13, 3, "RU"], separators=(",", ":")).encode())
    with pytest.raises(ForgedTicket):
        verify_ticket(public, f"DH1.{forged_claims}.{signature}")
    # a signature with one character changed is still 64 bytes of canonical base64url
    with pytest.raises(ForgedTicket):
        verify_ticket(public, f"DH1.{claims}.{flip(signature, 10)}")


def test_another_events_key_does_not_verify(keys):
    private, _ = keys
    _, other_public = generate_keypair()
    with pytest.raises(ForgedTicket):
        verify_ticket(other_public, make(private))


def test_signature_from_another_ticket_is_forged(keys):
    private, public = keys
    first = make(private, ticket_code="AAAA")
    second = make(private, ticket_code="BBBB")
    spliced = first.rsplit(".", 1)[0] + "." + second.rsplit(".", 1)[1]
    with pytest.raises(ForgedTicket):
        verify_ticket(public, spliced)


def test_unusable_public_key_is_an_invalid_ticket_not_a_crash(keys):
    payload = make(keys[0])
    for key in (b"", b"\x00" * 31, "not bytes", None):
        with pytest.raises(InvalidTicket):
            verify_ticket(key, payload)


# --- malformed ---------------------------------------------------------------------------------------

def malformed_inputs(private: bytes) -> list:
    good = make(private)
    prefix, claims, signature = good.split(".")
    return [
        "", "   ", "garbage", "DH1", "DH1.", "DH1..", "DH1.x.y", good[:-1], good[: len(good) // 2],
        good.replace("DH1.", "DH2.", 1), good.replace("DH1.", "dh1.", 1), "X" + good, good + ".",
        good + "." + signature, f"{prefix}.{claims}", f"{prefix}.{claims}=.{signature}",
        f"{prefix}.{claims}.{signature}==", f"{prefix}.{claims}+.{signature}",
        f"{prefix}.{claims}.{signature[:-2]}",  # 63-byte signature
        "DH1." + "A" * (MAX_PAYLOAD_CHARS + 10) + "." + signature, good + " " * 600,
        good[:10] + "К" + good[11:], good[:10] + "\u00e9" + good[11:], "DH1.সুমাইয়া." + signature,
        good + "\x00", "\x00" * 10,
        good.replace(".", "\n", 1),
        None, 42, b"DH1.abc.def", ["DH1", claims, signature],
        f"DH1.{b64(b'not json')}.{signature}",
        f"DH1.{b64(b'{}')}.{signature}",
        f"DH1.{b64(b'[1,2,3,4]')}.{signature}",
        f"DH1.{b64(bytes([0xff, 0xfe]))}.{signature}",
        f"DH1.{b64(b'[' * 150)}.{signature}",
    ]


def test_malformed_payloads_are_refused_as_malformed(keys):
    private, public = keys
    for bad in malformed_inputs(private):
        with pytest.raises(MalformedTicket):
            verify_ticket(public, bad)
            pytest.fail(f"accepted {bad!r}")
        with pytest.raises(MalformedTicket):
            parse_unverified(bad)
            pytest.fail(f"parsed {bad!r}")


def test_non_canonical_base64_is_malformed(keys):
    private, public = keys
    prefix, claims, signature = make(private).split(".")
    # The last character of an 86-character signature carries 2 unused bits: set one of them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    sloppy = signature[:-1] + alphabet[last | 1 if last % 2 == 0 else last & ~1]
    assert base64.urlsafe_b64decode(sloppy + "==") == base64.urlsafe_b64decode(signature + "==")
    with pytest.raises(MalformedTicket):
        verify_ticket(public, f"{prefix}.{claims}.{sloppy}")


@pytest.mark.parametrize("claims", [
    ["K7QX2M9R4T", 12, 3],  # too few
    ["K7QX2M9R4T", 12, 3, "RU", "extra"],
    ["K7QX2M9R4T", 12.0, 3, "RU"],
    ["K7QX2M9R4T", True, 3, "RU"],
    ["K7QX2M9R4T", 0, 3, "RU"],
    ["K7QX2M9R4T", 12, 3, ""],
    ["K7 QX", 12, 3, "RU"],
    {"code": "K7QX2M9R4T"},
])
def test_signed_but_nonsensical_claims_are_malformed(keys, claims):
    private, public = keys
    with pytest.raises(MalformedTicket):
        verify_ticket(public, sign_raw(private, json.dumps(claims).encode()))


def test_signed_nan_is_malformed(keys):
    private, public = keys
    with pytest.raises(MalformedTicket):
        verify_ticket(public, sign_raw(private, b'["K7",NaN,3,"RU"]'))


def test_random_input_never_raises_anything_but_invalid_ticket(keys):
    private, public = keys
    rng = random.Random(20250412)
    good = make(private)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
    for _ in range(3000):
        kind = rng.randrange(4)
        if kind == 0:  # random bytes, decoded leniently
            text = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 700))).decode("latin-1")
        elif kind == 1:  # random characters from the payload alphabet
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
        elif kind == 2:  # the good payload with a few random edits
            chars = list(good)
            for _ in range(rng.randrange(1, 4)):
                chars[rng.randrange(len(chars))] = chr(rng.randrange(32, 0x2000))
            text = "".join(chars)
        else:  # prefix + random base64 of random JSON-ish bytes
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
            text = f"DH1.{b64(junk)}.{b64(bytes(rng.randrange(256) for _ in range(64)))}"
        for check in (lambda t: verify_ticket(public, t), parse_unverified):
            try:
                check(text)
            except InvalidTicket:
                pass


# --- initials ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("Rahim Uddin", "RU"),
    ("rahim uddin", "RU"),
    ("  Eleanor   Whitfield-Okafor ", "EW"),
    ("Mary-Jane O'Neill", "MO"),
    ("Mohammed Abdul Karim Uddin", "MAU"),
    ("Cher", "C"),
    ("Zoë Łukasz", "ZŁ"),
    ("(Sam) Smith", "SS"),
    ("রহিম উদ্দিন", "রউ"),
    ("সুমাইয়া বেগম", "সুবে"),  # vowel signs stay with their consonant
    ("স্বপন দাস", "স্বদা"),  # a conjunct stays whole: no dangling hasanta
    ("মোহাম্মদ আব্দুল করিম উদ্দিন", "মোআউ"),
    ("Rahim রহমান", "Rর"),
    ("", "?"),
    ("   ", "?"),
    ("...", "?"),
    ("\u09be\u09bf", "?"),  # vowel signs alone are not a letter
])
def test_initials(name, expected):
    assert initials(name) == expected


def test_initials_are_nfc_and_fit_the_payload():
    decomposed = "Zoe\u0308 Ste\u0301phane"
    assert initials(decomposed) == "ZS"
    assert initials("e\u0301lise") == "\u00c9"
    stacked = "A" + "\u0301" * 40
    assert 1 <= len(initials(stacked)) <= 16
    assert initials(None) == "?"  # type: ignore[arg-type]


def test_remembered_verification_gives_the_same_answers_as_verify_ticket():
    from ticketing.signing import ForgedTicket, MalformedTicket, verify_ticket_remembered

    private, public = generate_keypair()
    other_private, _ = generate_keypair()
    good = sign_ticket(private, ticket_code="REMEMBER1", event_id=4, ticket_type_id=2, initials="AB")
    forged = sign_ticket(other_private, ticket_code="REMEMBER1", event_id=4, ticket_type_id=2, initials="AB")
    for _ in range(2):  # the second time from memory
        assert verify_ticket_remembered(public, good) == verify_ticket(public, good)
        with pytest.raises(ForgedTicket):
            verify_ticket_remembered(public, forged)
        with pytest.raises(MalformedTicket):
            verify_ticket_remembered(public, "DH1.not-a-ticket")
    _, another_public = generate_keypair()
    with pytest.raises(ForgedTicket):  # remembered per key: the good payload is forged for another event's key
        verify_ticket_remembered(another_public, good)


def test_with_the_private_half_an_issued_ticket_is_recognised_and_anything_else_still_verified():
    from ticketing.signing import ForgedTicket, MalformedTicket, _remembered, verify_ticket_remembered

    private, public = generate_keypair()
    other_private, _ = generate_keypair()
    good = sign_ticket(private, ticket_code="ISSUED1", event_id=7, ticket_type_id=3, initials="নর")
    assert verify_ticket_remembered(public, good, private) == verify_ticket(public, good)
    # Surrounding whitespace (a wedge scanner's CR) is the same ticket, as verify_ticket says.
    assert verify_ticket_remembered(public, good + "\r\n", private) == verify_ticket(public, good)
    # A forgery with a real ticket's claims, a tampered claim and junk are refused as before.
    forged = sign_ticket(other_private, ticket_code="ISSUED1", event_id=7, ticket_type_id=3, initials="নর")
    with pytest.raises(ForgedTicket):
        verify_ticket_remembered(public, forged, private)
    head, _claims, signature = good.split(".")
    tampered_claims = sign_ticket(private, ticket_code="ISSUED2", event_id=7, ticket_type_id=3,
                                  initials="নর").split(".")[1]
    with pytest.raises(ForgedTicket):
        verify_ticket_remembered(public, f"{head}.{tampered_claims}.{signature}", private)
    with pytest.raises(MalformedTicket):
        verify_ticket_remembered(public, "DH1.not-a-ticket", private)
    # A ticket validly signed but not byte for byte what we issue (claims JSON with a space) is still accepted:
    # only the signature decides, as on a phone.
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signed = "DH1." + b64(b'["ISSUED3", 7,3,"AB"]')
    odd = f"{signed}.{b64(Ed25519PrivateKey.from_private_bytes(private).sign(signed.encode()))}"
    _remembered.cache_clear()
    assert verify_ticket_remembered(public, odd, private).ticket_code == "ISSUED3"
    # The shortcut is what answered for the issued ticket: with the private half, no verify at all.
    from ticketing import signing

    calls = []
    real = signing.verify_ticket
    signing.verify_ticket = lambda *a: calls.append(a) or real(*a)
    try:
        _remembered.cache_clear()
        verify_ticket_remembered(public, good, private)
        assert calls == []
        with pytest.raises(ForgedTicket):
            verify_ticket_remembered(public, forged, private)
        assert len(calls) == 1
    finally:
        signing.verify_ticket = real
