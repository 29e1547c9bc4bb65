"""Capacity arithmetic: seats are claimed and released only by atomic conditional UPDATEs.

`sold + n <= capacity` is checked by the database in the same statement that adds `n`, so two requests
can never both take the last seat: SQLite runs write transactions one at a time (BEGIN IMMEDIATE), and
PostgreSQL re-checks the WHERE clause on the updated row after waiting for a concurrent writer.
"""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from kernel import sqlite_direct
from kernel.i18n import gettext as _
from ticketing.models import TicketType


class SoldOut(Exception):
    """Not enough seats left; `ticket_type_id` is None when the event-wide capacity is what ran out."""

    def __init__(self, ticket_type_id: int | None, name: str = ""):
        self.ticket_type_id = ticket_type_id
        self.name = name
        what = f"“{name}” tickets" if name else "This event"
        super().__init__(f"Sorry, {what} {'are' if name else 'is'} sold out or there are not enough left.")


def sold_out_message(exc: SoldOut) -> str:
    """What the visitor is told, in their language (the exception's own text stays English, for logs)."""
    if exc.name:
        return _("Sorry, “%(name)s” tickets are sold out or there are not enough left.", name=exc.name)
    return _("Sorry, this event is sold out or there are not enough left.")


def seats_left(capacity: int | None, sold: int) -> int | None:
    """Remaining seats, never negative; None means no limit."""
    return None if capacity is None else max(0, capacity - sold)


def combined_left(type_capacity: int | None, type_sold: int, event_capacity: int | None,
                  event_sold: int) -> int | None:
    """Seats a buyer can still get of one type, given the type's and the event's limits."""
    limits = [x for x in (seats_left(type_capacity, type_sold), seats_left(event_capacity, event_sold))
              if x is not None]
    return min(limits) if limits else None


# The claims, built once (a booking rush runs them for every booking). `sold + n <= capacity` is checked by
# the database in the statement that adds n.
_CLAIM_TYPE = (
    update(TicketType)
    .where(
        TicketType.id == bindparam("claim_type"),
        TicketType.event_id == bindparam("claim_event"),
        (TicketType.capacity.is_(None)) | (TicketType.sold + bindparam("claim_n") <= TicketType.capacity),
    )
    .values(sold=TicketType.sold + bindparam("claim_n"))
    .execution_options(synchronize_session=False)
)
_CLAIM_EVENT = (
    update(Event)
    .where(Event.id == bindparam("claim_event"),
           (Event.capacity.is_(None)) | (Event.tickets_sold + bindparam("claim_total") <= Event.capacity))
    # updated_at kept: it says when the organiser last edited the event (booking_state watches it), not
    # when a seat last sold.
    .values(tickets_sold=Event.tickets_sold + bindparam("claim_total"), updated_at=Event.updated_at)
    .execution_options(synchronize_session=False)
)


async def claim(*, session: AsyncSession, event_id: int, quantities: dict[int, int],
                names: dict[int, str] | None = None) -> None:
    """Claim seats for every ticket type and the event in the caller's transaction, or raise SoldOut.

    Types are updated in id order so concurrent orders for several types cannot deadlock.
    """
    names = names or {}
    total = 0
    for type_id in sorted(quantities):
        n = quantities[type_id]
        if n <= 0:
            continue
        result = await sqlite_direct.execute(session, _CLAIM_TYPE,
                                             {"claim_type": type_id, "claim_event": event_id, "claim_n": n})
        if result.rowcount != 1:
            raise SoldOut(type_id, names.get(type_id, ""))
        total += n
    if total:
        result = await sqlite_direct.execute(session, _CLAIM_EVENT, {"claim_event": event_id, "claim_total": total})
        if result.rowcount != 1:
            raise SoldOut(None)


async def release(*, session: AsyncSession, event_id: int, quantities: dict[int, int]) -> None:
    """Give seats back (a cancellation with nobody waiting)."""
    total = 0
    for type_id in sorted(quantities):
        n = quantities[type_id]
        if n <= 0:
            continue
        await session.execute(
            update(TicketType).where(TicketType.id == type_id, TicketType.sold >= n)
            .values(sold=TicketType.sold - n).execution_options(synchronize_session=False)
        )
        total += n
    if total:
        await session.execute(
            update(Event).where(Event.id == event_id, Event.tickets_sold >= total)
            .values(tickets_sold=Event.tickets_sold - total, updated_at=Event.updated_at)
            .execution_options(synchronize_session=False)
        )
