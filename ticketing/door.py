"""Door check-in pages: the scanner, scan and sync APIs, the offline manifest, counts, door links."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from events.models import Event
from kernel import mail, ratelimit
from kernel.accounts import Role, verify_secret
from kernel.auth import DOOR_OR_LINK, MAX_ID, PUBLIC, client_address, csrf_token, guard, state_of
from kernel.db import utcnow
from kernel.tokens import hash_token
from kernel.web import render
from ticketing import checkin, checkin_writer, door_lookup, door_reports, services
from ticketing.door_access import (
    DoorAccess,
    DoorRefused,
    NoSuchEvent,
    active_link_of_session,
    check_access,
    close_link_session,
    door_events_of,
    open_link_session,
)
from ticketing.models import DoorLink, EventKey
from ticketing.signing import public_key_b64

MAX_SYNC_BATCH = 500
# Wrong PINs a door link takes in PIN_WINDOW_SECONDS, from all addresses together (an address is cheap to change).
PIN_MAX_FAILURES = 10
PIN_WINDOW_SECONDS = 900
PIN_BUCKET = "door-pin"
PIN_MIN_DIGITS = 6
EARLIEST_SCAN = dt.timedelta(days=2)  # offline scan times: from this long before the event (or today) ...
CLOCK_SKEW = dt.timedelta(minutes=5)  # ... up to this far ahead of our clock


async def load_door_link(request: Request, link_id, sid: str) -> DoorLink | None:
    """Used by kernel.auth.current_door_link: the active link whose session `sid` still is, or None."""
    if not isinstance(link_id, int) or not 0 < link_id <= MAX_ID:
        return None
    async with request.app.state.db.read() as session:
        return await session.scalar(active_link_of_session(link_id, sid))


async def allowed_event_ids(request: Request) -> set[int] | None:
    """Events this requester may scan for; None means all (organisers)."""
    user = state_of(request, "user")
    if user is not None and user.role == Role.ADMIN:
        return None
    ids: set[int] = set()
    if user is not None and user.role in (Role.DOOR_STAFF, Role.ORGANISER):
        async with request.app.state.db.read() as session:
            ids |= set(await session.scalars(door_events_of(user)))
    link = state_of(request, "door_link")
    if link is None and "session" in request.scope and request.session.get("door_link"):
        from kernel.auth import current_door_link

        link = await current_door_link(request)
    if link is not None:
        ids.add(link.event_id)
    return ids


async def door_access(request: Request) -> DoorAccess:
    """Who is asking, as the door's permission rule (door_access.check_access) needs it."""
    user = state_of(request, "user")
    link = state_of(request, "door_link")
    if link is None and "session" in request.scope and request.session.get("door_link"):
        from kernel.auth import current_door_link

        link = await current_door_link(request)
    return DoorAccess(
        everywhere=user is not None and user.role == Role.ADMIN,
        user_id=user.id if user is not None and user.role == Role.DOOR_STAFF else None,
        organiser_id=user.id if user is not None and user.role == Role.ORGANISER else None,
        link_event_id=link.event_id if link is not None else None,
    )


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, NoSuchEvent):
        return HTTPException(404, "There is no event with that number.")
    return HTTPException(403, "You are not on the door team for this event.")


async def door_event(request: Request) -> Event:
    """The event in the path, if this requester may scan for it (403 otherwise, 404 if there is none)."""
    event_id = request.path_params["event_id"]
    access = await door_access(request)
    async with request.app.state.db.read() as session:
        try:
            await session.run_sync(check_access, event_id=event_id, access=access)
        except (DoorRefused, NoSuchEvent) as exc:
            raise _refused(exc) from None
        return await session.get(Event, event_id)


def device_label(request: Request) -> str:
    user = state_of(request, "user")
    link = state_of(request, "door_link")
    if user is not None:
        return user.name[:64]
    return (link.label if link else "door")[:64]


# --- pages -----------------------------------------------------------------------------------------

@guard(DOOR_OR_LINK)
async def door_home(request: Request) -> Response:
    allowed = await allowed_event_ids(request)
    async with request.app.state.db.read() as session:
        stmt = select(Event).where(Event.status != "draft").order_by(Event.starts_at.desc())
        if allowed is not None:
            stmt = stmt.where(Event.id.in_(allowed or {-1}))
        events = list(await session.scalars(stmt.limit(50)))
    if allowed is not None and len(events) == 1 and state_of(request, "user") is None:
        return RedirectResponse(f"/door/events/{events[0].id}", status_code=303)
    return render(request, "door/home.html", {"events": events})


async def _counts(request: Request, event_id: int):
    async with request.app.state.db.read() as session:
        return await door_reports.counts(session=session, event_id=event_id)


