"""Organiser pages for ticket types: tiers, prices in pence, capacities, sales windows, validation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kernel.accounts import Role
from tests.conftest import csrf_for
from tests.core.helpers import field_block, input_value, local_input, new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_order, make_ticket_type
from ticketing.models import TicketType


def type_form(csrf: str, **overrides) -> dict[str, str]:
    values = {"csrf_token": csrf, "name": "Community rate", "description": "For local residents",
              "tier": "community", "price": "3.50", "capacity": "40", "sales_start": "", "sales_end": "",
              "max_per_order": "6", "position": "1", "is_active": "on"}
    values.update(overrides)
    return values


async def _types(db, event_id) -> list[TicketType]:
    async with db.read() as session:
        return list(await session.scalars(select(TicketType).where(TicketType.event_id == event_id)
                                          .order_by(TicketType.id)))


@pytest.mark.parametrize(
    ("tier", "price", "expected_pence"),
    [("free", "0", 0), ("community", "3.50", 350), ("corporate", "£45", 4500), ("standard", "12.5", 1250),
     ("pay_what_you_can", "2", 200)],
)
async def test_organiser_creates_each_tier_with_price_in_pence(client, db, tier, price, expected_pence):
    await sign_in(client, db)
    async with db.write() as session:
        event = await make_event(session, capacity=80)
    form_page = await client.get(f"/organiser/events/{event.id}/ticket-types/new")
    assert form_page.status_code == 200
    now = dt.datetime.now(dt.UTC)
    response = await client.post(
        f"/organiser/events/{event.id}/ticket-types/new",
        data=type_form(await csrf_for(client, f"/organiser/events/{event.id}/ticket-types/new"), name=f"{tier} seats",
                       tier=tier, price=price, capacity="25", max_per_order="4",
                       sales_start=local_input(now - dt.timedelta(days=1)),
                       sales_end=local_input(now + dt.timedelta(days=3))),
    )
    assert response.status_code == 303, page_text(response)[:3000]
    assert response.headers["location"] == f"/organiser/events/{event.id}/tickets"
    [saved] = await _types(db, event.id)
    assert (saved.name, saved.tier, saved.price_pence, saved.capacity, saved.max_per_order, saved.sold) == (
        f"{tier} seats", tier, expected_pence, 25, 4, 0)
    # datetime-local fields are London time: stored in UTC, to the minute
    assert abs(saved.sales_end - (now + dt.timedelta(days=3))) < dt.timedelta(minutes=1)
    listing = await client.get(f"/organiser/events/{event.id}/tickets")
    assert listing.status_code == 200
    text = page_text(listing)
    assert f"{tier} seats" in text and "0 / 25" in text and "0 / 80" in text


async def test_new_type_validation_errors_keep_the_input(client, db):
    await sign_in(client, db)
    async with db.write() as session:
        event = await make_event(session)
    path = f"/organiser/events/{event.id}/ticket-types/new"
    now = dt.datetime.now(dt.UTC)
    cases = [
        ({"name": ""}, "name", "Give the ticket type a name"),
        ({"tier": "platinum"}, "tier", "Choose a tier from the list"),
        ({"price": "three pounds"}, "price", "Enter a price in pounds"),
        ({"tier": "free", "price": "2"}, "price", "Free tickets have no price"),
        ({"tier": "standard", "price": "0"}, "price", "A paid tier needs a price above £0"),
        ({"capacity": "0"}, "capacity", "Capacity must be a whole number from 1 to 100000"),
        ({"capacity": "-5"}, "capacity", "Capacity must be a whole number from 1 to 100000"),
        ({"capacity": "lots"}, "capacity", "Capacity must be a whole number from 1 to 100000"),
        ({"max_per_order": "0"}, "max_per_order", "Enter a whole number from 1 to 20"),
        ({"max_per_order": "50"}, "max_per_order", "Enter a whole number from 1 to 20"),
        ({"sales_start": "next tuesday"}, "sales_start", "Enter a date and time"),
        ({"sales_start": local_input(now + dt.timedelta(days=2)), "sales_end": local_input(now + dt.timedelta(days=1))},
         "sales_end", "Sales must close after they open"),
    ]
    for overrides, field, message in cases:
        data = type_form(await csrf_for(client, path), **{"name": "Supper club", "description": "Curry and rice",
                                                           **overrides})
        response = await client.post(path, data=data)
        assert response.status_code == 422, (overrides, response.status_code)
        assert message in field_block(response.text, field), (overrides, field_block(response.text, field))
        # everything typed is still there, including the value that was wrong
        assert input_value(response.text, "description") == "Curry and rice"
        if field in ("price", "capacity", "max_per_order", "sales_start"):
            assert input_value(response.text, field) == overrides[field]
        if field != "name":
            assert input_value(response.text, "name") == "Supper club"
        if field == "tier":
            assert 'value="platinum"' not in response.text  # not offered back as a choice
    assert await _types(db, event.id) == []


async def test_capacity_below_seats_taken_is_refused_and_nothing_changes(client, db):
    await sign_in(client, db)
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, name="Workshop place", capacity=10)
        await make_order(session, event, [(ticket_type.id, f"Person {i}") for i in range(4)])
    path = f"/organiser/ticket-types/{ticket_type.id}/edit"
    page = await client.get(path)
    assert page.status_code == 200
    assert input_value(page.text, "capacity") == "10" and input_value(page.text, "name") == "Workshop place"

    response = await client.post(path, data=type_form(await csrf_for(client, path), name="Renamed", tier="free",
                                                        price="0", capacity="3"))
    assert response.status_code == 422
    assert "4 tickets are already taken" in field_block(response.text, "capacity")
    assert input_value(response.text, "capacity") == "3" and input_value(response.text, "name") == "Renamed"
    [saved] = await _types(db, event.id)
    assert (saved.name, saved.capacity, saved.sold) == ("Workshop place", 10, 4)

    response = await client.post(path, data=type_form(await csrf_for(client, path), name="Renamed", tier="free",
                                                        price="0", capacity="4"))
    assert response.status_code == 303
    [saved] = await _types(db, event.id)
    assert (saved.name, saved.capacity, saved.sold) == ("Renamed", 4, 4)
    # removing the limit is always allowed
    response = await client.post(path, data=type_form(await csrf_for(client, path), name="Renamed", tier="free",
                                                        price="0", capacity=""))
    assert response.status_code == 303
    [saved] = await _types(db, event.id)
    assert saved.capacity is None


async def test_capacity_check_is_made_against_the_database_not_the_form(db):
    """Seats taken after the edit page was loaded still count (the service's UPDATE re-checks)."""
    from ticketing import services
    from ticketing.forms import TicketTypeInput

    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=10)
        await make_order(session, event, [(ticket_type.id, "A"), (ticket_type.id, "B")])
    data = TicketTypeInput(name="x", description="", tier="free", price_pence=0, capacity=1, sales_start=None,
                           sales_end=None, max_per_order=5, position=0, is_active=True)
    with pytest.raises(services.TicketingError) as caught:
        async with db.write() as session:
            fresh = await session.get(TicketType, ticket_type.id)
            await services.save_ticket_type(session=session, event_id=event.id, data=data, ticket_type=fresh)
    assert "capacity" in caught.value.errors
    [saved] = await _types(db, event.id)
    assert (saved.capacity, saved.sold) == (10, 2)


