"""Builders for ticketing tests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.models import TicketType


async def make_ticket_type(session: AsyncSession, event, **overrides) -> TicketType:
    fields = {"name": "General admission", "tier": "free", "price_pence": 0, "capacity": 50, "max_per_order": 10}
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


# --- whole bookings ---------------------------------------------------------------------------------

import re  # kept with the helpers that use it
import secrets

FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')


def form_token_from(html: str) -> str:
    match = FORM_TOKEN_RE.search(html)
    assert match, "page has no form_token"
    return match.group(1)


async def make_order(session: AsyncSession, event, lines: list[tuple[int, str]], *, email: str = "amina@example.org",
                     **request_fields):
    """An order made by the registration service (seats claimed, tickets created); lines are (type id, name)."""
    import secrets

    from ticketing import services

    req = services.RegistrationRequest(
        lines=[services.TicketLine(type_id, name, request_fields.pop("price_pence", None))
               for type_id, name in lines],
        email=email, form_token=request_fields.pop("form_token", secrets.token_urlsafe(24)), **request_fields,
    )
    order, created = await services.register(session=session, event_id=event.id, req=req)
    assert created
    return await services.get_order_by_id(session=session, order_id=order.id)


async def start_booking(client, event, quantities: dict[int, int]):
    """Step 1 as the event page's form sends it; returns the details page response."""
    return await client.get(f"/events/{event.slug}/register",
                            params={f"qty_{type_id}": str(n) for type_id, n in quantities.items()})


async def book(client, event, lines: list[tuple[int, str]], **extra):
    """Steps 1 and 2 through HTTP; returns the response to the POST (303 to the order page when booked)."""
    from collections import Counter

    from tests.conftest import csrf_for, csrf_from

    quantities = Counter(type_id for type_id, _ in lines)
    details = await start_booking(client, event, dict(quantities))
    # Step 1 already says "sold out" (409) when the seats are gone: send step 2 all the same, as a details page
    # opened before they went would, so that what the booking itself answers is tested.
    assert details.status_code in (200, 409), details.text[:2000]
    token = form_token_from(details.text) if details.status_code == 200 else secrets.token_urlsafe(24)
    # The details page lists the lines by type id; give each name to a line of its type, in order.
    ordered = sorted(lines, key=lambda line: line[0])
    csrf = csrf_from(details.text) if details.status_code == 200 else await csrf_for(client)
    form = booking_form(csrf, token, ordered, **extra)
    return await client.post(f"/events/{event.slug}/register", data=form)


async def order_id_of(db, location: str) -> int | None:
    """The order a booking's redirect leads to: /orders/<secret> (just booked) or /orders/<code>/booked (the same
    form sent again, ticketing.bookings.booked)."""
    from sqlalchemy import select

    from kernel.tokens import hash_token
    from ticketing.models import Order

    parts = location.strip("/").split("/")
    assert parts[0] == "orders", location
    where = Order.code == parts[1] if parts[-1] == "booked" else Order.access_hash == hash_token(parts[1])
    async with db.read() as session:
        return await session.scalar(select(Order.id).where(where))
