"""The door scanner's offline signature check in JavaScript (static/js/door/verify.js), run by node on
tickets signed by the server's own code (ticketing/signing.py): what the phone decides with no network
must be what the server decides. The cases go to node in a JSON file; tests/js/verify.test.mjs checks
each verdict. Needs node with Ed25519 in WebCrypto (20+); without node the test skips (fails in CI)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kernel.settings import PROJECT_ROOT
from tests.conftest import skip_or_fail
from ticketing.door_reports import code_hash
from ticketing.signing import (
    ForgedTicket,
    MalformedTicket,
    generate_keypair,
    parse_unverified,
    public_key_b64,
    sign_ticket,
    verify_ticket,
)

EVENT_ID = 12
DOOR_JS = PROJECT_ROOT / "static" / "js" / "door"
NODE_TEST = PROJECT_ROOT / "tests" / "js" / "verify.test.mjs"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed (Debian: apt-get install nodejs)")
    return node


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign_raw(private: bytes, claims_json: bytes) -> str:
    """A correctly signed payload around any claims bytes (what only a leaked key could make)."""
    signed = "DH1." + _b64(claims_json)
    return signed + "." + _b64(Ed25519PrivateKey.from_private_bytes(private).sign(signed.encode("ascii")))


def _non_canonical(part: str) -> str:
    """Another base64url text for the same bytes: the last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    for char in alphabet:
        other = part[:-1] + char
        if other != part and base64.urlsafe_b64decode(other + "=" * (-len(other) % 4)) == decoded:
            return other
    raise AssertionError(f"{part!r} has no unused bits")


def _server_verdict(public: bytes, payload: str) -> str:
    """The server's verdict, in the order the scanner decides: well formed, this event, signature."""
    try:
        claims = parse_unverified(payload)
    except MalformedTicket:
        return "malformed"
    if claims.event_id != EVENT_ID:
        return "wrong_event"
    try:
        verify_ticket(public, payload)
    except ForgedTicket:
        return "forged"
    return "genuine"


