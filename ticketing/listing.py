"""What ticketing adds to events' pages through the kernel's extension points: the price and what is left on
listing cards (event_card_facts), and an event's ticketing pages for organisers (organiser_event_links)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.accounts import Role
from kernel.db import utcnow
from kernel.hooks import CardFact, Link
from kernel.i18n import gettext as _
from kernel.web import pence
from ticketing.inventory import combined_left, seats_left
from ticketing.models import TicketType, Tier
from ticketing.services import sales_state

FEW_LEFT = 10  # as the event page's "Only N left"


def organiser_links(event) -> list[Link]:
    base = f"/organiser/events/{event.id}"
    organising = frozenset({Role.ADMIN.value, Role.ORGANISER.value})
    return [Link("Ticket types", f"{base}/tickets", organising),
            Link("Attendees", f"{base}/attendees", organising | {Role.TREASURER.value}),
            Link("Door", f"{base}/door", organising), Link("Badges", f"{base}/badges", organising)]


def price_text(types: Sequence[TicketType]) -> str:
    """'Free', '£5.00', or 'From £3.00' (the cheapest paid ticket) when prices differ; pay what you can counts
    its minimum."""
    prices = sorted({0 if t.tier == Tier.FREE else t.price_pence for t in types})
    paid = [p for p in prices if p > 0]
    if not paid:
        return _("Free")
    if len(prices) == 1:
        return pence(paid[0])
    if prices[0] == 0:
        return _("Free, or from %(price)s", price=pence(paid[0]))
    return _("From %(price)s", price=pence(paid[0]))


def seats_text(event, types: Sequence[TicketType], now) -> str | None:
    """'Sold out' when no ticket on sale (or coming on sale) is left, 'Few left' at FEW_LEFT or fewer."""
    selling = [t for t in types if sales_state(t, now) != "closed"]
    if not selling:
        return None
    lefts = [combined_left(t.capacity, t.sold, event.capacity, event.tickets_sold) for t in selling]
    left = None if None in lefts else sum(lefts)
    event_left = seats_left(event.capacity, event.tickets_sold)
    if event_left is not None:
        left = event_left if left is None else min(left, event_left)
    if left == 0:
        return _("Sold out")
    if left is not None and left <= FEW_LEFT:
        return _("Few left")
    return None


async def card_facts(session: AsyncSession, events: Sequence) -> dict[int, list[CardFact]]:
    """For each listed event with ticket types: its price and, while it can be booked, whether it is sold out or
    nearly (one query for the whole listing)."""
    if not events:
        return {}
    rows = await session.scalars(
        select(TicketType).where(TicketType.event_id.in_([e.id for e in events]), TicketType.is_active.is_(True))
    )
    by_event: dict[int, list[TicketType]] = defaultdict(list)
    for t in rows:
        by_event[t.event_id].append(t)
    now = utcnow()
    facts: dict[int, list[CardFact]] = {}
    for event in events:
        types = by_event.get(event.id)
        if not types:
            continue
        found = [CardFact(price_text(types), "price")]
        seats = None if event.is_cancelled else seats_text(event, types, now)
        if seats:
            found.append(CardFact(seats, "availability"))
        facts[event.id] = found
    return facts
