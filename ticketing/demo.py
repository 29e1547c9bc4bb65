"""The demo programme's ticket types (ticketing's part of `denhub demo`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from ticketing.models import TicketType

# Ticket types per demo event slug prefix: (name, tier, price in pence, capacity, description)
DEMO_TICKETS = {
    "bangla-month": [
        ("Festival day pass", "free", 0, 300, "Music, poetry and workshops on any festival day."),
        ("Community supper", "community", 300, 60, "Shared supper; for residents, community groups, students and unwaged."),
        ("Supporter supper", "standard", 1200, 40, "Shared supper at the full price, helping to fund community places."),
    ],
    "outdoor-cinema": [
        ("Lawn seat", "free", 0, 120, "Bring a blanket."),
        ("Pay what you can", "pay_what_you_can", 200, 30, "A reserved chair; pay at least £2 at the gate."),
    ],
    "dragons-den": [
        ("Audience", "free", 0, 60, "Watch the pitches and vote for the people's choice."),
        ("Corporate guest", "corporate", 2500, 20, "For businesses supporting the evening."),
    ],
    "social-enterprise": [
        ("Community rate", "community", 500, 20, ""),
        ("Standard", "standard", 1500, 10, ""),
    ],
}


def _tickets_for(slug: str) -> list[tuple]:
    for prefix, tickets in DEMO_TICKETS.items():
        if slug.startswith(prefix):
            return tickets
    return []


async def load(*, session: AsyncSession, now: dt.datetime) -> list[TicketType]:
    """Ticket types for the demo events that have none yet; returns those added."""
    del now  # the ticket types do not depend on the date
    created = []
    for event in await session.scalars(select(Event).order_by(Event.id)):
        if await session.scalar(select(TicketType.id).where(TicketType.event_id == event.id).limit(1)):
            continue
        for position, (name, tier, price, capacity, description) in enumerate(_tickets_for(event.slug)):
            ticket_type = TicketType(event_id=event.id, name=name, tier=tier, price_pence=price,
                                     capacity=capacity, description=description, position=position,
                                     max_per_order=6)
            session.add(ticket_type)
            created.append(ticket_type)
    await session.flush()
    return created
