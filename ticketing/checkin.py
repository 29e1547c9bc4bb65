"""Door check-in: one verdict per scan, the first admission wins, every scan recorded.

Verdicts: admitted, readmitted (after a check-out), already_checked_in, cancelled, unpaid, wrong_event,
unknown (not a ticket of ours), forged (bad signature), checked_out, not_inside,
late (an offline scan synced after later movements of the ticket); rejected (not judged).

What a scan answers (Verdict, ScanResult) is in ticketing/scan_results.py. Who may scan is
ticketing/door_access.py's rule; counts, duplicates and the offline ticket list are in
ticketing/door_reports.py; the tables (CheckIn, DoorAssignment, DoorLink) in ticketing/models.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import Connection, Integer, String, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kernel.db import UTCDateTime, utcnow
from kernel.sqlite_direct import DirectSQLite, direct
from kernel.web import pence
from ticketing.keys import private_key
from ticketing.models import CheckIn, EventKey, Order, OrderStatus, Ticket, TicketStatus, TicketType
from ticketing.scan_results import DoorTicket, ScanResult, Verdict
from ticketing.signing import ForgedTicket, InvalidTicket, parse_unverified
from ticketing.signing import verify_ticket_remembered as verify_ticket

PLAIN_CODE_RE = re.compile(r"[A-Za-z0-9_-]{6,40}")
MAX_SCAN_CHARS = 512
_WHITESPACE_RE = re.compile(r"\s+")


def normalise_code(text: str) -> str:
    """A typed ticket code as it is compared: no spaces anywhere (people type codes in groups, a wedge
    scanner adds a newline) and lower case (a code read out or typed on a phone loses its case). The offline
    manifest's keyed hashes are of this form too (door_reports.manifest, static/js/door/decide.js)."""
    return _WHITESPACE_RE.sub("", text).lower()


