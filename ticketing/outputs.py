"""What a ticket turns into: the signed QR payload, PDF data, and calendar files."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from kernel.web import pence
from ticketing.keys import private_key
from ticketing.models import EventKey, Order, Ticket, Tier
from ticketing.signing import initials, sign_ticket


def qr_payload(key: EventKey, ticket: Ticket) -> str:
    """The signed payload in a ticket's QR (Ed25519 signatures are deterministic: same ticket, same QR)."""
    return sign_ticket(
        private_key(key.private_key), ticket_code=ticket.code, event_id=ticket.event_id,
        ticket_type_id=ticket.ticket_type_id, initials=initials(ticket.attendee_name),
    )


async def event_key(*, session: AsyncSession, event_id: int) -> EventKey | None:
    return await session.get(EventKey, event_id)


def ticket_doc(*, ticket: Ticket, order: Order, event: Event, key: EventKey):
    from ticketing.documents import TicketDoc

    return TicketDoc(
        code=ticket.code, attendee_name=ticket.attendee_name, ticket_type_name=ticket.ticket_type.name,
        # A free ticket's tier would say "Free" again next to its price.
        tier_label="" if ticket.ticket_type.tier == Tier.FREE else ticket.ticket_type.tier_label,
        price_label=pence(ticket.price_pence),
        event_title=event.title, starts_at=event.starts_at, ends_at=event.ends_at, venue_name=event.venue_name,
        venue_address=event.venue_address, order_ref=order.reference, qr_payload=qr_payload(key, ticket),
        status=ticket.status,
    )


async def order_docs(*, session: AsyncSession, order: Order, only_valid: bool = True) -> list:
    """TicketDoc for each ticket of a loaded order (tickets and types loaded)."""
    event = await session.get(Event, order.event_id)
    key = await session.get(EventKey, order.event_id)
    tickets = [t for t in order.tickets if not only_valid or not t.is_cancelled]
    return [ticket_doc(ticket=t, order=order, event=event, key=key) for t in tickets]


async def order_pdf(*, session: AsyncSession, order: Order, only_valid: bool = True) -> tuple[str, str, bytes]:
    from ticketing.documents import ticket_pdf

    docs = await order_docs(session=session, order=order, only_valid=only_valid)
    return await ticket_pdf(docs, filename_stem=f"tickets-{order.reference}")


async def event_for(*, session: AsyncSession, event_id: int) -> Event | None:
    return await session.scalar(select(Event).where(Event.id == event_id))
