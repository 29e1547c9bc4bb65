"""What the door and the organiser see of an event's check-ins: counts per ticket type, the duplicate
scans, and the ticket list a scanner keeps for offline use. Reads only; the verdicts are ticketing/checkin.py's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.models import CheckIn, Order, OrderStatus, Ticket, TicketStatus, TicketType, Tier


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


async def manifest(*, session: AsyncSession, event_id: int) -> list[dict]:
    """The ticket list a scanner keeps for offline use: codes, names, types and status."""
    rows = await session.execute(
        select(Ticket.code, Ticket.attendee_name, Ticket.ticket_type_id, TicketType.name, TicketType.tier,
               Ticket.status, Order.status, Ticket.checked_in_at, Ticket.inside, Ticket.checked_in_device,
               Ticket.checked_in_gate)
        .join(TicketType, Ticket.ticket_type_id == TicketType.id).join(Order, Ticket.order_id == Order.id)
        .where(Ticket.event_id == event_id).order_by(Ticket.id)
    )
    return [
        {"code": r[0], "name": r[1], "type_id": r[2], "type": r[3], "tier": r[4], "tier_label": Tier(r[4]).label,
         "status": r[5], "unpaid": r[6] == OrderStatus.AWAITING_PAYMENT, "checked_in_at": r[7].isoformat() if r[7] else None,
         "inside": bool(r[8]), "checked_in_device": r[9] or "", "checked_in_gate": r[10] or ""}
        for r in rows
    ]
