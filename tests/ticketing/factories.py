"""Builders for ticketing tests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.models import TicketType


async def make_ticket_type(session: AsyncSession, event, **overrides) -> TicketType:
    fields = dict(name="General admission", tier="free", price_pence=0, capacity=50, max_per_order=10)
    fields.update(overrides)
    ticket_type = TicketType(event_id=event.id, **fields)
    session.add(ticket_type)
    await session.flush()
    return ticket_type


def booking_form(csrf: str, form_token: str, lines: list[tuple[int, str]], **extra) -> dict:
    """Step-2 form data: lines are (ticket type id, attendee name)."""
    data = {"csrf_token": csrf, "form_token": form_token, "email": "amina@example.org", "consent": "on"}
    for i, (type_id, name) in enumerate(lines):
        data[f"type_{i}"] = str(type_id)
        data[f"name_{i}"] = name
    data.update(extra)
    return data