async def test_ticket_type_pages_are_for_organisers_only(app, client, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
    paths = [f"/organiser/events/{event.id}/tickets", f"/organiser/events/{event.id}/ticket-types/new",
             f"/organiser/ticket-types/{ticket_type.id}/edit"]
    for path in paths:
        anonymous = await client.get(path)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    for role in (Role.DOOR_STAFF, Role.JUDGE):
        async with new_client(app) as other:
            await sign_in(other, db, role)
            csrf = await csrf_for(other, "/account")
            for path in paths:
                assert (await other.get(path)).status_code == 403, (role, path)
            for path in paths[1:]:
                response = await other.post(path, data=type_form(csrf, capacity="1"))
                assert response.status_code == 403, (role, path)
    [saved] = await _types(db, event.id)
    assert saved.capacity == 50 and saved.name == "General admission"


async def test_capacity_per_type_and_event_wide_capacity_limit_bookings(client, db):
    from tests.ticketing.factories import book

    async with db.write() as session:
        event = await make_event(session, capacity=3)
        a = await make_ticket_type(session, event, name="Adult", capacity=10)
        b = await make_ticket_type(session, event, name="Child", capacity=1)
    assert (await book(client, event, [(a.id, "A One"), (a.id, "A Two")])).status_code == 303
    # the type has room (10) but the event has only one seat left
    refused = await book(client, event, [(a.id, "A Three"), (a.id, "A Four")])
    assert refused.status_code == 409
    assert "sold out or there are not enough left" in page_text(refused)
    # One seat is left, so no waiting list yet: the page sends them back to choose fewer.
    assert "Not enough tickets left" in page_text(refused) and 'action="/events/' not in refused.text
    assert "Choose fewer or other tickets, or join the waiting list" in page_text(refused)
    # the child type allows one
    refused = await book(client, event, [(b.id, "C One"), (b.id, "C Two")])
    assert refused.status_code == 409
    assert "“Child” tickets are sold out" in page_text(refused)
    assert (await book(client, event, [(b.id, "C One")])).status_code == 303
    async with db.read() as session:
        from events.models import Event

        assert (await session.get(Event, event.id)).tickets_sold == 3
        sold = {t.name: t.sold for t in await session.scalars(select(TicketType))}
    assert sold == {"Adult": 2, "Child": 1}
    page = page_text(await client.get(f"/events/{event.slug}"))
    assert page.count("Sold out") == 2
    assert f'name="qty_{a.id}"' not in page
