"""When an organiser cancels an event (the event_cancelled extension point, kernel.hooks): every ticket and
booking of it is cancelled, its waiting lists closed, and each booker and each person waiting emailed once, in the
same transaction."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from kernel.db import utcnow
from ticketing import inventory, notices
from ticketing.models import Order, OrderStatus, Ticket, TicketStatus, WaitlistEntry, WaitlistStatus


async def cancel_bookings(*, session: AsyncSession, event: Event, base_url: str) -> None:
    """Cancel the event's valid tickets and open bookings in a few statements (an event can have 20,000
    tickets), and queue one email per booking that had tickets cancelled here."""
    now = utcnow()
    gone = (await session.execute(
        update(Ticket).where(Ticket.event_id == event.id, Ticket.status == TicketStatus.VALID.value)
        .values(status=TicketStatus.CANCELLED.value, cancelled_at=now)
        .returning(Ticket.id, Ticket.order_id, Ticket.ticket_type_id)
        .execution_options(synchronize_session=False)
    )).all()
    await session.execute(
        update(Order).where(Order.event_id == event.id, Order.status != OrderStatus.CANCELLED.value)
        .values(status=OrderStatus.CANCELLED.value, cancelled_at=now).execution_options(synchronize_session=False)
    )
    # Seats held for waiting-list offers go back with the sold ones; nobody will be offered a place now.
    held = (await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.event_id == event.id,
               WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]))
        .values(status=WaitlistStatus.EXPIRED.value)
        .returning(WaitlistEntry.ticket_type_id, WaitlistEntry.status, WaitlistEntry.offered_at,
                   WaitlistEntry.email, WaitlistEntry.name)
        .execution_options(synchronize_session=False)
    )).all()
    freed = Counter(row.ticket_type_id for row in gone)
    freed.update(row.ticket_type_id for row in held if row.offered_at is not None)
    if freed:
        await inventory.release(session=session, event_id=event.id, quantities=dict(freed))
    await notices.enqueue_cancelled(session=session, tickets=gone, title=event.title, by=notices.BY_EVENT,
                                    base_url=base_url)
    # Everyone still waiting (or holding an offer) hears once that the list is closed: only this call closed
    # those entries, so cancelling again finds none and writes nothing.
    await notices.enqueue_waitlist_closed(session=session, entries=held, event=event, base_url=base_url)
