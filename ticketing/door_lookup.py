"""Finding a ticket at the door without its code: by the booking reference (read out from the confirmation
email) or by part of the attendee's name. Reads only, one event at a time.

Least privilege: a match says what the door needs to pick the right person and admit them (the attendee's
name, the ticket type, whether it is checked in, cancelled or still to pay) and nothing more: no email, no
ticket code (the door admits a match by its ticket id), at most MAX_MATCHES at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.web import pence
from ticketing.models import Order, OrderStatus, Ticket, TicketStatus, TicketType, Tier
from ticketing.services import REFERENCE_ALPHABET

MAX_MATCHES = 10
MIN_NAME_CHARS = 2
MAX_QUERY_CHARS = 80
_REFERENCE_RE = re.compile(rf"[{REFERENCE_ALPHABET}]{{6}}")
_SEPARATORS_RE = re.compile(r"[\s-]+")


def as_reference(text: str) -> str | None:
    """`text` as a booking reference (any case, spaces and dashes ignored), or None if it cannot be one."""
    candidate = _SEPARATORS_RE.sub("", text or "").upper()
    return candidate if _REFERENCE_RE.fullmatch(candidate) else None


@dataclass(frozen=True)
class DoorMatch:
    ticket_id: int
    name: str
    type_name: str
    tier: str
    cancelled: bool
    checked_in: bool
    inside: bool
    unpaid: bool  # the ticket has a price and its order is still to pay
    price_pence: int

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label

    @property
    def status(self) -> str:
        if self.cancelled:
            return "Cancelled"
        if self.checked_in:
            return "Inside" if self.inside else "Checked out"
        return f"Not paid ({pence(self.price_pence)})" if self.unpaid else "Not checked in"

    def as_json(self) -> dict:
        return {"ticket_id": self.ticket_id, "name": self.name, "type": self.type_name, "tier": self.tier_label,
                "status": self.status, "cancelled": self.cancelled, "checked_in": self.checked_in,
                "inside": self.inside, "unpaid": self.unpaid}


@dataclass(frozen=True)
class Found:
    """Tickets found without a code (a booking reference, a name search), each to admit by its id."""

    headline: str
    detail: str
    matches: list[DoorMatch]
    query: str = ""

    def as_json(self) -> dict:
        return {"verdict": "found", "ok": False, "headline": self.headline, "detail": self.detail,
                "matches": [m.as_json() for m in self.matches]}


_MATCH = (
    select(Ticket.id, Ticket.attendee_name, TicketType.name, TicketType.tier, Ticket.status, Ticket.checked_in_at,
           Ticket.inside, Order.status, Ticket.price_pence)
    .join(TicketType, TicketType.id == Ticket.ticket_type_id).join(Order, Order.id == Ticket.order_id)
)


def _match(r) -> DoorMatch:
    return DoorMatch(ticket_id=r[0], name=r[1], type_name=r[2], tier=r[3], cancelled=r[4] == TicketStatus.CANCELLED,
                     checked_in=r[5] is not None, inside=bool(r[6]),
                     unpaid=r[7] == OrderStatus.AWAITING_PAYMENT and r[8] > 0, price_pence=r[8])


async def by_reference(*, session: AsyncSession, event_id: int, reference: str) -> list[DoorMatch]:
    """The tickets of this event's orders with that booking reference (references are short: two orders may
    share one, rarely), at most MAX_MATCHES."""
    rows = await session.execute(
        _MATCH.where(Order.event_id == event_id, Order.reference == reference, Ticket.event_id == event_id)
        .order_by(Ticket.id).limit(MAX_MATCHES))
    return [_match(r) for r in rows]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def by_name(*, session: AsyncSession, event_id: int, query: str) -> tuple[list[DoorMatch], bool]:
    """This event's tickets whose attendee name contains `query` (any case), valid ones first; at most
    MAX_MATCHES, and whether there were more (type more of the name)."""
    pattern = f"%{_like_escape(' '.join(query.split()))}%"
    rows = list(await session.execute(
        _MATCH.where(Ticket.event_id == event_id, Ticket.attendee_name.ilike(pattern, escape="\\"))
        .order_by((Ticket.status == TicketStatus.CANCELLED.value), Ticket.attendee_name, Ticket.id)
        .limit(MAX_MATCHES + 1)))
    return [_match(r) for r in rows[:MAX_MATCHES]], len(rows) > MAX_MATCHES
