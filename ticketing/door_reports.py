"""What the door and the organiser see of an event's check-ins: counts per ticket type, the duplicate
scans, and the ticket list a scanner keeps for offline use. Reads only; the verdicts are ticketing/checkin.py's."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.checkin import normalise_code
from ticketing.models import CheckIn, Order, OrderStatus, Ticket, TicketStatus, TicketType, Tier
from ticketing.signing import initials


@dataclass
class DoorCount:
    ticket_type_id: int | None
    name: str
    expected: int
    checked_in: int
    inside: int


async def counts(*, session: AsyncSession, event_id: int) -> list[DoorCount]:
    """Checked in / expected per ticket type, plus a total row (ticket_type_id None)."""
    rows = await session.execute(
        select(TicketType.id, TicketType.name, func.count(Ticket.id),
               func.count(Ticket.checked_in_at),
               func.coalesce(func.sum(cast(Ticket.inside, Integer)), 0))
        .join(Ticket, (Ticket.ticket_type_id == TicketType.id) & (Ticket.status == TicketStatus.VALID.value),
              isouter=True)
        .where(TicketType.event_id == event_id)
        .group_by(TicketType.id, TicketType.name, TicketType.position)
        .order_by(TicketType.position, TicketType.id)
    )
    result = [DoorCount(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]
    total = DoorCount(None, "All tickets", sum(c.expected for c in result), sum(c.checked_in for c in result),
                      sum(c.inside for c in result))
    return [*result, total]


@dataclass(frozen=True)
class DuplicateScan:
    """A scan of a ticket already admitted (or synced too late to count), for the organiser's door page."""

    scanned_at: dt.datetime
    device: str
    gate: str
    offline: bool
    verdict: str
    direction: str
    attendee_name: str
    ticket_code: str


async def duplicates(*, session: AsyncSession, event_id: int, limit: int = 50) -> list[DuplicateScan]:
    rows = await session.execute(
        select(CheckIn.scanned_at, CheckIn.device, CheckIn.gate, CheckIn.offline, CheckIn.verdict, CheckIn.direction,
               Ticket.attendee_name, Ticket.code)
        .outerjoin(Ticket, Ticket.id == CheckIn.ticket_id)
        .where(CheckIn.event_id == event_id, CheckIn.duplicate.is_(True))
        .order_by(CheckIn.recorded_at.desc(), CheckIn.id.desc()).limit(limit)
    )
    return [DuplicateScan(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "", r[7] or "") for r in rows]


MANIFEST_HASH_BYTES = 16  # of HMAC-SHA256: enough to tell an event's tickets apart, and short to download


def code_hash(key: bytes, code: str) -> str:
    """The keyed hash of a ticket code as a door device keeps it (base64url, no padding): HMAC-SHA256 of the
    normalised code (checkin.normalise_code), so a typed "k7qx 2m9r" finds the ticket "K7QX2M9R".
    static/js/door/verify.js's codeHash computes the same."""
    digest = hmac.new(key, normalise_code(code).encode("ascii"), hashlib.sha256).digest()[:MANIFEST_HASH_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def manifest(*, session: AsyncSession, event_id: int, key: bytes) -> list[dict]:
    """The ticket list a scanner keeps for offline use: what verification needs and no more.

    Least privilege (anyone with the door link and its PIN gets this list, no account needed):
    - no ticket codes: each ticket's code as a keyed hash (code_hash) under `key`, a new random key for each
      list. A device checks a typed code, or a QR's signed code, by hashing it the same way; the list alone
      gives no code back (a normalised code has about 84 bits; the key defeats tables made beforehand).
    - no names: the initials the ticket's signed QR already carries (signing.initials), which is what a
      volunteer compares with the person offline. Full names are shown only by the server, one ticket at a
      time (a scan, a booking reference, a name search), and never in bulk.
    - no emails, no booking references, no order codes.
    The ticket's id is kept so that the server's answers (which name tickets by id, never by code) update
    the kept list; whether it needs paying is per ticket (a free ticket in an unpaid order does not)."""
    rows = await session.execute(
        select(Ticket.id, Ticket.code, Ticket.attendee_name, Ticket.ticket_type_id, TicketType.name, TicketType.tier,
               Ticket.status, Order.status, Ticket.price_pence, Ticket.checked_in_at, Ticket.inside,
               Ticket.checked_in_device, Ticket.checked_in_gate)
        .join(TicketType, Ticket.ticket_type_id == TicketType.id).join(Order, Ticket.order_id == Order.id)
        .where(Ticket.event_id == event_id).order_by(Ticket.id)
    )
    return [
        {"id": r[0], "h": code_hash(key, r[1]), "initials": initials(r[2]), "type_id": r[3], "type": r[4],
         "tier": r[5], "tier_label": Tier(r[5]).label, "status": r[6],
         "unpaid": r[7] == OrderStatus.AWAITING_PAYMENT and r[8] > 0, "price_pence": r[8],
         "checked_in_at": r[9].isoformat() if r[9] else None, "inside": bool(r[10]),
         "checked_in_device": r[11] or "", "checked_in_gate": r[12] or ""}
        for r in rows
    ]