def _cases(private: bytes, public: bytes) -> list[dict]:
    def ticket(**overrides) -> str:
        claims = {"ticket_code": "K7QX2M9R4T", "event_id": EVENT_ID, "ticket_type_id": 3, "initials": "RU"}
        return sign_ticket(private, **{**claims, **overrides})

    valid = ticket()
    prefix, claims_part, signature = valid.split(".")
    other_type = _b64(b'["K7QX2M9R4T",12,4,"RU"]')
    middle = len(signature) // 2
    flipped = signature[:middle] + ("B" if signature[middle] == "A" else "A") + signature[middle + 1:]
    stranger, _ = generate_keypair()
    cases = [
        {"name": "valid", "payload": valid, "expect": "genuine",
         "claims": {"code": "K7QX2M9R4T", "eventId": EVENT_ID, "typeId": 3, "initials": "RU"}},
        {"name": "valid, Bengali initials (UTF-8 claims)", "payload": ticket(initials="রউ", ticket_type_id=2**53 - 1),
         "expect": "genuine",
         "claims": {"code": "K7QX2M9R4T", "eventId": EVENT_ID, "typeId": 2**53 - 1, "initials": "রউ"}},
        {"name": "tampered claims (another ticket type), signature kept",
         "payload": f"{prefix}.{other_type}.{signature}", "expect": "forged"},
        {"name": "tampered signature", "payload": f"{prefix}.{claims_part}.{flipped}", "expect": "forged"},
        {"name": "forged with another key", "payload": sign_ticket(
            stranger, ticket_code="K7QX2M9R4T", event_id=EVENT_ID, ticket_type_id=3, initials="RU"),
         "expect": "forged"},
        {"name": "wrong event, genuinely signed", "payload": ticket(event_id=EVENT_ID + 1), "expect": "wrong_event"},
        {"name": "non-canonical signature encoding", "payload": f"{prefix}.{claims_part}.{_non_canonical(signature)}",
         "expect": "malformed"},
        {"name": "padded base64", "payload": valid + "==", "expect": "malformed"},
        {"name": "truncated signature", "payload": valid[:-2], "expect": "malformed"},
        {"name": "another format version", "payload": "DH2" + valid[3:], "expect": "malformed"},
        {"name": "non-ASCII character", "payload": valid[:10] + "é" + valid[11:], "expect": "malformed"},
        {"name": "three claims, signed with the event's key",
         "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3]'), "expect": "malformed"},
        {"name": "event id true, signed with the event's key",
         "payload": _sign_raw(private, b'["K7QX2M9R4T",true,3,"RU"]'), "expect": "malformed"},
        # What JavaScript would read loosely and the server refuses (signed with the event's own key, as only a
        # leaked key could: the phone must still decide as the server does).
        {"name": "17 initials", "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3,"ABCDEFGHIJKLMNOPQ"]'),
         "expect": "malformed"},
        {"name": "16 initials beyond the BMP (code points, not UTF-16 units)", "payload": _sign_raw(
            private, json.dumps(["K7QX2M9R4T", 12, 3, "\U0001F600" * 16], ensure_ascii=False).encode()),
         "expect": "genuine"},
        {"name": "empty initials", "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3,""]'), "expect": "malformed"},
        {"name": "a control character in the initials",
         "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3,"R\\u0007U"]'), "expect": "malformed"},
        {"name": "a C1 control character in the initials",
         "payload": _sign_raw(private, '["K7QX2M9R4T",12,3,"R\u0085U"]'.encode()), "expect": "malformed"},
        {"name": "a lone surrogate in the initials",
         "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3,"R\\ud800"]'), "expect": "malformed"},
        {"name": "event id 12.0", "payload": _sign_raw(private, b'["K7QX2M9R4T",12.0,3,"RU"]'), "expect": "malformed"},
        {"name": "type id 3e0", "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3e0,"RU"]'), "expect": "malformed"},
        {"name": "a dot and an e inside the initials are fine",
         "payload": _sign_raw(private, b'["K7QX2M9R4T",12,3,"e.E"]'), "expect": "genuine"},
        {"name": "a byte order mark before the claims",
         "payload": _sign_raw(private, b'\xef\xbb\xbf["K7QX2M9R4T",12,3,"RU"]'), "expect": "malformed"},
    ]
    for case in cases:  # each case is what the server itself decides
        assert _server_verdict(public, case["payload"]) == case["expect"], case["name"]
    # The phone's own: a ticket list with no usable key (a damaged download) checks nothing, and says so.
    cases.append({"name": "no usable public key", "payload": valid, "expect": "unchecked",
                  "public_key": public_key_b64(public)[:-1]})
    return cases


def _hash_cases() -> tuple[str, list[dict]]:
    """Typed codes and the keyed hash the server put in the manifest for the ticket they name."""
    key = os.urandom(32)
    code = "K7qX2m9R4T-_ab12"
    typed = [code, code.lower(), code.upper(), " k7qx 2m9r 4t-_ ab12\n", "\tK7QX2M9R4T-_AB12 "]
    cases = [{"typed": t, "hash": code_hash(key, code)} for t in typed]
    cases.append({"typed": "K7qX2m9R4T-_ab13", "hash": code_hash(key, "K7qX2m9R4T-_ab13")})
    assert len({c["hash"] for c in cases}) == 2
    return _b64(key), cases


def test_the_scanner_verifies_signed_tickets_as_the_server_does(tmp_path):
    node = _node()
    private, public = generate_keypair()
    cases = _cases(private, public)
    code_key, hash_cases = _hash_cases()
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"event_id": EVENT_ID, "public_key": public_key_b64(public), "cases": cases,
                                "code_key": code_key, "hash_cases": hash_cases}), encoding="utf-8")
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(NODE_TEST)],
        cwd=PROJECT_ROOT, env={**os.environ, "DENHUB_SCANNER_CASES": str(path)},
        capture_output=True, text=True, timeout=120, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Every case ran (a file that loads no tests would pass too).
    assert re.search(rf"^# pass {len(cases) + len(hash_cases)}$", done.stdout, re.MULTILINE), output
    assert re.search(r"^# fail 0$", done.stdout, re.MULTILINE), output


def test_every_door_module_parses_as_a_module():
    """A syntax error would otherwise show only in a browser (the page then falls back to the plain form)."""
    node = _node()
    for module in sorted(DOOR_JS.glob("*.js")):
        done = subprocess.run([node, "--check", str(module)], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, f"{module.name}: {done.stderr}"
