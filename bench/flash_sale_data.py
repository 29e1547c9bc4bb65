"""The flash sale's data: the sale event and the warm-up event, and what the database says afterwards
(tickets, orders, seats sold, confirmation emails queued and still unsent)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time

from bench.common import BenchError

SALE_SLUG, WARMUP_SLUG = "flash-sale", "flash-warm-up"
WARMUP_CAPACITY = 20
OUTBOX_DEADLINE_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class Sale:
    event_id: int
    type_id: int
    slug: str
    title: str
    capacity: int


def seed(url: str, capacity: int) -> dict[str, Sale]:
    """The sale event (`capacity` seats) and the warm-up event, by slug."""
    return asyncio.run(_seed(url, capacity))


async def _seed(url: str, capacity: int) -> dict[str, Sale]:
    """The sale event and the warm-up event, each with one free ticket type and no event-wide cap."""
    from events.models import Event, EventStatus
    from kernel.db import Database, utcnow
    from ticketing import services
    from ticketing.forms import TicketTypeInput

    db = Database(url)
    sales = {}
    try:
        async with db.write() as session:
            starts = utcnow() + dt.timedelta(days=14)
            for slug, title, seats in ((SALE_SLUG, "Flash sale: Bangla Month opening night", capacity),
                                       (WARMUP_SLUG, "Flash sale warm-up", WARMUP_CAPACITY)):
                event = Event(
                    slug=slug, title=title, summary="Free tickets, released all at once.", description="",
                    category="festival", venue_name="Soho House – Visitor Centre",
                    venue_address="Soho Avenue, Handsworth, Birmingham B18 5LB", starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=3), capacity=None, status=EventStatus.PUBLISHED.value,
                )
                session.add(event)
                await session.flush()
                data = TicketTypeInput(name="Free entry", description="", tier="free", price_pence=0,
                                       capacity=seats, sales_start=None, sales_end=None, max_per_order=10,
                                       position=0, is_active=True)
                ticket_type = await services.save_ticket_type(session=session, event_id=event.id, data=data)
                sales[slug] = Sale(event.id, ticket_type.id, slug, title, seats)
    finally:
        await db.dispose()
    return sales


@dataclasses.dataclass(frozen=True)
class Counts:
    tickets: int
    orders: int
    type_sold: int
    event_sold: int
    emails: int  # confirmation emails queued for this event
    emails_pending: int  # every email in the outbox not sent yet (any event)


async def _counts(url: str, sale: Sale) -> Counts:
    from sqlalchemy import func, select

    from events.models import Event
    from kernel.db import Database
    from kernel.mail import PENDING, OutboxMessage
    from ticketing.models import Order, Ticket, TicketType

    db = Database(url, pool_size=1)
    try:
        async with db.read() as s:
            tickets = await s.scalar(select(func.count(Ticket.id)).where(Ticket.event_id == sale.event_id))
            orders = await s.scalar(select(func.count(Order.id)).where(Order.event_id == sale.event_id))
            type_sold = await s.scalar(select(TicketType.sold).where(TicketType.id == sale.type_id))
            event_sold = await s.scalar(select(Event.tickets_sold).where(Event.id == sale.event_id))
            emails = await s.scalar(select(func.count(OutboxMessage.id))
                                    .where(OutboxMessage.subject == f"Your tickets: {sale.title}"))
            pending = await s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == PENDING))
    finally:
        await db.dispose()
    return Counts(tickets, orders, type_sold, event_sold, emails, pending)


def counts(url: str, sale: Sale) -> Counts:
    return asyncio.run(_counts(url, sale))


def wait_for_outbox(url: str, sale: Sale, deadline_s: float = OUTBOX_DEADLINE_SECONDS) -> float:
    """Seconds until every queued email was sent (the sender renders a PDF for each), or a BenchError."""
    started = time.monotonic()
    while True:
        pending = counts(url, sale).emails_pending
        if pending == 0:
            return time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            raise BenchError(f"{pending} emails were still unsent {deadline_s:g} s after the sale")
        time.sleep(0.25)
