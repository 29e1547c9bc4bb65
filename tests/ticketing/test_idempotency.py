"""One form token, one order: a double click, a refresh or two racing submissions never book twice."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from events.models import Event
from kernel.mail import OutboxMessage
from kernel.ratelimit import RateEvent
from tests.conftest import csrf_from
from tests.factories import make_event
from tests.ticketing.factories import (
    booking_form,
    form_token_from,
    make_ticket_type,
    order_id_of,
    start_booking,
)
from ticketing.models import Order, Ticket, TicketType


async def _state(db, event_id, type_id):
    async with db.read() as session:
        return {
            "orders": await session.scalar(select(func.count(Order.id))),
            "tickets": await session.scalar(select(func.count(Ticket.id))),
            "emails": await session.scalar(select(func.count(OutboxMessage.id))),
            "sold": await session.scalar(select(TicketType.sold).where(TicketType.id == type_id)),
            "event_sold": await session.scalar(select(Event.tickets_sold).where(Event.id == event_id)),
            "rate_events": await session.scalar(select(func.count(RateEvent.id))),
        }


async def _form(client, event, ticket_type, names):
    details = await start_booking(client, event, {ticket_type.id: len(names)})
    return booking_form(csrf_from(details.text), form_token_from(details.text),
                        [(ticket_type.id, name) for name in names])


async def test_same_form_sent_twice_in_a_row_is_one_order_and_the_same_redirect(client, db):
    async with db.write() as session:
        event = await make_event(session, capacity=10)
        ticket_type = await make_ticket_type(session, event, capacity=5)
    form = await _form(client, event, ticket_type, ["Amina Khatun", "Rahim Uddin"])
    first = await client.post(f"/events/{event.slug}/register", data=form)
    second = await client.post(f"/events/{event.slug}/register", data=form)
    assert first.status_code == second.status_code == 303
    # the booker lands on the booking (its secret in the address); the form sent again is told it is booked
    order_id = await order_id_of(db, first.headers["location"])
    assert order_id is not None and await order_id_of(db, second.headers["location"]) == order_id
    booked = await client.get(second.headers["location"])
    assert booked.status_code == 200 and "You are booked" in booked.text and "amina@example.org" not in booked.text
    assert await _state(db, event.id, ticket_type.id) == {
        "orders": 1, "tickets": 2, "emails": 1, "sold": 2, "event_sold": 2, "rate_events": 1}
    # even if the names were changed before the second send, the first booking stands
    changed = await client.post(f"/events/{event.slug}/register", data={**form, "name_0": "Someone Else"})
    assert await order_id_of(db, changed.headers["location"]) == order_id
    async with db.read() as session:
        names = list(await session.scalars(select(Ticket.attendee_name).order_by(Ticket.id)))
    assert names == ["Amina Khatun", "Rahim Uddin"]
    # a new form (new token) is a new booking
    other = await client.post(f"/events/{event.slug}/register",
                              data=await _form(client, event, ticket_type, ["Jo Bloggs"]))
    assert other.status_code == 303 and await order_id_of(db, other.headers["location"]) != order_id
    assert (await _state(db, event.id, ticket_type.id))["orders"] == 2


async def test_same_form_sent_twice_at_the_same_moment_is_one_order(client, db):
    async with db.write() as session:
        event = await make_event(session, capacity=100)
        ticket_type = await make_ticket_type(session, event, capacity=50)
    rounds = 6
    for i in range(rounds):
        form = await _form(client, event, ticket_type, [f"Person {i}", f"Guest {i}"])
        first, second = await asyncio.gather(
            client.post(f"/events/{event.slug}/register", data=form),
            client.post(f"/events/{event.slug}/register", data=form),
        )
        assert first.status_code == second.status_code == 303, (first.status_code, second.status_code)
        assert await order_id_of(db, first.headers["location"]) == await order_id_of(db, second.headers["location"])
    assert await _state(db, event.id, ticket_type.id) == {
        "orders": rounds, "tickets": 2 * rounds, "emails": rounds, "sold": 2 * rounds, "event_sold": 2 * rounds,
        "rate_events": rounds}


async def test_same_form_racing_for_the_last_seats_books_them_once(client, db):
    """The loser of the race must find the winner's order, not report the seats as sold out."""
    async with db.write() as session:
        event = await make_event(session, capacity=2)
        ticket_type = await make_ticket_type(session, event, capacity=2)
    form = await _form(client, event, ticket_type, ["Amina Khatun", "Rahim Uddin"])
    responses = await asyncio.gather(*(client.post(f"/events/{event.slug}/register", data=form) for _ in range(3)))
    assert [r.status_code for r in responses] == [303, 303, 303]
    ids = {await order_id_of(db, r.headers["location"]) for r in responses}
    assert len(ids) == 1 and None not in ids
    state = await _state(db, event.id, ticket_type.id)
    assert (state["orders"], state["tickets"], state["sold"], state["event_sold"]) == (1, 2, 2, 2)
