"""The door over HTTP, as the scanner page and its script use it: who may open the scanner and scan (door
staff on the event's team, organisers, door links with a PIN), the JSON scan and offline sync APIs, pay and
admit, counts and the manifest; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import httpx
from sqlalchemy import func, select

from kernel.accounts import Role, hash_password
from kernel.db import utcnow
from kernel.settings import PROJECT_ROOT
from kernel.tokens import hash_token
from tests.conftest import csrf_for
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_order, make_ticket_type
from ticketing.door import PIN_MAX_FAILURES
from ticketing.models import (
    CheckIn,
    DoorAssignment,
    DoorLink,
    DoorLinkSession,
    EventKey,
    Order,
    OrderStatus,
    Ticket,
)
from ticketing.outputs import qr_payload
from ticketing.signing import generate_keypair, public_key_b64, sign_ticket

DATA_CSRF_RE = re.compile(r'data-csrf="([^"]+)"')
LINK_URL_RE = re.compile(r"http://testserver(/door/link/[A-Za-z0-9_-]+)")


# --- helpers -------------------------------------------------------------------------------------------

async def _event_with_types(db, **event_overrides):
    async with db.write() as session:
        event = await make_event(session, **event_overrides)
        free = await make_ticket_type(session, event, name="Lawn seat", tier="free", price_pence=0)
        paid = await make_ticket_type(session, event, name="Reserved chair", tier="standard", price_pence=500)
    return event, free, paid


async def _book(db, event, ticket_type, names: list[str]) -> list[tuple[Ticket, str]]:
    """Tickets booked through the registration service, each with its signed QR payload."""
    async with db.write() as session:
        order = await make_order(session, event, [(ticket_type.id, n) for n in names],
                                 email=f"{names[0].split()[0].lower()}@example.org")
        key = await session.get(EventKey, event.id)
        tickets = list(await session.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)))
        return [(t, qr_payload(key, t)) for t in tickets]


async def _door_staff(client, db, event=None):
    """Sign `client` in as a door staff account, on `event`'s door team when given."""
    user = await sign_in(client, db, Role.DOOR_STAFF, name="Bilal at the gate")
    if event is not None:
        async with db.write() as session:
            session.add(DoorAssignment(event_id=event.id, user_id=user.id))
    return user


async def _scanner_csrf(client, event) -> str:
    page = await client.get(f"/door/events/{event.id}")
    assert page.status_code == 200, page.text[:500]
    match = DATA_CSRF_RE.search(page.text)
    assert match, "the scanner page gives its script no CSRF token"
    return match.group(1)


async def _scan_json(client, event, csrf, text, **fields) -> httpx.Response:
    return await client.post(f"/door/events/{event.id}/scan", json={"text": text, **fields},
                             headers={"X-CSRF-Token": csrf, "Accept": "application/json"})


async def _sync(client, event, csrf, scans) -> httpx.Response:
    return await client.post(f"/door/events/{event.id}/sync", json={"scans": scans},
                             headers={"X-CSRF-Token": csrf})


async def _check_in_rows(db, event) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event.id))


def _total(counts: list[dict]) -> dict:
    [total] = [c for c in counts if c["ticket_type_id"] is None]
    return total


async def _create_door_link(app, db, event, label="Garden gate", pin="482193") -> str:
    """An organiser creates a door link on the organiser door page; returns its path (shown only once)."""
    async with new_client(app) as organiser:
        await sign_in(organiser, db, Role.ADMIN)
        csrf = await csrf_for(organiser, f"/organiser/events/{event.id}/door")
        page = await organiser.post(f"/organiser/events/{event.id}/door/links",
                                    data={"label": label, "pin": pin, "csrf_token": csrf})
        assert page.status_code == 200, page.text[:1000]
        match = LINK_URL_RE.search(page.text)
        assert match, "the new door link is not shown"
        return match.group(1)


async def _enter_pin(client, path, pin) -> httpx.Response:
    csrf = await csrf_for(client, path)
    return await client.post(path, data={"pin": pin, "csrf_token": csrf})


# --- who may scan --------------------------------------------------------------------------------------