async def _scanner_page(request: Request, event: Event, result: checkin.ScanResult | None, *,
                        status_code: int = 200, found: door_lookup.Found | None = None) -> Response:
    return render(request, "door/scanner.html", {
        "event": event, "counts": await _counts(request, event.id), "result": result, "found": found,
        "device": device_label(request), "csrf": csrf_token(request),
    }, headers={"Cache-Control": "no-store"}, status_code=status_code)


# Name searches, booking references and tickets chosen by number, per door device: one every 10 s on average
# is plenty at a door (most people show a code), and far too few to walk the attendee list.
SEARCH_LIMIT, SEARCH_WINDOW = 30, 300


async def lookups_allowed(request: Request) -> bool:
    """Whether this requester may look up one more booking reference or name (counted per device: the door
    link or account, and the address): enough for a busy door, too few to walk the attendee list."""
    user, link = state_of(request, "user"), state_of(request, "door_link")
    who = f"user {user.id}" if user is not None else f"link {link.id if link else request.session.get('door_link')}"
    async with request.app.state.db.write() as session:
        return await ratelimit.record_under_limit(session=session, bucket="door-search",
                                                  key=f"{who}:{client_address(request)}",
                                                  window_seconds=SEARCH_WINDOW, limit=SEARCH_LIMIT)


async def too_many_lookups(request: Request, event: Event) -> Response:
    found = door_lookup.Found("Too many look-ups", "Too many look-ups from this phone: wait a few minutes, "
                              "or scan the ticket's code.", [])
    if _wants_json(request):
        return JSONResponse({**found.as_json(), "verdict": "rejected"}, status_code=429)
    return await _scanner_page(request, event, None, found=found, status_code=429)


async def _by_reference(request: Request, event: Event, reference: str) -> door_lookup.Found | None:
    async with request.app.state.db.read() as session:
        matches = await door_lookup.by_reference(session=session, event_id=event.id, reference=reference)
    if not matches:
        return None
    return door_lookup.Found(f"Booking {reference}", f"{len(matches)} ticket{'s' if len(matches) != 1 else ''} in this "
                 "booking: admit each person who is here.", matches)


@guard(DOOR_OR_LINK)
async def scanner(request: Request) -> Response:
    return await _scanner_page(request, await door_event(request), None)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or \
        request.headers.get("content-type", "").startswith("application/json")


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/json")


async def _json_body(request: Request, limit: int = 256 * 1024) -> dict:
    if not _is_json(request):
        raise HTTPException(415, "Send this as JSON (Content-Type: application/json).")
    try:
        body = await request.body()
    except ClientDisconnect:  # a phone that lost its signal mid-upload: nothing to answer, nothing to log
        raise HTTPException(400, "The upload was cut off.") from None
    if len(body) > limit:
        raise HTTPException(413, "That request is too large.")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "The request body must be a JSON object.")
    return data


