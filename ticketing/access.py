"""The booking's secret: what lets an attendee see, print and cancel a booking.

A ticket's code is in its QR and printed on it, so it is shown to the door, to friends, on social media: it
proves admission and nothing more. Managing the booking needs the booking's access token, which only the
links of the booking email (and the page the booker lands on) carry. Only its SHA-256 is stored
(Order.access_hash), as for door links and waiting-list offers; a resend makes a new one (the old link stops
working). Orders booked before tokens existed have their old order code as their token (see the migration
c4a9e2f17d3b), so the links already sent keep working.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kernel.tokens import hash_token
from ticketing.models import Order, Ticket

TOKEN_MAX = 64  # longer than any token made here: a longer one is not looked up


def new_access() -> tuple[str, str]:
    """(token, its hash): the token goes in the links, the hash in Order.access_hash."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


async def order_for_token(*, session: AsyncSession, token: str) -> Order | None:
    """The order the token opens (tickets and their types loaded), or None."""
    if not token or len(token) > TOKEN_MAX:
        return None
    stmt = (select(Order).where(Order.access_hash == hash_token(token))
            .options(selectinload(Order.tickets).selectinload(Ticket.ticket_type)))
    order = await session.scalar(stmt)
    if order is not None:
        order.access_token = token
    return order


async def renew(*, session: AsyncSession, order: Order) -> str:
    """A new token for the order (the organiser's resend); links with the old one stop working."""
    token, token_hash = new_access()
    await session.execute(update(Order).where(Order.id == order.id).values(access_hash=token_hash)
                          .execution_options(synchronize_session=False))
    order.access_hash, order.access_token = token_hash, token
    return token