async def test_door_staff_on_the_team_open_the_scanner_and_scan(client, db):
    event, free, _ = await _event_with_types(db)
    [(ticket, payload)] = await _book(db, event, free, ["Amina Khatun"])
    await _door_staff(client, db, event)

    page = await client.get(f"/door/events/{event.id}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '<script type="module" src="/static/js/door/main.js"></script>' in page.text
    assert f'data-event-id="{event.id}"' in page.text
    assert 'data-device="Bilal at the gate"' in page.text

    # The no-JavaScript form: post the code, get the verdict on the page.
    csrf = await _scanner_csrf(client, event)
    form = await client.post(f"/door/events/{event.id}/scan", data={"text": payload, "csrf_token": csrf})
    assert form.status_code == 200
    assert "verdict-admitted" in form.text and "Amina Khatun" in form.text
    again = await client.post(f"/door/events/{event.id}/scan", data={"text": ticket.code, "csrf_token": csrf})
    assert "verdict-already_checked_in" in again.text
    assert re.search(r"Already checked in at \d\d:\d\d by Bilal at the gate", again.text)


async def test_door_staff_not_on_the_team_judges_and_anonymous_are_refused(app, client, db):
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    async with db.write() as session:
        other_event = await make_event(session)

    await _door_staff(client, db, other_event)  # on another event's team only
    assert (await client.get(f"/door/events/{event.id}")).status_code == 403
    assert (await client.get(f"/door/events/{event.id}/manifest")).status_code == 403
    assert (await client.get(f"/door/events/{event.id}/counts")).status_code == 403
    csrf = await _scanner_csrf(client, other_event)
    refused = await _scan_json(client, event, csrf, payload)
    assert refused.status_code == 403
    assert await _check_in_rows(db, event) == 0

    async with new_client(app) as judge:
        await sign_in(judge, db, Role.JUDGE)
        assert (await judge.get(f"/door/events/{event.id}")).status_code == 403
        assert (await judge.get(f"/door/events/{event.id}/manifest")).status_code == 403

    async with new_client(app) as anonymous:
        page = await anonymous.get(f"/door/events/{event.id}")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next=/door/events/{event.id}"
        manifest = await anonymous.get(f"/door/events/{event.id}/manifest")
        assert manifest.status_code == 303 and manifest.headers["location"].startswith("/login")
        csrf = await csrf_for(anonymous)
        posted = await anonymous.post(f"/door/events/{event.id}/sync", json={"scans": []},
                                      headers={"X-CSRF-Token": csrf})
        assert posted.status_code == 403


async def test_organisers_may_scan_any_event(client, db):
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    await sign_in(client, db, Role.ADMIN, name="Olu Organiser")
    csrf = await _scanner_csrf(client, event)
    result = (await _scan_json(client, event, csrf, payload)).json()
    assert result["verdict"] == "admitted"
    missing = await client.post("/door/events/999999/scan", json={"text": payload},
                                headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404


# --- door links with a PIN -----------------------------------------------------------------------------

IMPORT_RE = re.compile(r'^import [^;]* from "\./([a-z_]+\.js)";$', re.MULTILINE)


async def test_every_module_of_the_scanner_script_is_served_as_javascript(client):
    """A module script runs only if it and everything it imports arrive with a JavaScript type; a module
    missing or left out of the imports would break the page (or be dead code) only in a browser."""
    seen, todo = set(), ["main.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        response = await client.get(f"/static/js/door/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript"}, name
        todo.extend(IMPORT_RE.findall(response.text))
    on_disk = {p.name for p in (PROJECT_ROOT / "static" / "js" / "door").glob("*.js")}
    assert seen == on_disk


async def test_door_link_and_pin_open_the_scanner_for_that_event_only(app, client, db):
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    async with db.write() as session:
        other_event = await make_event(session)
    path = await _create_door_link(app, db, event, label="Garden gate", pin="482193")

    assert (await client.get(path)).status_code == 200
    entered = await _enter_pin(client, path, "482193")
    assert entered.status_code == 303 and entered.headers["location"] == f"/door/events/{event.id}"
    page = await client.get(f"/door/events/{event.id}")
    assert page.status_code == 200 and 'data-device="Garden gate"' in page.text
    csrf = DATA_CSRF_RE.search(page.text).group(1)
    result = await _scan_json(client, event, csrf, payload)
    assert result.status_code == 200 and result.json()["verdict"] == "admitted"
    assert (await client.get(f"/door/events/{event.id}/manifest")).status_code == 200

    # Another event: refused, pages and APIs alike.
    assert (await client.get(f"/door/events/{other_event.id}")).status_code == 403
    assert (await client.get(f"/door/events/{other_event.id}/manifest")).status_code == 403
    assert (await _scan_json(client, other_event, csrf, payload)).status_code == 403
    # Nor is a door link a way into the organiser pages.
    assert (await client.get(f"/organiser/events/{event.id}/door")).status_code in (303, 403)


async def test_wrong_pins_are_refused_then_rate_limited(app, client, db):
    event, _, _ = await _event_with_types(db)
    path = await _create_door_link(app, db, event, pin="482193")
    for n in range(PIN_MAX_FAILURES):  # from ever-new addresses: an address is cheap to change
        async with new_client(app, address=f"198.51.100.{n + 1}") as guesser:
            wrong = await _enter_pin(guesser, path, "000000")
            assert wrong.status_code == 401
            assert "That PIN is not right." in wrong.text
    limited = await _enter_pin(client, path, "482193")  # even the right PIN, once the link's limit is reached
    assert limited.status_code == 429
    assert "Too many wrong PINs for this door link. Wait 15 minutes, or ask the organiser for a new door link." \
        in page_text(limited)
    assert (await client.get(f"/door/events/{event.id}")).status_code == 303  # not signed in

    # The way out is a new link, with limits of its own.
    fresh = await _create_door_link(app, db, event, label="Side door", pin="731904")
    assert (await _enter_pin(client, fresh, "731904")).status_code == 303


async def test_door_link_pins_have_at_least_six_digits(app, client, db):
    event, _, _ = await _event_with_types(db)
    async with new_client(app) as organiser:
        await sign_in(organiser, db, Role.ADMIN)
        csrf = await csrf_for(organiser, f"/organiser/events/{event.id}/door")
        refused = await organiser.post(f"/organiser/events/{event.id}/door/links",
                                       data={"label": "Gate", "pin": "48219", "csrf_token": csrf})
    assert refused.status_code == 422
    assert "The PIN must be 6 to 12 digits." in page_text(refused)
    # A link made before, with a 4-digit PIN: its right PIN is refused with a way forward, not let in.
    token = "old-short-pin-link-token-0123456789"
    async with db.write() as session:
        session.add(DoorLink(event_id=event.id, label="Old gate", token_hash=hash_token(token),
                             pin_hash=await hash_password("4821")))
    old = await _enter_pin(client, f"/door/link/{token}", "4821")
    assert old.status_code == 403
    assert "shorter than 6 digits" in page_text(old) and "Ask the organiser to make a new door link." in page_text(old)
    assert (await client.get(f"/door/events/{event.id}")).status_code == 303  # not signed in


async def test_a_revoked_door_link_stops_working_at_once(app, client, db):
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    path = await _create_door_link(app, db, event)
    assert (await _enter_pin(client, path, "482193")).status_code == 303
    csrf = await _scanner_csrf(client, event)
    async with db.read() as session:
        [link] = list(await session.scalars(select(DoorLink).where(DoorLink.event_id == event.id)))
    copied = httpx.Cookies(client.cookies)  # a copy of the cookie, taken before

    async with new_client(app) as organiser:
        await sign_in(organiser, db, Role.ADMIN)
        token = await csrf_for(organiser, f"/organiser/events/{event.id}/door")
        revoked = await organiser.post(f"/organiser/events/{event.id}/door/links/{link.id}/revoke",
                                       data={"csrf_token": token})
        assert revoked.status_code == 303

    # The session signed in with the link is refused on its very next request.
    page = await client.get(f"/door/events/{event.id}")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert (await _scan_json(client, event, csrf, payload)).status_code == 403
    assert (await _sync(client, event, csrf, [{"client_scan_id": "x-1", "text": payload}])).status_code == 403
    assert await _check_in_rows(db, event) == 0
    # And the link itself no longer asks for a PIN.
    assert (await client.get(path)).status_code == 404
    # Its sessions end with it, on the server: the copy is refused, and no record is left.
    async with new_client(app, cookies=copied) as copy:
        assert (await copy.get(f"/door/events/{event.id}")).status_code == 303
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(DoorLinkSession)) == 0


async def test_leaving_the_door_ends_every_copy_of_the_link_session(app, client, db):
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    path = await _create_door_link(app, db, event)
    assert (await _enter_pin(client, path, "482193")).status_code == 303
    csrf = await _scanner_csrf(client, event)
    async with new_client(app, address="192.0.2.99", cookies=client.cookies) as copy:
        assert (await copy.get(f"/door/events/{event.id}")).status_code == 200  # the copy works until then
        left = await client.post("/door/leave", data={"csrf_token": csrf})
        assert left.status_code == 303
        page = await copy.get(f"/door/events/{event.id}")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert (await _scan_json(copy, event, csrf, payload)).status_code == 403
        assert (await copy.get(f"/door/events/{event.id}/manifest")).status_code == 303
    assert (await client.get(f"/door/events/{event.id}")).status_code == 303
    assert await _check_in_rows(db, event) == 0
    async with db.read() as session:  # the server-side record is gone
        assert await session.scalar(select(func.count()).select_from(DoorLinkSession)) == 0
    # The link itself still works: the PIN signs a phone in afresh.
    assert (await _enter_pin(client, path, "482193")).status_code == 303
    assert (await client.get(f"/door/events/{event.id}")).status_code == 200


# --- the JSON scan -------------------------------------------------------------------------------------

async def test_json_scan_needs_the_csrf_header(client, db):
    event, free, _ = await _event_with_types(db)
    [(ticket, payload)] = await _book(db, event, free, ["Amina Khatun"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)

    missing = await client.post(f"/door/events/{event.id}/scan", json={"text": payload})
    assert missing.status_code == 403
    wrong = await client.post(f"/door/events/{event.id}/scan", json={"text": payload},
                              headers={"X-CSRF-Token": "not-the-token"})
    assert wrong.status_code == 403
    assert await _check_in_rows(db, event) == 0

    first = await _scan_json(client, event, csrf, payload, device="Phone A", gate="Garden gate",
                             client_scan_id="dev1-1")
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
    body = first.json()
    assert body["verdict"] == "admitted" and body["ok"] is True and body["headline"] == "Admitted"
    assert body["ticket"]["id"] == ticket.id and body["ticket"]["name"] == "Amina Khatun"
    assert "code" not in body["ticket"] and ticket.code not in first.text  # answered by id, never by code
    assert body["ticket"]["type"] == "Lawn seat" and body["ticket"]["unpaid"] is False

    second = (await _scan_json(client, event, csrf, payload, device="Phone B", client_scan_id="dev2-1")).json()
    assert second["verdict"] == "already_checked_in" and second["ok"] is False
    assert second["first_device"] == "Phone A" and second["first_gate"] == "Garden gate"
    assert second["first_checked_in_at"] == body["first_checked_in_at"]

    # The same client_scan_id again (a retried request): the first answer, no new row.
    rows = await _check_in_rows(db, event)
    again = (await _scan_json(client, event, csrf, payload, client_scan_id="dev1-1")).json()
    assert again["verdict"] == "admitted"
    assert await _check_in_rows(db, event) == rows

    # Check out and back in; the device defaults to the signed-in account's name.
    out = (await _scan_json(client, event, csrf, ticket.code, direction="out")).json()
    assert out["verdict"] == "checked_out"
    back = (await _scan_json(client, event, csrf, ticket.code)).json()
    assert back["verdict"] == "readmitted"
    async with db.read() as session:
        last = await session.scalar(select(CheckIn).where(CheckIn.event_id == event.id)
                                    .order_by(CheckIn.id.desc()))
    assert last.device == "Bilal at the gate"


async def test_phones_scanning_one_ticket_at_once_admit_it_once(app, client, db):
    """Eight phones send the same ticket at the same moment: one admission, seven "already checked in"."""
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    responses = await asyncio.gather(*(
        _scan_json(client, event, csrf, payload, device=f"Phone {i}", client_scan_id=f"race-{i}") for i in range(8)))
    verdicts = sorted(r.json()["verdict"] for r in responses)
    assert verdicts == ["admitted"] + ["already_checked_in"] * 7
    firsts = {r.json()["first_checked_in_at"] for r in responses}
    assert len(firsts) == 1  # every answer names the same first admission
    assert await _check_in_rows(db, event) == 8


async def test_json_scan_refuses_what_is_not_json(client, db):
    event, _, _ = await _event_with_types(db)
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    broken = await client.post(f"/door/events/{event.id}/scan", content=b"{not json",
                               headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert broken.status_code == 400
    too_big = await client.post(f"/door/events/{event.id}/scan", content=b'{"text": "' + b"x" * 9000 + b'"}',
                                headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert too_big.status_code == 413


# --- offline sync --------------------------------------------------------------------------------------

async def test_sync_gives_each_scan_its_own_verdict_and_replays_change_nothing(client, db):
    event, free, _ = await _event_with_types(db)
    booked = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin"])
    [(amina, amina_qr), (rahim, _)] = booked
    async with db.write() as session:
        other_event = await make_event(session)
        other_type = await make_ticket_type(session, other_event)
    [(_, other_qr)] = await _book(db, other_event, other_type, ["Zara Ahmed"])
    private, _ = generate_keypair()
    forged = sign_ticket(private, ticket_code=amina.code, event_id=event.id, ticket_type_id=free.id, initials="AK")
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)

    start = utcnow() - dt.timedelta(minutes=10)
    texts = {
        "valid": amina_qr, "duplicate": amina_qr, "by-code": rahim.code, "forged": forged,
        "garbage": "DH1.garbage", "unknown": "abcdefghijkl", "other-event": other_qr, "oversized": "A" * 600,
    }
    scans = [{"client_scan_id": f"phone7-{name}", "text": text, "device": "Phone 7", "gate": "Garden gate",
              "direction": "in", "scanned_at": (start + dt.timedelta(seconds=i)).isoformat()}
             for i, (name, text) in enumerate(texts.items())]
    response = await _sync(client, event, csrf, scans)
    assert response.status_code == 200
    data = response.json()
    verdicts = {r["client_scan_id"].removeprefix("phone7-"): r["verdict"] for r in data["results"]}
    assert verdicts == {
        "valid": "admitted", "duplicate": "already_checked_in", "by-code": "admitted", "forged": "forged",
        "garbage": "unknown", "unknown": "unknown", "other-event": "wrong_event", "oversized": "unknown",
    }
    assert _total(data["counts"]) == {"ticket_type_id": None, "name": "All tickets", "expected": 2,
                                      "checked_in": 2, "inside": 2}
    # Offline scans keep the time they were made at, not the time they arrived.
    async with db.read() as session:
        t = await session.get(Ticket, amina.id)
        assert abs((t.checked_in_at - start).total_seconds()) < 1 and t.checked_in_device == "Phone 7"
        offline_rows = await session.scalar(select(func.count(CheckIn.id)).where(
            CheckIn.event_id == event.id, CheckIn.offline.is_(True)))
    assert offline_rows == len(scans)

    # The phone did not hear the answer and sends the same batch again: same verdicts, nothing new.
    rows = await _check_in_rows(db, event)
    replay = (await _sync(client, event, csrf, scans)).json()
    assert {r["client_scan_id"]: r["verdict"] for r in replay["results"]} == \
        {r["client_scan_id"]: r["verdict"] for r in data["results"]}
    assert replay["counts"] == data["counts"]
    assert await _check_in_rows(db, event) == rows


async def test_sync_refuses_oversized_batches_and_broken_bodies(client, db):
    event, free, _ = await _event_with_types(db)
    [(_, payload)] = await _book(db, event, free, ["Amina Khatun"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)

    too_many = [{"client_scan_id": f"p-{i}", "text": payload} for i in range(501)]
    assert (await _sync(client, event, csrf, too_many)).status_code == 413
    assert (await _sync(client, event, csrf, too_many[:500])).status_code == 200  # 500 is allowed
    rows = await _check_in_rows(db, event)
    assert rows == 500

    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    for body in (b"{", b"[1, 2]", b'{"scans": "no"}', b"\xff\xfe"):
        refused = await client.post(f"/door/events/{event.id}/sync", content=body, headers=headers)
        assert refused.status_code == 400, body
    not_json = await client.post(f"/door/events/{event.id}/sync", data={"scans": "x"},
                                 headers={"X-CSRF-Token": csrf})
    assert not_json.status_code == 415
    no_csrf = await client.post(f"/door/events/{event.id}/sync", json={"scans": []})
    assert no_csrf.status_code == 403
    # A scan without an id is answered as rejected (it could not be replayed safely), not judged; so is an
    # item that is not an object, in its place (results[i] answers scans[i]).
    result = (await _sync(client, event, csrf, [{"text": payload}, "not an object", 7, None,
                                                 {"client_scan_id": "p-0", "text": payload}])).json()
    assert [(r["client_scan_id"], r["verdict"]) for r in result["results"]] == \
        [(None, "rejected")] * 4 + [("p-0", "admitted")]  # p-0: a replay
    assert result["results"][1]["headline"] == "Not a scan"
    assert await _check_in_rows(db, event) == rows


# --- pay and admit, counts, manifest -------------------------------------------------------------------

async def test_pay_and_admit_marks_the_order_paid_and_admits(client, db):
    event, _, paid = await _event_with_types(db)
    [(ticket, payload)] = await _book(db, event, paid, ["Amina Khatun"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)

    unpaid = (await _scan_json(client, event, csrf, payload)).json()
    assert unpaid["verdict"] == "unpaid" and unpaid["ticket"]["unpaid"] is True
    assert unpaid["ticket"]["price_pence"] == 500
    page = await client.post(f"/door/events/{event.id}/scan", data={"text": payload, "csrf_token": csrf})
    assert "mark paid and admit" in page.text and "£5.00" in page.text

    assert unpaid["amount_due_pence"] == 500 and unpaid["due_tickets"] == 1
    paid_now = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": ticket.id, "amount_pence": 500},
                                 headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert paid_now.status_code == 200
    assert paid_now.json()["verdict"] == "admitted"
    async with db.read() as session:
        order = await session.get(Order, ticket.order_id)
        t = await session.get(Ticket, ticket.id)
    assert order.status == OrderStatus.CONFIRMED and order.paid_at is not None
    assert "paid at the door" in order.paid_note
    assert t.checked_in_at is not None and t.checked_in_device == "Bilal at the gate"

    again = (await _scan_json(client, event, csrf, payload)).json()
    assert again["verdict"] == "already_checked_in"
    # Paying twice neither fails nor admits twice.
    twice = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": ticket.id, "amount_pence": 500},
                              headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert twice.json()["verdict"] == "already_checked_in"
    for missing_id in ("999999", "x", ""):
        missing = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": missing_id},
                                    headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
        assert missing.status_code == 404
    no_csrf = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": ticket.id, "amount_pence": 500})
    assert no_csrf.status_code == 403


async def test_counts_json(client, db):
    event, free, paid = await _event_with_types(db)
    free_tickets = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin", "Sam Jones"])
    [(cancelled, _)] = await _book(db, event, free, ["Cancelled Person"])
    [(_, unpaid_qr)] = await _book(db, event, paid, ["Zara Ahmed"])
    from ticketing import services

    async with db.write() as session:
        await services.cancel_tickets(session=session, tickets=[await session.get(Ticket, cancelled.id)])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    for _, qr in free_tickets[:2]:
        assert (await _scan_json(client, event, csrf, qr)).json()["verdict"] == "admitted"
    assert (await _scan_json(client, event, csrf, free_tickets[1][0].code, direction="out")).json()["verdict"] \
        == "checked_out"
    assert (await _scan_json(client, event, csrf, unpaid_qr)).json()["verdict"] == "unpaid"

    response = await client.get(f"/door/events/{event.id}/counts")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["event_id"] == event.id
    assert data["counts"] == [
        {"ticket_type_id": free.id, "name": "Lawn seat", "expected": 3, "checked_in": 2, "inside": 1},
        {"ticket_type_id": paid.id, "name": "Reserved chair", "expected": 1, "checked_in": 0, "inside": 0},
        {"ticket_type_id": None, "name": "All tickets", "expected": 4, "checked_in": 2, "inside": 1},
    ]


async def test_manifest_has_the_public_key_and_keyed_hashes_not_codes_or_names(client, db):
    import base64

    from ticketing.door_reports import code_hash

    event, free, paid = await _event_with_types(db)
    [(amina, amina_qr)] = await _book(db, event, free, ["Amina Khatun"])
    [(zara, _)] = await _book(db, event, paid, ["Zara Ahmed"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    await _scan_json(client, event, csrf, amina_qr, device="Phone A", gate="Garden gate")

    response = await client.get(f"/door/events/{event.id}/manifest")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    data = response.json()
    async with db.read() as session:
        key = await session.get(EventKey, event.id)
        orders = [await session.get(Order, t.order_id) for t in (amina, zara)]
    assert data["event_id"] == event.id and data["algorithm"] == "Ed25519"
    assert data["public_key"] == public_key_b64(key.public_key)
    # Least privilege: no ticket code, no name beyond the initials the signed QR carries, no email, no
    # booking reference or order code; each code only as a keyed hash under this list's own key.
    for secret in (amina.code, zara.code, "Amina", "Khatun", "Zara", "Ahmed", "example.org",
                   *(o.reference for o in orders), *(o.code for o in orders)):
        assert secret not in response.text, secret
    code_key = base64.urlsafe_b64decode(data["code_key"] + "=" * (-len(data["code_key"]) % 4))
    assert data["code_hash"] == "HMAC-SHA256/16" and len(code_key) == 32
    by_id = {t["id"]: t for t in data["tickets"]}
    assert set(by_id) == {amina.id, zara.id}
    assert by_id[amina.id]["h"] == code_hash(code_key, amina.code)
    assert by_id[amina.id]["h"] == code_hash(code_key, f" {amina.code[:5].lower()} {amina.code[5:].upper()}\n")
    assert by_id[amina.id]["initials"] == "AK" and by_id[zara.id]["initials"] == "ZA"
    assert set(by_id[amina.id]) == {"id", "h", "initials", "type_id", "type", "tier", "tier_label", "status", "unpaid",
                                    "price_pence", "checked_in_at", "inside", "checked_in_device", "checked_in_gate"}
    assert by_id[amina.id]["checked_in_at"] is not None and by_id[amina.id]["inside"] is True
    assert by_id[amina.id]["type_id"] == free.id and by_id[amina.id]["status"] == "valid"
    assert by_id[amina.id]["tier_label"] == "Free" and by_id[zara.id]["tier_label"] == "Standard"
    assert by_id[zara.id]["unpaid"] is True and by_id[zara.id]["checked_in_at"] is None
    # so a phone offline can say where and on which phone a ticket was first admitted
    assert (by_id[amina.id]["checked_in_device"], by_id[amina.id]["checked_in_gate"]) == ("Phone A", "Garden gate")
    assert (by_id[zara.id]["checked_in_device"], by_id[zara.id]["checked_in_gate"]) == ("", "")
    assert "private" not in response.text
    # Each list has its own key: two downloads' hashes cannot be matched up.
    again = (await client.get(f"/door/events/{event.id}/manifest")).json()
    assert again["code_key"] != data["code_key"]
    assert {t["h"] for t in again["tickets"]}.isdisjoint({t["h"] for t in data["tickets"]})


# --- hostile input: every scan gets a verdict --------------------------------------------------------------

def _raw_json(value) -> bytes:
    """JSON as a client may send it: lone surrogates as \\ud800 escapes (json.dumps keeps them ASCII)."""
    import json

    return json.dumps(value).encode("ascii")


async def test_nul_and_lone_surrogates_get_a_verdict_not_an_error(client, db):
    event, free, _ = await _event_with_types(db)
    [(amina, amina_qr), (rahim, rahim_qr), (sam, _)] = await _book(
        db, event, free, ["Amina Khatun", "Rahim Uddin", "Sam Jones"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json", "Accept": "application/json"}

    # /scan, JSON: NUL and lone surrogates in every string field.
    for fields in ({"text": "ab\x00cdefgh"}, {"text": "\ud800"}, {"text": amina.code[:4] + "\x00" + amina.code[4:]},
                   {"text": "abcdefghijk", "device": "Phone\x00 7", "gate": "Gate\ud800", "client_scan_id": "n\x00-1"},
                   {"text": "abcdefghijk", "client_scan_id": "s-\udfff"}):
        response = await client.post(f"/door/events/{event.id}/scan", content=_raw_json(fields), headers=headers)
        assert response.status_code == 200, fields
        assert response.json()["verdict"] == "unknown", fields
    # Strings the phone sends are cleaned, not refused: the valid ticket is admitted, the device's name kept.
    admitted = await client.post(f"/door/events/{event.id}/scan", headers=headers, content=_raw_json(
        {"text": sam.code, "device": "Phone\x00 8\udc00", "gate": "\x00Garden", "client_scan_id": "c-\x001"}))
    assert admitted.status_code == 200 and admitted.json()["verdict"] == "admitted"
    async with db.read() as session:
        row = await session.scalar(select(CheckIn).where(CheckIn.client_scan_id == "c-1"))
    assert (row.device, row.gate) == ("Phone 8", "Garden")

    # /scan, the no-JavaScript form.
    form = await client.post(f"/door/events/{event.id}/scan", data={"text": "ab\x00cdefgh", "csrf_token": csrf,
                                                                    "device": "x\x00", "gate": "\x00"})
    assert form.status_code == 200 and "verdict-unknown" in form.text

    # /sync: the bad scans get their verdicts, and the scans after them are judged and recorded.
    start = utcnow() - dt.timedelta(minutes=5)
    scans = [{"client_scan_id": f"h-{i}", "text": text, "device": device, "gate": gate,
              "scanned_at": (start + dt.timedelta(seconds=i)).isoformat()}
             for i, (text, device, gate) in enumerate([
                 ("ab\x00cdefgh", "Phone 9", ""), ("\ud800", "Phone 9", ""), (amina_qr, "Phone\x00 9", "Gate\ud800"),
                 ("abcdefghijk", "\udfff", "\x00"), (rahim_qr, "Phone 9", "")])]
    scans.append({"client_scan_id": "h-\x00\ud8005", "text": "abcdefghijk", "scanned_at": "2024\x00-01-01"})
    scans.append({"client_scan_id": "\x00", "text": "abcdefghijk"})  # nothing left of the id: rejected
    response = await client.post(f"/door/events/{event.id}/sync", content=_raw_json({"scans": scans}),
                                 headers=headers)
    assert response.status_code == 200, response.text[:500]
    verdicts = [(r["client_scan_id"], r["verdict"]) for r in response.json()["results"]]
    assert verdicts == [("h-0", "unknown"), ("h-1", "unknown"), ("h-2", "admitted"), ("h-3", "unknown"),
                        ("h-4", "admitted"), ("h-5", "unknown"), (None, "rejected")]
    async with db.read() as session:
        t = await session.get(Ticket, amina.id)
        assert (t.checked_in_device, t.checked_in_gate) == ("Phone 9", "Gate")
        assert (await session.get(Ticket, rahim.id)).checked_in_at is not None

    # /pay: a code with a NUL is no ticket of ours.
    pay = await client.post(f"/door/events/{event.id}/pay", content=b"ticket_id=1%00",
                            headers={"X-CSRF-Token": csrf, "Accept": "application/json",
                                     "Content-Type": "application/x-www-form-urlencoded"})
    assert pay.status_code == 404


async def test_a_sync_item_that_fails_does_not_stop_the_ones_after_it(client, db, monkeypatch):
    from ticketing import checkin_writer

    event, free, _ = await _event_with_types(db)
    [(_, amina_qr), (_, rahim_qr)] = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    real_judge = checkin_writer.judge

    def judge(session, **scan):
        if scan["text"] == "EXPLODE":
            raise RuntimeError("a bug met by one scan")
        return real_judge(session, **scan)

    monkeypatch.setattr(checkin_writer, "judge", judge)
    start = utcnow() - dt.timedelta(minutes=5)
    scans = [{"client_scan_id": f"e-{i}", "text": text, "scanned_at": (start + dt.timedelta(seconds=i)).isoformat()}
             for i, text in enumerate([amina_qr, "EXPLODE", rahim_qr])]
    response = await _sync(client, event, csrf, scans)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["client_scan_id"], r["verdict"]) for r in results] == \
        [("e-0", "admitted"), ("e-1", "rejected"), ("e-2", "admitted")]
    assert results[1]["ok"] is False and "could not be recorded" in results[1]["detail"]
    assert results[1]["retry"] is True and "retry" not in results[0]  # the phone keeps it queued
    assert _total(response.json()["counts"])["checked_in"] == 2
    assert await _check_in_rows(db, event) == 2
    # once the fault is gone, the phone's next sync records it: nothing lost
    monkeypatch.setattr(checkin_writer, "judge", real_judge)
    again = (await _sync(client, event, csrf, scans[1:2])).json()["results"]
    assert [(r["client_scan_id"], r["verdict"]) for r in again] == [("e-1", "unknown")]
    assert "retry" not in again[0]
    assert await _check_in_rows(db, event) == 3


async def test_sync_scan_times_outside_a_sane_window_are_replaced_by_the_time_received(client, db):
    event, free, _ = await _event_with_types(db)
    booked = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin", "Sam Jones", "Zara Ahmed", "Li Wei"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    now = utcnow()
    times = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", (now - dt.timedelta(days=400)).isoformat(),
             (now + dt.timedelta(days=1)).isoformat(), (now - dt.timedelta(hours=1)).isoformat()]
    scans = [{"client_scan_id": f"t-{i}", "text": payload, "scanned_at": at}
             for i, ((_, payload), at) in enumerate(zip(booked, times, strict=True))]
    response = await _sync(client, event, csrf, scans)
    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    assert [r["verdict"] for r in results] == ["admitted"] * 5
    for r in results[:4]:
        assert "clock" in r["detail"], r
    assert results[4]["detail"] == ""
    async with db.read() as session:
        admitted = [(await session.get(Ticket, t.id)).checked_in_at for t, _ in booked]
        rows = list(await session.scalars(select(CheckIn).where(CheckIn.event_id == event.id)
                                          .order_by(CheckIn.client_scan_id)))
    for at in admitted[:4]:  # the time the scan reached us
        assert abs((at - now).total_seconds()) < 60
    assert abs((admitted[4] - (now - dt.timedelta(hours=1))).total_seconds()) < 1  # a believable time is kept
    assert [abs((r.scanned_at - now).total_seconds()) < 60 for r in rows] == [True] * 4 + [False]


async def test_pay_and_admit_refuses_free_and_cancelled_orders_clearly(client, db):
    from ticketing import services

    event, free, paid = await _event_with_types(db)
    [(free_ticket, _)] = await _book(db, event, free, ["Amina Khatun"])
    [(cancelled, _)] = await _book(db, event, paid, ["Rahim Uddin"])
    async with db.write() as session:
        await services.cancel_tickets(session=session, tickets=[await session.get(Ticket, cancelled.id)])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    json_headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}

    nothing = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": free_ticket.id}, headers=json_headers)
    assert nothing.status_code == 409
    body = nothing.json()
    assert body["verdict"] == "rejected" and body["ok"] is False and "free" in body["detail"]
    assert body["ticket"]["name"] == "Amina Khatun"
    refused = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": cancelled.id, "amount_pence": 500},
                                headers=json_headers)
    assert refused.status_code == 409
    assert refused.json()["verdict"] == "cancelled" and "cancelled" in refused.json()["detail"]
    page = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": cancelled.id, "csrf_token": csrf})
    assert page.status_code == 409 and "verdict-cancelled" in page.text

    async with db.read() as session:
        order = await session.get(Order, cancelled.order_id)
        assert order.paid_at is None and order.status == OrderStatus.CANCELLED
        assert (await session.get(Ticket, free_ticket.id)).checked_in_at is None
    assert await _check_in_rows(db, event) == 0  # a refused payment is no scan


async def test_the_same_offline_batch_synced_four_times_at_once_is_recorded_once(client, db):
    event, free, _ = await _event_with_types(db)
    [(_, amina_qr), (rahim, _)] = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    start = utcnow() - dt.timedelta(minutes=10)
    texts = [amina_qr, rahim.code, amina_qr, "abcdefghijk", rahim.code]
    directions = ["in", "in", "in", "in", "out"]
    scans = [{"client_scan_id": f"twice-{i}", "text": text, "direction": direction, "device": "Phone 4",
              "scanned_at": (start + dt.timedelta(seconds=i)).isoformat()}
             for i, (text, direction) in enumerate(zip(texts, directions, strict=True))]
    responses = await asyncio.gather(*(_sync(client, event, csrf, scans) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4, [r.text[:300] for r in responses]
    answers = [[(r["client_scan_id"], r["verdict"]) for r in response.json()["results"]] for response in responses]
    expected = [("twice-0", "admitted"), ("twice-1", "admitted"), ("twice-2", "already_checked_in"),
                ("twice-3", "unknown"), ("twice-4", "checked_out")]
    assert answers == [expected] * 4
    async with db.read() as session:
        per_id = dict((await session.execute(
            select(CheckIn.client_scan_id, func.count(CheckIn.id))
            .where(CheckIn.event_id == event.id).group_by(CheckIn.client_scan_id))).all())
    assert per_id == {f"twice-{i}": 1 for i in range(5)}
    final = (await client.get(f"/door/events/{event.id}/counts")).json()
    assert (_total(final["counts"])["checked_in"], _total(final["counts"])["inside"]) == (2, 1)


async def test_the_organisers_duplicate_list_names_the_attendee_and_the_later_scan(client, db):
    event, free, _ = await _event_with_types(db)
    [(_, amina_qr)] = await _book(db, event, free, ["Amina Khatun"])
    await sign_in(client, db, Role.ADMIN, name="Olu Organiser")
    csrf = await _scanner_csrf(client, event)
    assert (await _scan_json(client, event, csrf, amina_qr, device="Online phone")).json()["verdict"] == "admitted"
    earlier = (utcnow() - dt.timedelta(minutes=5)).isoformat()
    synced = (await _sync(client, event, csrf, [{"client_scan_id": "off-1", "text": amina_qr,
                                                  "device": "Offline phone", "scanned_at": earlier}])).json()
    assert synced["results"][0]["verdict"] == "admitted"  # the earlier scan is the admission
    assert synced["results"][0]["inside"] is True

    page = await client.get(f"/organiser/events/{event.id}/door")
    assert page.status_code == 200
    [listed] = re.findall(r'<ul class="door-duplicates">(.*?)</ul>', page.text, re.DOTALL)
    assert "Amina Khatun" in listed and "Online phone" in listed and "Offline phone" not in listed
    assert "DH1." not in listed
    # The counts refresh themselves from the scanner's counts endpoint (a script from /static: the CSP).
    assert f'data-counts-url="/door/events/{event.id}/counts"' in page.text
    assert 'src="/static/js/door_counts.js"' in page.text
    assert (await client.get("/static/js/door_counts.js")).status_code == 200


async def test_only_the_hub_administrator_picks_from_every_door_staff_account(app, client, db):
    """An event organiser sees the team of their event and invites by email; the hub's other door volunteers
    (names and emails) are the hub administrator's to see."""
    from events.access import add_organiser
    from tests.factories import make_user

    event, _, _ = await _event_with_types(db)
    async with db.write() as session:
        on_team = await make_user(session, role=Role.DOOR_STAFF, email="team@example.org", name="Tamsin Team")
        elsewhere = await make_user(session, role=Role.DOOR_STAFF, email="other.door@example.org",
                                    name="Osman Otherdoor")
        session.add(DoorAssignment(event_id=event.id, user_id=on_team.id))
    door_page = f"/organiser/events/{event.id}/door"

    organiser = await sign_in(client, db, Role.ORGANISER)
    async with db.write() as session:
        await add_organiser(session=session, event_id=event.id, user_id=organiser.id)
    page = page_text(await client.get(door_page))
    assert "Tamsin Team (team@example.org)" in page  # their team
    assert "Osman" not in page and "other.door@example.org" not in page and 'name="user_id"' not in page
    assert "Invite a door volunteer by email" in page
    csrf = await csrf_for(client, door_page)
    picked = await client.post(f"{door_page}/staff", data={"csrf_token": csrf, "user_id": str(elsewhere.id)})
    assert picked.status_code == 403
    # Inviting by email puts an existing door volunteer on the team (no account list needed).
    invited = await client.post(f"{door_page}/invite", data={"csrf_token": csrf, "email": "other.door@example.org"})
    assert invited.status_code == 303
    assert "Osman Otherdoor (other.door@example.org)" in page_text(await client.get(door_page))

    async with new_client(app) as admin:
        await sign_in(admin, db, Role.ADMIN)
        async with db.write() as session:
            spare = await make_user(session, role=Role.DOOR_STAFF, email="spare@example.org", name="Sam Spare")
        page = page_text(await admin.get(door_page))
        assert f'<option value="{spare.id}">Sam Spare (spare@example.org)</option>' in page
        token = await csrf_for(admin, door_page)
        added = await admin.post(f"{door_page}/staff", data={"csrf_token": token, "user_id": str(spare.id)})
        assert added.status_code == 303
    async with db.read() as session:
        assert await session.scalar(select(func.count(DoorAssignment.id)).where(
            DoorAssignment.event_id == event.id)) == 3


async def test_putting_someone_on_the_door_team_twice_at_once_gives_one_place(client, db):
    """A double click on "Add to the door team": both answers are the same redirect, one assignment."""
    from tests.factories import make_user

    event, _, _ = await _event_with_types(db)
    async with db.write() as session:
        staff = await make_user(session, role=Role.DOOR_STAFF, email="volunteer@example.org", name="Volunteer")
    await sign_in(client, db, Role.ADMIN)
    csrf = await csrf_for(client, f"/organiser/events/{event.id}/door")
    responses = await asyncio.gather(*(
        client.post(f"/organiser/events/{event.id}/door/staff", data={"csrf_token": csrf, "user_id": str(staff.id)})
        for _ in range(4)))
    assert [r.status_code for r in responses] == [303] * 4
    async with db.read() as session:
        assert await session.scalar(select(func.count(DoorAssignment.id)).where(
            DoorAssignment.event_id == event.id, DoorAssignment.user_id == staff.id)) == 1


async def test_manifest_of_an_event_with_no_key_yet_makes_one(client, db):
    """No ticket booked yet, so no signing key: the scanner's list still comes with a key, made once."""
    event, _, _ = await _event_with_types(db)
    async with db.write() as session:
        existing = await session.get(EventKey, event.id)
        if existing is not None:
            await session.delete(existing)
    await _door_staff(client, db, event)
    first = (await client.get(f"/door/events/{event.id}/manifest")).json()
    second = (await client.get(f"/door/events/{event.id}/manifest")).json()
    async with db.read() as session:
        key = await session.get(EventKey, event.id)
    assert key is not None and first["public_key"] == second["public_key"] == public_key_b64(key.public_key)
    assert first["tickets"] == []


# --- issue 16: money at the door, typed codes, booking references, names, resent scan ids ----------------

async def _mixed_order(db, event, free, paid) -> tuple[Ticket, Ticket]:
    """One order: a free ticket and an unpaid £3 ticket."""
    async with db.write() as session:
        order = await make_order(session, event, [(free.id, "Amina Khatun"), (paid.id, "Rahim Uddin")],
                                 email="amina@example.org")
        tickets = list(await session.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)))
    assert [t.price_pence for t in tickets] == [0, 300] and order.status == OrderStatus.AWAITING_PAYMENT
    return tickets[0], tickets[1]


async def test_mixed_order_free_ticket_admitted_as_free_and_the_priced_one_only_once_paid(client, db):
    async with db.write() as session:
        event = await make_event(session)
        free = await make_ticket_type(session, event, name="Lawn seat", tier="free", price_pence=0)
        paid = await make_ticket_type(session, event, name="Chair", tier="standard", price_pence=300)
    free_ticket, paid_ticket = await _mixed_order(db, event, free, paid)
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}

    # The free ticket: admitted as free, and the order is NOT marked paid.
    admitted = (await _scan_json(client, event, csrf, free_ticket.code)).json()
    assert admitted["verdict"] == "admitted" and admitted["ticket"]["unpaid"] is False
    async with db.read() as session:
        order = await session.get(Order, free_ticket.order_id)
    assert order.paid_at is None and order.status == OrderStatus.AWAITING_PAYMENT

    # The £3 ticket: asks for £3.00 (what the order still owes), admits nobody until paid.
    unpaid = (await _scan_json(client, event, csrf, paid_ticket.code)).json()
    assert unpaid["verdict"] == "unpaid" and unpaid["amount_due_pence"] == 300 and unpaid["due_tickets"] == 1
    page = await client.post(f"/door/events/{event.id}/scan", data={"text": paid_ticket.code, "csrf_token": csrf})
    assert "Paid £3.00: mark paid and admit" in page.text and "Paid £0.00" not in page.text
    # A press with no amount, or the wrong one, takes nothing and admits nobody.
    for amount in ({}, {"amount_pence": "0"}, {"amount_pence": "100"}):
        refused = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": paid_ticket.id, **amount},
                                    headers=headers)
        assert refused.status_code == 409 and refused.json()["verdict"] == "unpaid"
        assert refused.json()["amount_due_pence"] == 300 and "£3.00" in refused.json()["detail"]
    async with db.read() as session:
        assert (await session.get(Order, free_ticket.order_id)).paid_at is None
        assert (await session.get(Ticket, paid_ticket.id)).checked_in_at is None
    paid_now = await client.post(f"/door/events/{event.id}/pay",
                                 data={"ticket_id": paid_ticket.id, "amount_pence": "300"}, headers=headers)
    assert paid_now.status_code == 200 and paid_now.json()["verdict"] == "admitted"
    async with db.read() as session:
        order = await session.get(Order, free_ticket.order_id)
        assert order.paid_at is not None and "£3.00 paid at the door" in order.paid_note
        assert (await session.get(Ticket, paid_ticket.id)).checked_in_at is not None
    # Pressing "paid" for the free ticket takes nothing.
    free_pay = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": free_ticket.id}, headers=headers)
    assert free_pay.status_code == 409 and "free" in free_pay.json()["detail"]


async def test_pay_asks_for_the_whole_orders_outstanding_amount(client, db):
    event, _, paid = await _event_with_types(db)  # £5 chairs
    [(first, _), (second, _)] = await _book(db, event, paid, ["Amina Khatun", "Rahim Uddin"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    unpaid = (await _scan_json(client, event, csrf, first.code)).json()
    assert (unpaid["amount_due_pence"], unpaid["due_tickets"]) == (1000, 2)
    page = await client.post(f"/door/events/{event.id}/scan", data={"text": first.code, "csrf_token": csrf})
    assert "Paid £10.00 for 2 tickets: mark paid and admit" in page.text
    done = await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": first.id, "amount_pence": "1000",
                                                                     "csrf_token": csrf})
    assert done.status_code == 200 and "verdict-admitted" in done.text
    # The money for both was taken: the second is admitted on its own scan.
    assert (await _scan_json(client, event, csrf, second.code)).json()["verdict"] == "admitted"


async def test_typed_code_with_spaces_and_lower_case_admits(client, db):
    event, free, _ = await _event_with_types(db)
    [(ticket, _)] = await _book(db, event, free, ["Amina Khatun"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    typed = " " + " ".join(ticket.code[i:i + 4] for i in range(0, len(ticket.code), 4)).lower() + " \n"
    assert typed.strip() != ticket.code
    body = (await _scan_json(client, event, csrf, typed)).json()
    assert body["verdict"] == "admitted" and body["ticket"]["id"] == ticket.id
    form = await client.post(f"/door/events/{event.id}/scan", data={"text": ticket.code.upper(), "csrf_token": csrf})
    assert "verdict-already_checked_in" in form.text
    # Still nothing for a code that is no ticket's, in any case.
    assert (await _scan_json(client, event, csrf, "nosuch code 12")).json()["verdict"] == "unknown"


async def test_booking_reference_shows_the_orders_tickets_to_admit(client, db):
    event, free, paid = await _event_with_types(db)
    [(amina, _), (rahim, _)] = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin"])
    await _book(db, event, paid, ["Zara Ahmed"])
    async with db.read() as session:
        order = await session.get(Order, amina.order_id)
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    typed = f" {order.reference[:3].lower()} {order.reference[3:].lower()}"
    found = await _scan_json(client, event, csrf, typed)
    assert found.status_code == 200
    body = found.json()
    assert body["verdict"] == "found" and body["headline"] == f"Booking {order.reference}"
    assert [(m["ticket_id"], m["name"], m["status"]) for m in body["matches"]] == [
        (amina.id, "Amina Khatun", "Not checked in"), (rahim.id, "Rahim Uddin", "Not checked in")]
    assert amina.code not in found.text and "example.org" not in found.text and "Zara" not in found.text
    assert await _check_in_rows(db, event) == 0  # a look-up, not a scan
    # Admit one of them by the match's ticket id, as the scanner's button does.
    admitted = (await _scan_json(client, event, csrf, "", ticket_id=rahim.id)).json()
    assert admitted["verdict"] == "admitted" and admitted["ticket"]["name"] == "Rahim Uddin"
    # The no-JavaScript page lists them with a "Check in" button each.
    page = await client.post(f"/door/events/{event.id}/scan", data={"text": order.reference, "csrf_token": csrf})
    assert f"Booking {order.reference}" in page.text and "Check in Amina Khatun" in page.text
    assert "Inside" in page.text  # Rahim
    button = await client.post(f"/door/events/{event.id}/scan", data={"ticket_id": str(amina.id), "csrf_token": csrf})
    assert "verdict-admitted" in button.text and "Amina Khatun" in button.text
    # Another event's ticket id is no ticket here.
    async with db.write() as session:
        other = await make_event(session)
        other_type = await make_ticket_type(session, other)
    [(stranger, _)] = await _book(db, other, other_type, ["Sam Jones"])
    assert (await _scan_json(client, event, csrf, "", ticket_id=stranger.id)).json()["verdict"] == "unknown"


async def test_name_search_finds_this_events_tickets_for_a_door_link(app, client, db):
    event, free, paid = await _event_with_types(db)
    await _book(db, event, free, ["Amina Khatun", "Rahim Uddin"])
    await _book(db, event, paid, ["Aminul Islam"])
    async with db.write() as session:
        other = await make_event(session)
        other_type = await make_ticket_type(session, other)
    await _book(db, other, other_type, ["Amina Other-Event"])
    path = await _create_door_link(app, db, event)
    assert (await _enter_pin(client, path, "482193")).status_code == 303

    response = await client.get(f"/door/events/{event.id}/search", params={"q": "amin"},
                                headers={"Accept": "application/json"})
    assert response.status_code == 200
    matches = response.json()["matches"]
    assert [(m["name"], m["type"], m["status"]) for m in matches] == [
        ("Amina Khatun", "Lawn seat", "Not checked in"), ("Aminul Islam", "Reserved chair", "Not paid (£5.00)")]
    assert set(matches[0]) == {"ticket_id", "name", "type", "tier", "status", "cancelled", "checked_in", "inside",
                               "unpaid"}
    assert "@" not in response.text and "Other-Event" not in response.text
    # Too short, or % and _ (no wildcards): nothing listed.
    short = await client.get(f"/door/events/{event.id}/search", params={"q": " a "}, headers={"Accept": "application/json"})
    assert short.status_code == 400 and short.json()["matches"] == []
    assert (await client.get(f"/door/events/{event.id}/search", params={"q": "%%"},
                             headers={"Accept": "application/json"})).json()["matches"] == []
    # The page without JavaScript.
    page = await client.get(f"/door/events/{event.id}/search", params={"q": "Rahim"})
    assert page.status_code == 200 and "Check in Rahim Uddin" in page.text and "Amina" not in page.text
    # Another event's door: refused.
    assert (await client.get(f"/door/events/{other.id}/search", params={"q": "amin"})).status_code == 403


async def test_name_search_is_limited_and_rate_limited(client, db):
    from ticketing import door, door_lookup

    event, free, _ = await _event_with_types(db)
    await _book(db, event, free, [f"Sam Person{i:02d}" for i in range(6)])
    await _book(db, event, free, [f"Sam Person{i:02d}" for i in range(6, 12)])
    await _door_staff(client, db, event)
    json_headers = {"Accept": "application/json"}
    body = (await client.get(f"/door/events/{event.id}/search", params={"q": "sam"}, headers=json_headers)).json()
    assert len(body["matches"]) == door_lookup.MAX_MATCHES == 10 and "type more" in body["detail"]
    for _ in range(door.SEARCH_LIMIT - 1):
        assert (await client.get(f"/door/events/{event.id}/search", params={"q": "sam"},
                                 headers=json_headers)).status_code == 200
    limited = await client.get(f"/door/events/{event.id}/search", params={"q": "sam"}, headers=json_headers)
    assert limited.status_code == 429 and limited.json()["matches"] == []


async def test_resent_scan_id_with_another_code_is_refused_as_a_conflict(client, db):
    event, free, _ = await _event_with_types(db)
    [(_, amina_qr), (rahim, rahim_qr)] = await _book(db, event, free, ["Amina Khatun", "Rahim Uddin"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    at = (utcnow() - dt.timedelta(minutes=1)).isoformat()
    first = (await _sync(client, event, csrf, [{"client_scan_id": "p-1", "text": amina_qr, "scanned_at": at}])).json()
    assert first["results"][0]["verdict"] == "admitted"
    # The same id again with the same scan: a harmless resend, answered as recorded.
    resend = (await _sync(client, event, csrf, [{"client_scan_id": "p-1", "text": amina_qr, "scanned_at": at}])).json()
    assert resend["results"][0]["verdict"] == "admitted" and resend["results"][0]["ticket"]["name"] == "Amina Khatun"
    # The same id with another ticket: refused as a conflict, without anyone's name, nothing recorded.
    rows = await _check_in_rows(db, event)
    for send in (lambda: _sync(client, event, csrf, [{"client_scan_id": "p-1", "text": rahim_qr, "scanned_at": at}]),
                 lambda: _scan_json(client, event, csrf, rahim.code, client_scan_id="p-1")):
        response = await send()
        result = response.json()["results"][0] if "results" in response.json() else response.json()
        assert result["verdict"] == "rejected" and result["conflict"] is True and result["ok"] is False
        assert result["ticket"] is None and "Amina" not in response.text and "different" in result["detail"]
    # ... and the other direction is another scan too.
    out = (await _sync(client, event, csrf, [{"client_scan_id": "p-1", "text": amina_qr, "scanned_at": at,
                                              "direction": "out"}])).json()["results"][0]
    assert out["verdict"] == "rejected" and out["conflict"] is True
    assert await _check_in_rows(db, event) == rows
    async with db.read() as session:
        assert (await session.get(Ticket, rahim.id)).checked_in_at is None


async def test_scanner_page_has_its_own_layout_without_sign_in(app, client, db):
    event, _, _ = await _event_with_types(db)
    path = await _create_door_link(app, db, event)
    assert (await _enter_pin(client, path, "482193")).status_code == 303
    page = await client.get(f"/door/events/{event.id}")
    assert page.status_code == 200 and 'id="scanner"' in page.text
    assert "Sign in" not in page.text and 'href="/login"' not in page.text
    assert "site-header" not in page.text and "What’s on" not in page.text
    assert '<meta name="robots" content="noindex">' in page.text


async def test_references_and_ticket_numbers_count_as_look_ups(client, db):
    from ticketing import door

    event, free, _ = await _event_with_types(db)
    [(amina, _)] = await _book(db, event, free, ["Amina Khatun"])
    await _door_staff(client, db, event)
    csrf = await _scanner_csrf(client, event)
    for _ in range(door.SEARCH_LIMIT):
        assert (await _scan_json(client, event, csrf, "", ticket_id=amina.id, direction="out")).status_code == 200
    # Walking the list by ticket number, a booking reference, a name or a payment: refused, nobody named.
    for response in (await _scan_json(client, event, csrf, "", ticket_id=amina.id),
                     await _scan_json(client, event, csrf, "ABCDEF"),
                     await client.get(f"/door/events/{event.id}/search", params={"q": "amina"},
                                      headers={"Accept": "application/json"}),
                     await client.post(f"/door/events/{event.id}/pay", data={"ticket_id": amina.id},
                                       headers={"X-CSRF-Token": csrf, "Accept": "application/json"})):
        assert response.status_code == 429 and "Amina" not in response.text
        assert response.json()["headline"] == "Too many look-ups"
    page = await client.post(f"/door/events/{event.id}/scan", data={"ticket_id": str(amina.id), "csrf_token": csrf})
    assert page.status_code == 429 and "Too many look-ups" in page.text
    # Scanning codes is never limited.
    assert (await _scan_json(client, event, csrf, amina.code)).json()["verdict"] == "admitted"
    async with db.read() as session:
        assert (await session.get(Ticket, amina.id)).inside is True