def _parse_time(value) -> dt.datetime | None:
    """An ISO time in UTC, or None (unreadable, or beyond what a datetime holds once in UTC)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
        return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None


def _scan_time(value, *, earliest: dt.datetime, latest: dt.datetime) -> tuple[dt.datetime | None, str]:
    """When an offline scan was made, by the phone's clock, if believable: not before `earliest`, not after
    `latest`. Otherwise None (the time it reaches us is used) and a note that says so."""
    if value is None or value == "":
        return None, ""
    at = _parse_time(value)
    if at is None:
        return None, "The phone's clock gave an unreadable scan time: the time the scan reached us is used."
    if not earliest <= at <= latest:
        return None, "The phone's clock looks wrong (scan time out of range): the time the scan reached us is used."
    return at, ""


def ticket_id_of(data: dict) -> int | None:
    """A ticket chosen at the door from a search (its id, as the scanner's JSON or the page's form sends it)."""
    value = data.get("ticket_id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        value = int(value)
    return value if type(value) is int and 0 < value < 2**53 else None


def _str(data: dict, key: str, limit: int) -> str:
    """A string the client sent, without NUL and lone surrogates (checkin.clean); the scanned text keeps
    them, for checkin to call it garbled."""
    value = data.get(key, "")
    if not isinstance(value, str):
        return ""
    return value[:limit] if key == "text" else checkin.clean(value[:limit])


@guard(DOOR_OR_LINK)
async def scan(request: Request) -> Response:
    mail.hold_off()  # a queue at the door comes before rendering the PDFs of queued confirmation emails
    if _is_json(request):
        # The scanner's own requests: the permission check runs in the scan's transaction (one trip to the
        # database for everything, see ticketing/checkin_writer.py); the page is not rendered.
        event_id = request.path_params["event_id"]
        access = await door_access(request)
        data = await _json_body(request, limit=8 * 1024)
        event = None
    else:
        event = await door_event(request)
        event_id, access = event.id, None
        data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    ticket_id = ticket_id_of(data)
    text = _str(data, "text", checkin.MAX_SCAN_CHARS + 1)
    # A booking reference read out at the door: the booking's tickets, each to admit (nothing recorded yet).
    reference = door_lookup.as_reference(text) if ticket_id is None else None
    if ticket_id is not None or reference is not None:
        # Both name people without their ticket's code: counted with the name searches, so that nobody walks
        # the attendee list by reference or by ticket number.
        event = event or await door_event(request)
        if not await lookups_allowed(request):
            return await too_many_lookups(request, event)
    if reference is not None:
        found = await _by_reference(request, event, reference)
        if found is not None:
            if _wants_json(request):
                return JSONResponse(found.as_json())
            return await _scanner_page(request, event, None, found=found)
    try:
        result = await checkin_writer.scan_idempotent(
            request.app.state.db, access=access, event_id=event_id, text=text, ticket_id=ticket_id,
            direction="out" if data.get("direction") == "out" else "in",
            device=_str(data, "device", 64) or device_label(request), gate=_str(data, "gate", 64),
            client_scan_id=_str(data, "client_scan_id", 64) or None,
        )
    except (DoorRefused, NoSuchEvent) as exc:
        raise _refused(exc) from None
    if event is None or _wants_json(request):
        return JSONResponse(result.as_json())
    return await _scanner_page(request, event, result)


@guard(DOOR_OR_LINK)
async def sync(request: Request) -> Response:
    """Offline scans uploaded in a batch; each is judged as at its scan time, replays answered as before."""
    event = await door_event(request)
    data = await _json_body(request)
    scans = data.get("scans")
    if not isinstance(scans, list):
        raise HTTPException(400, "Send {\"scans\": [...]}.")
    if len(scans) > MAX_SYNC_BATCH:
        raise HTTPException(413, f"Send at most {MAX_SYNC_BATCH} scans at a time.")
    # Answered in the order sent (results[i] is scans[i]'s), judged in the order scanned.
    results: list[dict | None] = [None] * len(scans)
    batch, positions, notes = [], [], []
    # A scan time is believed from a little before the event (or today, for an event still to come) up to
    # a few minutes ahead of our clock; a phone whose clock is off is told, and its scan timed on arrival.
    now = utcnow()
    earliest, latest = min(event.starts_at, now) - EARLIEST_SCAN, now + CLOCK_SKEW
    for position, item in enumerate(scans):
        if not isinstance(item, dict):
            results[position] = _rejected(None, "Not a scan", "Each scan must be a JSON object.")
            continue
        client_scan_id = _str(item, "client_scan_id", 64)
        if not client_scan_id:
            results[position] = _rejected(None, "Missing scan id", "Each scan needs a client_scan_id.")
            continue
        scanned_at, note = _scan_time(item.get("scanned_at"), earliest=earliest, latest=latest)
        positions.append(position)
        notes.append(note)
        batch.append({
            "event_id": event.id, "text": _str(item, "text", checkin.MAX_SCAN_CHARS + 1),
            "direction": "out" if item.get("direction") == "out" else "in",
            "device": _str(item, "device", 64) or device_label(request), "gate": _str(item, "gate", 64),
            "scanned_at": scanned_at, "client_scan_id": client_scan_id, "offline": True,
        })
    order = sorted(range(len(batch)), key=lambda i: batch[i]["scanned_at"] or now)
    judged = await checkin_writer.scan_many(request.app.state.db, [batch[i] for i in order])
    for i, result in zip(order, judged, strict=True):
        scan_id = batch[i]["client_scan_id"]
        if not isinstance(result, checkin.ScanResult):
            # Our fault, not the scan's: the phone keeps it queued and sends it again (the rest of the
            # batch is recorded meanwhile), so no check-in is lost to a passing failure.
            results[positions[i]] = {**_rejected(scan_id, "Not recorded yet", result), "retry": True}
            continue
        answer = results[positions[i]] = {"client_scan_id": scan_id, **result.as_json()}
        if notes[i]:
            answer["detail"] = f"{answer['detail']} {notes[i]}".strip()
    return JSONResponse({"results": results, "counts": _counts_json(await _counts(request, event.id))})


def _rejected(client_scan_id: str | None, headline: str, detail: str) -> dict:
    return {"client_scan_id": client_scan_id, "verdict": "rejected", "ok": False, "headline": headline,
            "detail": detail}


def _counts_json(counts) -> list[dict]:
    return [{"ticket_type_id": c.ticket_type_id, "name": c.name, "expected": c.expected,
             "checked_in": c.checked_in, "inside": c.inside} for c in counts]


@guard(DOOR_OR_LINK)
async def counts(request: Request) -> Response:
    event = await door_event(request)
    return JSONResponse({"event_id": event.id, "counts": _counts_json(await _counts(request, event.id))},
                        headers={"Cache-Control": "no-store"})


@guard(DOOR_OR_LINK)
async def manifest(request: Request) -> Response:
    """The public key and ticket list a scanner keeps to verify and admit while offline: keyed hashes of the
    codes and initials, never the codes or names (door_reports.manifest says why)."""
    event = await door_event(request)
    db = request.app.state.db
    code_key = secrets.token_bytes(32)  # a new one for each list: hashes of two lists cannot be matched up
    # Every open scanner asks again each minute: a read, and a write only for an event with no key yet.
    async with db.read() as session:
        key: EventKey | None = await session.get(EventKey, event.id)
        tickets = await door_reports.manifest(session=session, event_id=event.id, key=code_key)
    if key is None:
        async with db.write() as session:
            key = await services.ensure_event_key(session=session, event_id=event.id)
    return JSONResponse({
        "event_id": event.id, "title": event.title, "algorithm": "Ed25519",
        "public_key": public_key_b64(key.public_key), "generated_at": utcnow().isoformat(),
        "code_hash": "HMAC-SHA256/16", "code_key": base64.urlsafe_b64encode(code_key).rstrip(b"=").decode("ascii"),
        "tickets": tickets,
    }, headers={"Cache-Control": "no-store"})


# --- door links ------------------------------------------------------------------------------------

async def _pin_attempt_claimed(request: Request, link: DoorLink) -> bool:
    """Claim one PIN attempt for `link` before the PIN is checked (so a burst gets no more checks than the
    limit, in one worker or several); False when the link already had its PIN_MAX_FAILURES."""
    try:
        async with request.app.state.db.write() as session:
            await ratelimit.claim(session=session, window_seconds=PIN_WINDOW_SECONDS,
                                  limits=[(PIN_BUCKET, str(link.id), PIN_MAX_FAILURES)])
    except ratelimit.LimitReached:
        return False
    return True


@guard(PUBLIC)
async def door_link(request: Request) -> Response:
    token = request.path_params["token"]
    db = request.app.state.db
    async with db.read() as session:
        link = await session.scalar(select(DoorLink).where(DoorLink.token_hash == hash_token(token)))
        event = await session.get(Event, link.event_id) if link else None
    if link is None or not link.is_active:
        raise HTTPException(404, "This door link is not valid. Ask the organiser for a new one.")
    error = None
    status = 200
    if request.method == "POST":
        pin = str((await request.form()).get("pin", ""))[:32]
        if await _pin_attempt_claimed(request, link):
            right = await verify_secret(link.pin_hash, pin)
            if right:
                async with db.write() as session:  # only wrong PINs count: give this attempt back
                    await ratelimit.release(session=session, bucket=PIN_BUCKET, key=str(link.id))
            if right and len(pin) < PIN_MIN_DIGITS:
                error, status = (f"This door link's PIN is shorter than {PIN_MIN_DIGITS} digits, which is no longer "
                                 "accepted. Ask the organiser to make a new door link."), 403
            elif right:
                async with db.write() as session:
                    sid = await open_link_session(session=session, link=link)
                request.session.clear()
                request.session["door_link"] = link.id
                request.session["door_sid"] = sid
                return RedirectResponse(f"/door/events/{link.event_id}", status_code=303)
            else:
                error, status = "That PIN is not right.", 401
        else:
            error, status = ("Too many wrong PINs for this door link. Wait 15 minutes, or ask the organiser for a "
                             "new door link."), 429
    return render(request, "door/pin.html", {"link": link, "event": event, "error": error}, status_code=status)


@guard(DOOR_OR_LINK)
async def leave(request: Request) -> Response:
    """End this door-link session on the server: a copy of its cookie opens nothing afterwards."""
    sid = request.session.pop("door_sid", None)
    if isinstance(sid, str):
        async with request.app.state.db.write() as session:
            await close_link_session(session=session, sid=sid)
    request.session.pop("door_link", None)
    return RedirectResponse("/", status_code=303)


routes = [
    Route("/", door_home, methods=["GET"], name="door_home"),
    Route("/events/{event_id:int}", scanner, methods=["GET"], name="door_scanner"),
    Route("/events/{event_id:int}/scan", scan, methods=["POST"], name="door_scan"),
    Route("/events/{event_id:int}/sync", sync, methods=["POST"], name="door_sync"),
    Route("/events/{event_id:int}/counts", counts, methods=["GET"], name="door_counts"),
    Route("/events/{event_id:int}/manifest", manifest, methods=["GET"], name="door_manifest"),
    Route("/link/{token}", door_link, methods=["GET", "POST"], name="door_link"),
    Route("/leave", leave, methods=["POST"], name="door_leave"),
]