def clean(value: str) -> str:
    """`value` without NUL characters (PostgreSQL refuses them in text) and lone surrogates (a JSON "\\ud800"
    escape: no UTF-8 encoder takes them). Cheap on the usual ASCII text."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():
        return value
    return value.encode("utf-8", "ignore").decode("utf-8")


def is_clean(value: str) -> bool:
    return "\x00" not in value and (value.isascii() or clean(value) == value)


# --- judging a scan ----------------------------------------------------------------------------------
# Synchronous code on a Session's connection, with Core statements (the ORM's object loading cost more than
# the queries): `scan` runs it in the caller's async transaction (AsyncSession.run_sync), and
# ticketing/checkin_writer.py runs it in a transaction of its own.

_tickets, _orders, _types = Ticket.__table__, Order.__table__, TicketType.__table__
_check_ins, _keys = CheckIn.__table__, EventKey.__table__

_TICKET = (
    select(_tickets.c.id, _tickets.c.code, _tickets.c.attendee_name, _tickets.c.event_id, _tickets.c.ticket_type_id,
           _tickets.c.order_id, _tickets.c.price_pence, _tickets.c.status, _tickets.c.checked_in_at,
           _tickets.c.checked_in_device, _tickets.c.checked_in_gate, _tickets.c.inside,
           _types.c.name.label("type_name"), _types.c.tier, _orders.c.status.label("order_status"))
    .join(_orders, _orders.c.id == _tickets.c.order_id).join(_types, _types.c.id == _tickets.c.ticket_type_id)
)
# The ticket's row is locked until the transaction ends on PostgreSQL (SQLite's write transactions already
# run one at a time): the state read with it is the truth for the one UPDATE that follows.
_TICKET_BY_CODE = _TICKET.where(_tickets.c.code == bindparam("code")).with_for_update(of=_tickets)
_TICKET_BY_ID = _TICKET.where(_tickets.c.id == bindparam("id"))
_TICKET_BY_ID_LOCKED = _TICKET_BY_ID.with_for_update(of=_tickets)
# A typed code that matched no code exactly: the event's tickets, case and spaces ignored (two at most, to
# tell a unique match from an ambiguous one). Reads the event's tickets; only typed codes come here.
_TICKET_BY_TYPED_CODE = (_TICKET.where(_tickets.c.event_id == bindparam("event_id"),
                                       func.lower(_tickets.c.code) == bindparam("code"))
                         .limit(2).with_for_update(of=_tickets))
# What an unpaid order still owes: its valid tickets that have a price.
_ORDER_DUE = select(func.coalesce(func.sum(_tickets.c.price_pence), 0), func.count(_tickets.c.id)).where(
    _tickets.c.order_id == bindparam("order_id"), _tickets.c.status == TicketStatus.VALID.value,
    _tickets.c.price_pence > 0)
_EVENT_KEY = select(_keys.c.public_key, _keys.c.private_key).where(_keys.c.event_id == bindparam("event_id"))
_PREVIOUS = select(_check_ins.c.verdict, _check_ins.c.ticket_id, _check_ins.c.event_id, _check_ins.c.scanned_text,
                   _check_ins.c.direction).where(
    _check_ins.c.client_scan_id == bindparam("client_scan_id"))
_STATE = select(_tickets.c.checked_in_at, _tickets.c.checked_in_device, _tickets.c.checked_in_gate,
                _tickets.c.inside).where(_tickets.c.id == bindparam("ticket_id"))
# Built once: a statement built per scan cost more than running it.
_AT = bindparam("at", type_=UTCDateTime())
_FIRST_ADMISSION = (
    update(_tickets).where(_tickets.c.id == bindparam("ticket_id"), _tickets.c.checked_in_at.is_(None))
    .values(checked_in_at=_AT, checked_in_device=bindparam("by"), checked_in_gate=bindparam("at_gate"), inside=True))
_BACK_IN = update(_tickets).where(_tickets.c.id == bindparam("ticket_id"), _tickets.c.inside.is_(False)).values(
    inside=True)
_EARLIER_ADMISSION = (
    update(_tickets).where(_tickets.c.id == bindparam("ticket_id"), _tickets.c.checked_in_at > _AT)
    .values(checked_in_at=_AT, checked_in_device=bindparam("by"), checked_in_gate=bindparam("at_gate")))
# The scan that had been the first admission, once an earlier offline scan took its place.
_NOW_DUPLICATE = (
    update(_check_ins).where(_check_ins.c.ticket_id == bindparam("of_ticket"), _check_ins.c.verdict == "admitted",
                             _check_ins.c.duplicate.is_(False), _check_ins.c.scanned_at > _AT)
    .values(duplicate=True))
# An entry or exit of the ticket recorded as made after `at` (offline scans only: see _moved_since).
_MOVED_SINCE = select(_check_ins.c.id).where(
    _check_ins.c.ticket_id == bindparam("ticket_id"), _check_ins.c.scanned_at > _AT,
    _check_ins.c.verdict.in_(["admitted", "readmitted", "checked_out"])).limit(1)
_OUT = update(_tickets).where(_tickets.c.id == bindparam("ticket_id"), _tickets.c.inside.is_(True)).values(
    inside=False)
_RECORD = insert(_check_ins)

# Event keys never change once made, so every worker may keep them (both halves: with the private one a
# ticket we issued is recognised by signing its claims again, cheaper than verifying, see
# signing.verify_ticket_remembered). A key that fails to verify is read again before the scan is called
# forged (an event deleted and its number reused on SQLite).
_event_keys: dict[tuple[str, int], tuple[bytes, bytes]] = {}


def _event_key(conn: Connection, event_id: int, *, fresh: bool = False) -> tuple[bytes, bytes] | None:
    """(public, private) key of the event, or None when it has none."""
    cache_key = (str(conn.engine.url), event_id)
    pair = None if fresh else _event_keys.get(cache_key)
    if pair is None:
        row = conn.execute(_EVENT_KEY, {"event_id": event_id}).first()
        if row is None:
            return None
        pair = _event_keys[cache_key] = (bytes(row.public_key), private_key(row.private_key))
    return pair


def _door_ticket(row) -> DoorTicket:
    return DoorTicket(id=row.id, code=row.code, attendee_name=row.attendee_name, event_id=row.event_id,
                      ticket_type_id=row.ticket_type_id, order_id=row.order_id, price_pence=row.price_pence,
                      type_name=row.type_name, tier=row.tier,
                      unpaid=row.order_status == OrderStatus.AWAITING_PAYMENT and row.price_pence > 0)


def order_due(conn: Connection, order_id: int) -> tuple[int, int]:
    """(pence, tickets) an unpaid order still owes: its valid tickets that have a price."""
    due = conn.execute(_ORDER_DUE, {"order_id": order_id}).one()
    return int(due[0]), int(due[1])


def _resolve(conn: Connection, text: str, event_id: int, ticket_id: int | None = None
             ) -> tuple[Verdict | None, object | None, str]:
    """The ticket row a scan names (or `ticket_id`, chosen at the door from a search), or the verdict that
    says why not."""
    if ticket_id is not None:
        row = conn.execute(_TICKET_BY_ID_LOCKED, {"id": ticket_id}).first()
        if row is None or row.event_id != event_id:  # nothing said about other events' tickets
            return Verdict.UNKNOWN, None, "No ticket with that number for this event."
        return None, row, ""
    text = (text or "").strip()
    if not text or len(text) > MAX_SCAN_CHARS:
        return Verdict.UNKNOWN, None, "Nothing readable was scanned." if not text else "The code is too long."
    if not is_clean(text):
        return Verdict.UNKNOWN, None, "Garbled code: it has characters no ticket has."
    if text.startswith("DH1."):
        try:
            claims = parse_unverified(text)
        except InvalidTicket:
            return Verdict.UNKNOWN, None, "This QR code is damaged or not one of our tickets."
        pair = _event_key(conn, claims.event_id)
        if pair is None:
            return Verdict.FORGED, None, "The code claims an event we never issued tickets for."
        try:
            try:
                claims = verify_ticket(pair[0], text, pair[1])
            except ForgedTicket:
                fresh = _event_key(conn, claims.event_id, fresh=True)
                if fresh is None or fresh == pair:
                    raise
                claims = verify_ticket(fresh[0], text, fresh[1])
        except ForgedTicket:
            return Verdict.FORGED, None, "The signature does not match: this ticket was not issued by us."
        except InvalidTicket:
            return Verdict.UNKNOWN, None, "This QR code is damaged or not one of our tickets."
        row = conn.execute(_TICKET_BY_CODE, {"code": claims.ticket_code}).first()
        if row is None or row.ticket_type_id != claims.ticket_type_id or row.event_id != claims.event_id:
            return Verdict.FORGED, None, "The signed details do not match any ticket."
        return None, row, ""
    text = _WHITESPACE_RE.sub("", text)
    if not PLAIN_CODE_RE.fullmatch(text):
        return Verdict.UNKNOWN, None, "That is not a ticket code."
    row = conn.execute(_TICKET_BY_CODE, {"code": text}).first()
    if row is None:  # typed: in another case, or with spaces (gone above)
        rows = conn.execute(_TICKET_BY_TYPED_CODE, {"event_id": event_id, "code": text.lower()}).all()
        if len(rows) > 1:
            return Verdict.UNKNOWN, None, "More than one ticket has that code in another case: type it exactly."
        row = rows[0] if rows else None
    if row is None:
        return Verdict.UNKNOWN, None, "No ticket has that code."
    return None, row, ""


async def scan(*, session: AsyncSession, event_id: int, text: str, direction: str = "in", device: str = "",
               gate: str = "", scanned_at: dt.datetime | None = None, client_scan_id: str | None = None,
               offline: bool = False, now: dt.datetime | None = None, check_replay: bool = True,
               ticket_id: int | None = None) -> ScanResult:
    """Judge one scan at the door of `event_id` and record it, in the caller's transaction.

    With check_replay=False a repeated client_scan_id is not looked for first: the check-in row's unique
    constraint then raises IntegrityError, and the caller retries with the check (checkin_writer does)."""
    return await session.run_sync(
        judge, event_id=event_id, text=text, direction=direction, device=device, gate=gate, scanned_at=scanned_at,
        client_scan_id=client_scan_id, offline=offline, now=now, check_replay=check_replay, ticket_id=ticket_id)


def judge(session: Session, *, event_id: int, text: str, direction: str = "in", device: str = "", gate: str = "",
          scanned_at: dt.datetime | None = None, client_scan_id: str | None = None, offline: bool = False,
          now: dt.datetime | None = None, check_replay: bool = True, records: list[dict] | None = None,
          recorded: dict | None = None, ticket_id: int | None = None) -> ScanResult:
    """`scan` on a synchronous session (the rules themselves).

    With `records`, the scan's check-in row is appended there for the caller to insert (with the rest of a
    group, in one statement) instead of being inserted now; the ticket's own state is written at once. With
    `recorded` (scan id -> row of _PREVIOUS, from recorded_scans), a replay is looked up there, not queried."""
    session.flush()  # the caller's pending changes (pay and admit: the order just marked paid) come first
    conn = direct(session.connection())
    now = now or utcnow()
    scanned_at = min(scanned_at or now, now)  # a device clock ahead of ours must not win "first scan"
    device, gate = device[:64], gate[:64]
    if client_scan_id and check_replay:
        previous = (recorded.get(client_scan_id) if recorded is not None
                    else conn.execute(_PREVIOUS, {"client_scan_id": client_scan_id}).first())
        if previous is not None:  # a replayed offline batch: same answer, nothing counted twice
            return _replay(conn, previous, event_id, _scanned_text(text, ticket_id), direction)
    verdict, row, detail = _resolve(conn, text, event_id, ticket_id)
    result = ScanResult(Verdict.UNKNOWN, ticket=_door_ticket(row) if row is not None else None)
    duplicate = False
    if verdict is None and row.event_id != event_id:
        verdict, detail = Verdict.WRONG_EVENT, "This ticket is for a different event."
    if verdict is None:
        state = {"checked_in_at": row.checked_in_at, "checked_in_device": row.checked_in_device,
                 "checked_in_gate": row.checked_in_gate, "inside": row.inside}
        if row.status == TicketStatus.CANCELLED:
            verdict = Verdict.CANCELLED
            detail = "This ticket was cancelled and is not valid."
        elif direction == "out":
            if offline and records:  # an offline scan reads the ticket's recorded movements: write them first
                insert_records(session, records)
            verdict, duplicate = _check_out(conn, row.id, state, scanned_at, offline=offline)
        elif row.order_status == OrderStatus.AWAITING_PAYMENT and row.price_pence > 0:
            # A free ticket in the same order is admitted as free (the branch below): only a ticket with a
            # price waits for the money, and the amount asked is what the order still owes.
            verdict = Verdict.UNPAID
            result.amount_due_pence, result.due_tickets = order_due(conn, row.order_id)
            detail = (f"Take {pence(result.amount_due_pence)} for this order"
                      f"{f' ({result.due_tickets} tickets)' if result.due_tickets > 1 else ''}, "
                      "then mark it paid and admit.")
        else:
            if offline and records:
                insert_records(session, records)
            verdict, duplicate = _admit(conn, row.id, state, scanned_at, device, gate, offline=offline)
        if verdict == Verdict.LATE:
            detail = "Scanned offline before this ticket's last recorded entry or exit: the counts are unchanged."
        result.first_checked_in_at = state["checked_in_at"]
        result.first_device, result.first_gate = state["checked_in_device"], state["checked_in_gate"]
        result.inside = bool(state["inside"])
    result.verdict, result.detail = verdict, detail
    (records.append if records is not None else lambda row: conn.execute(_RECORD, row))({
        "event_id": event_id, "ticket_id": row.id if row is not None else None,
        "scanned_text": _scanned_text(text, ticket_id),
        "verdict": verdict.value, "direction": "out" if direction == "out" else "in", "device": device, "gate": gate,
        "scanned_at": scanned_at, "recorded_at": now, "client_scan_id": client_scan_id, "offline": offline,
        "duplicate": duplicate,
    })
    return result


async def door_ticket(session: AsyncSession, ticket_id: int) -> DoorTicket:
    """What the door is told about a ticket, without a scan."""
    return _door_ticket((await session.execute(_TICKET_BY_ID, {"id": ticket_id})).one())


# SQLite only (ticketing/checkin_writer.py's groups): the recorded scans among a list of scan ids, in one query.
_RECORDED_AMONG = text(
    "SELECT client_scan_id, verdict, ticket_id, event_id, scanned_text, direction FROM check_in "
    "WHERE client_scan_id IN (SELECT value FROM json_each(:scan_ids))"
).columns(client_scan_id=String, verdict=String, ticket_id=Integer, event_id=Integer, scanned_text=String,
          direction=String)


def recorded_scans(session: Session, scan_ids: list[str]) -> dict | None:
    """{scan id: (verdict, ticket_id, event_id)} for those of `scan_ids` already recorded, on SQLite in one
    query (None elsewhere, or when SQLite cannot: judge then looks for each)."""
    conn = direct(session.connection())
    if not isinstance(conn, DirectSQLite):
        return None
    try:
        rows = conn.execute(_RECORDED_AMONG, {"scan_ids": json.dumps(scan_ids)}).all()
    except DBAPIError:
        return None
    return {row.client_scan_id: row for row in rows}


def insert_records(session: Session, records: list[dict]) -> None:
    """Insert check-in rows that judge() collected (one executemany) and empty the list."""
    if records:
        direct(session.connection()).execute(_RECORD, records)
        records.clear()


def _state_of(conn: Connection, ticket_id: int) -> dict:
    return dict(conn.execute(_STATE, {"ticket_id": ticket_id}).one()._mapping)


def _admit(conn: Connection, ticket_id: int, state: dict, scanned_at: dt.datetime, device: str,
           gate: str, *, offline: bool) -> tuple[Verdict, bool]:
    # The state was read under the write lock (SQLite) or the row lock (PostgreSQL), so it picks the one
    # UPDATE to make. The UPDATEs stay conditional all the same, and a miss reads the row again.
    params = {"ticket_id": ticket_id, "at": scanned_at, "by": device, "at_gate": gate}
    if state["checked_in_at"] is None:
        if conn.execute(_FIRST_ADMISSION, params).rowcount == 1:
            state.update(checked_in_at=scanned_at, checked_in_device=device, checked_in_gate=gate, inside=True)
            return Verdict.ADMITTED, False
        state.update(_state_of(conn, ticket_id))
    # First scan wins: an offline scan made before the recorded first admission is the first admission, and
    # the scan that had been is now the duplicate. Only offline: an online scan's time is when it reached us,
    # and two phones racing for the row lock would otherwise swap firsts (the loser told "already checked in
    # ... by" itself). Whether the ticket is inside stays as the later movements left it.
    if offline and state["checked_in_at"] > scanned_at:
        if conn.execute(_EARLIER_ADMISSION, params).rowcount == 1:
            conn.execute(_NOW_DUPLICATE, {"of_ticket": ticket_id, "at": scanned_at})
            state.update(checked_in_at=scanned_at, checked_in_device=device, checked_in_gate=gate)
            return Verdict.ADMITTED, False
        state.update(_state_of(conn, ticket_id))
    if not state["inside"]:
        if offline and _moved_since(conn, ticket_id, scanned_at):
            return Verdict.LATE, True
        if conn.execute(_BACK_IN, {"ticket_id": ticket_id}).rowcount == 1:
            state["inside"] = True
            return Verdict.READMITTED, False
        state.update(_state_of(conn, ticket_id))
    return Verdict.ALREADY_CHECKED_IN, True


def _check_out(conn: Connection, ticket_id: int, state: dict, scanned_at: dt.datetime, *,
               offline: bool) -> tuple[Verdict, bool]:
    if offline and state["inside"] and _moved_since(conn, ticket_id, scanned_at):
        return Verdict.LATE, True
    if conn.execute(_OUT, {"ticket_id": ticket_id}).rowcount == 1:
        state["inside"] = False
        return Verdict.CHECKED_OUT, False
    return Verdict.NOT_INSIDE, False


def _moved_since(conn: Connection, ticket_id: int, at: dt.datetime) -> bool:
    """Whether an entry or exit of the ticket was recorded as made after `at`: an offline scan older than
    that syncs too late to move the ticket in or out. One query, for offline scans that would move it."""
    return conn.execute(_MOVED_SINCE, {"ticket_id": ticket_id, "at": at}).first() is not None


def _scanned_text(text: str, ticket_id: int | None) -> str:
    """What the check-in row keeps of the scan (and what a resent scan id is compared with)."""
    return f"#ticket {ticket_id}" if ticket_id is not None else clean((text or "")[:80])


def _replay(conn: Connection, previous, event_id: int, scanned_text: str, direction: str) -> ScanResult:
    if previous.event_id != event_id:  # nothing of the other event's scan is told; nothing is recorded
        return ScanResult(Verdict.REJECTED, detail="This scan id was already used at another event's door. "
                                                   "Scan the ticket again.")
    if previous.scanned_text != scanned_text or previous.direction != ("out" if direction == "out" else "in"):
        # The same id with another code is another scan, not a resend: answering with the recorded scan would
        # show another person's name and admit nobody. Refused, nothing recorded; the phone sends it again
        # under a new id (static/js/door/sync.js).
        return ScanResult(Verdict.REJECTED, conflict=True,
                          detail="This scan id was already used for a different scan: not recorded. "
                                 "Scan the ticket again.")
    result = ScanResult(Verdict(previous.verdict), detail="Already synced.")
    if previous.ticket_id:
        row = conn.execute(_TICKET_BY_ID, {"id": previous.ticket_id}).one()
        result.ticket = _door_ticket(row)
        result.first_checked_in_at = row.checked_in_at
        result.first_device, result.first_gate = row.checked_in_device, row.checked_in_gate
        result.inside = bool(row.inside)
    return result
