"""An event's attendees as organisers search and export them, read a page at a time.

An event can have 20,000 tickets, and on SQLite every statement of a request runs on the event loop's thread,
the one that answers the door's scans too. So no read here takes more than a page of rows, and the routes
read through Database.slow_read() (on SQLite, statements on aiosqlite's thread).

Pages follow the list's order (when the order was booked, then the ticket's id) by keyset: a page starts
after the last row of the page before, by those two values, which never change. A ticket is therefore on one
page only, even while people book, cancel and pay between two pages, and a page costs no more late in the
list than early (no OFFSET).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Row, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kernel.db import Database
from ticketing.models import Order, OrderStatus, Ticket, TicketType

LIST_PAGE = 100  # tickets on one page of the organiser's list (rendered in one go, on the event loop)
EXPORT_PAGE = 500  # rows of the CSV export read (and written out) at a time


@dataclass(frozen=True)
class AttendeeFilter:
    """What the organiser asked for: text in the name, email, ticket code or order reference; the state."""

    q: str = ""
    ticket_type_id: int | None = None
    status: str = ""  # "", "valid" or "cancelled"
    paid: str = ""  # "", "paid" or "unpaid"


Key = tuple[dt.datetime, int]  # (the order's created_at, the ticket's id): where a page ends


def matching(event_id: int, filters: AttendeeFilter) -> list:
    """The conditions for tickets of the event that match `filters`, on Ticket joined to its Order."""
    # A ticket's event is always its order's. Asked of the order, SQLite (which has no statistics unless
    # someone runs ANALYZE) walks the index of orders by event and booking time, the list's order, from where
    # the page starts to its last row; asked of the ticket too, it would pick the ticket's event index and
    # sort the whole event for every page.
    where = [Order.event_id == event_id]
    if filters.q.strip():
        # contains(autoescape=True): a search for "%" or "_" means those characters, not wildcards.
        text = filters.q.strip().lower()
        where.append(
            func.lower(Ticket.attendee_name).contains(text, autoescape=True)
            | func.lower(Order.email).contains(text, autoescape=True)
            | func.lower(Ticket.code).contains(text, autoescape=True)
            | func.lower(Order.reference).contains(text, autoescape=True)
        )
    if filters.ticket_type_id:
        where.append(Ticket.ticket_type_id == filters.ticket_type_id)
    if filters.status in ("valid", "cancelled"):
        where.append(Ticket.status == filters.status)
    if filters.paid == "unpaid":
        where.append(Order.status == OrderStatus.AWAITING_PAYMENT.value)
    elif filters.paid == "paid":
        where.append(Order.paid_at.is_not(None))
    return where


ORDER_BY = (Order.created_at, Ticket.id)


def _after(key: Key | None) -> list:
    if key is None:
        return []
    created_at, ticket_id = key
    # The first term says the same as the second, as a range the index can start from.
    return [Order.created_at >= created_at, or_(Order.created_at > created_at, Ticket.id > ticket_id)]


async def tickets_page(*, session: AsyncSession, event_id: int, filters: AttendeeFilter, after: Key | None = None,
                       limit: int = LIST_PAGE) -> list[Ticket]:
    """Up to `limit` matching tickets after `after`, in the list's order, with their orders and types."""
    stmt = (select(Ticket).join(Order, Ticket.order_id == Order.id)
            .where(*matching(event_id, filters), *_after(after))
            .options(selectinload(Ticket.order), selectinload(Ticket.ticket_type)))
    return list(await session.scalars(stmt.order_by(*ORDER_BY).limit(limit)))


async def count(*, session: AsyncSession, event_id: int, filters: AttendeeFilter) -> int:
    """How many tickets match."""
    stmt = select(func.count(Ticket.id)).join(Order, Ticket.order_id == Order.id)
    return await session.scalar(stmt.where(*matching(event_id, filters)))


async def key_of(*, session: AsyncSession, event_id: int, ticket_id: int) -> Key | None:
    """Where the list stands at a ticket of the event (None for a ticket not of this event)."""
    row = (await session.execute(
        select(Order.created_at, Ticket.id).join(Order, Ticket.order_id == Order.id)
        .where(Ticket.id == ticket_id, Ticket.event_id == event_id)
    )).first()
    return None if row is None else (row[0], row[1])


EXPORT_COLUMNS = (
    Ticket.id.label("ticket_id"), Ticket.code, Ticket.attendee_name, TicketType.name.label("type_name"), TicketType.tier,
    Ticket.price_pence, Ticket.status, Order.reference, Order.email, Order.status.label("order_status"),
    Order.paid_at, Order.community_declaration, Order.access_needs, Order.created_at.label("booked_at"),
    Order.organisation, Ticket.checked_in_at,
)


async def export_pages(db: Database, *, event_id: int, filters: AttendeeFilter,
                       page_size: int | None = None) -> AsyncIterator[list[Row]]:
    """Every matching ticket as plain rows (EXPORT_COLUMNS), a page at a time, in the list's order.

    Each page is its own short read, so nothing is held open while the caller sends the page on.
    """
    page_size = page_size or EXPORT_PAGE
    after: Key | None = None
    while True:
        async with db.slow_read() as session:
            rows = (await session.execute(
                select(*EXPORT_COLUMNS).join(Order, Ticket.order_id == Order.id)
                .join(TicketType, Ticket.ticket_type_id == TicketType.id)
                .where(*matching(event_id, filters), *_after(after))
                .order_by(*ORDER_BY).limit(page_size)
            )).all()
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        after = (rows[-1].booked_at, rows[-1].ticket_id)
