"""Waiting lists: join when sold out; a freed seat is held for the first in line, who gets a claim link.

The seat of a cancelled ticket is not released while someone is waiting: it stays claimed and is offered.
If the offer expires the seat passes to the next person, and is released only when nobody is left.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from kernel import i18n
from kernel.db import utcnow
from kernel.tokens import hash_token
from ticketing import inventory
from ticketing.access import new_access
from ticketing.models import Order, OrderStatus, Ticket, TicketType, WaitlistEntry, WaitlistStatus
from ticketing.services import TicketingError, ensure_event_key, new_code, new_reference

# notify(session, entry, token) enqueues the offer email; injected so this module knows nothing of mail.
Notify = Callable[[AsyncSession, WaitlistEntry, str], Awaitable[None]]


class OfferInvalid(TicketingError):
    pass


async def join(*, session: AsyncSession, event: Event, ticket_type: TicketType, name: str, email: str) -> tuple[WaitlistEntry, bool]:
    """Add someone to a type's waiting list; returns (entry, created). Joining twice is harmless."""
    existing = await session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.ticket_type_id == ticket_type.id, WaitlistEntry.email == email,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
    )
    if existing is not None:
        return existing, False
    entry = WaitlistEntry(event_id=event.id, ticket_type_id=ticket_type.id, email=email, name=name.strip(),
                          language=i18n.current())
    session.add(entry)
    await session.flush()
    return entry, True


async def position(*, session: AsyncSession, entry: WaitlistEntry) -> int:
    ahead = await session.scalars(
        select(WaitlistEntry.id).where(
            WaitlistEntry.ticket_type_id == entry.ticket_type_id,
            WaitlistEntry.status == WaitlistStatus.WAITING.value,
            (WaitlistEntry.created_at < entry.created_at)
            | ((WaitlistEntry.created_at == entry.created_at) & (WaitlistEntry.id < entry.id)),
        )
    )
    return len(list(ahead)) + 1


async def offer_next(*, session: AsyncSession, ticket_type_id: int, offer_hours: float, notify: Notify,
                     now: dt.datetime | None = None) -> bool:
    """Offer a held seat to the first person waiting; False when nobody is waiting."""
    now = now or utcnow()
    entry = await session.scalar(
        select(WaitlistEntry)
        .where(WaitlistEntry.ticket_type_id == ticket_type_id, WaitlistEntry.status == WaitlistStatus.WAITING.value)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # two cancellations at once offer to two different people
    )
    if entry is None:
        return False
    token = secrets.token_urlsafe(24)
    entry.status = WaitlistStatus.OFFERED.value
    entry.offer_token_hash = hash_token(token)
    entry.offered_at = now
    entry.offer_expires_at = now + dt.timedelta(hours=offer_hours)
    await session.flush()
    await notify(session, entry, token)
    return True


async def expire_offers(*, session: AsyncSession, offer_hours: float, notify: Notify,
                        now: dt.datetime | None = None) -> int:
    """Expire overdue offers, passing each held seat to the next in line or releasing it."""
    now = now or utcnow()
    overdue = list(await session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.status == WaitlistStatus.OFFERED.value, WaitlistEntry.offer_expires_at <= now)
        .order_by(WaitlistEntry.offer_expires_at)
        .limit(100)
        .with_for_update(skip_locked=True)
    ))
    for entry in overdue:
        # The token hash stays, so the old link can say "expired" (410) rather than "not found".
        entry.status = WaitlistStatus.EXPIRED.value
        await session.flush()
        if not await offer_next(session=session, ticket_type_id=entry.ticket_type_id, offer_hours=offer_hours,
                                notify=notify, now=now):
            await inventory.release(session=session, event_id=entry.event_id, quantities={entry.ticket_type_id: 1})
    return len(overdue)


async def get_offer(*, session: AsyncSession, token: str) -> WaitlistEntry | None:
    if not token or len(token) > 100:
        return None
    return await session.scalar(select(WaitlistEntry).where(WaitlistEntry.offer_token_hash == hash_token(token)))


async def claim(*, session: AsyncSession, token: str, attendee_name: str,
                now: dt.datetime | None = None) -> Order:
    """Turn a live offer into an order with one ticket, using the seat held for it."""
    now = now or utcnow()
    entry = await get_offer(session=session, token=token)
    if entry is None:
        raise OfferInvalid("This offer link is not valid any more. It may have been used already.")
    if entry.status == WaitlistStatus.CLAIMED:
        raise OfferInvalid("This offer has already been claimed.")
    if entry.status != WaitlistStatus.OFFERED or entry.offer_expires_at is None or entry.offer_expires_at <= now:
        raise OfferInvalid("Sorry, this offer has expired and the place has passed to the next person.")
    name = attendee_name.strip()
    if not name or len(name) > 120:
        raise TicketingError("Enter the attendee's name.", {"attendee_name": "Enter the name of the person this ticket is for (up to 120 characters)."})
    # The conditional UPDATE makes a double submit (or a race with expiry) claim the seat only once.
    taken = await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == WaitlistStatus.OFFERED.value)
        .values(status=WaitlistStatus.CLAIMED.value)  # the hash stays: a second use is told "claimed"
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise OfferInvalid("This offer link is not valid any more. It may have been used already.")
    ticket_type = await session.get(TicketType, entry.ticket_type_id)
    price = ticket_type.price_pence if ticket_type.is_paid else 0
    access_token, access_hash = new_access()
    order = Order(
        event_id=entry.event_id, code=new_code(16), reference=new_reference(), email=entry.email,
        buyer_name=name, status=OrderStatus.AWAITING_PAYMENT.value if price else OrderStatus.CONFIRMED.value,
        total_pence=price, consent_at=now, created_at=now, access_hash=access_hash, language=i18n.current(),
    )
    order.access_token = access_token
    session.add(order)
    await session.flush()
    session.add(Ticket(code=new_code(12), order_id=order.id, event_id=entry.event_id,
                       ticket_type_id=entry.ticket_type_id, attendee_name=name, price_pence=price, created_at=now))
    entry.order_id = order.id
    await ensure_event_key(session=session, event_id=entry.event_id)
    await session.flush()
    return order


async def waiting_counts(*, session: AsyncSession, event_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(WaitlistEntry.ticket_type_id, WaitlistEntry.status)
        .where(WaitlistEntry.event_id == event_id,
               WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]))
    )
    counts: dict[int, int] = {}
    for type_id, _status in rows:
        counts[type_id] = counts.get(type_id, 0) + 1
    return counts
