"""The booking route's early read (ticketing/booking_state.py): a per-worker copy of the event and its types
that must never make an answer or an email out of date, and the signing key remembered only once committed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from events.models import Event
from kernel.mail import OutboxMessage, bodies
from tests.core.helpers import new_client, running_app
from tests.factories import make_event
from tests.ticketing.factories import book, make_ticket_type
from ticketing import emails
from ticketing.domain import DOMAIN as TICKETING
from ticketing.models import EventKey, Order, Ticket, TicketType


async def _subjects(db) -> list[str]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxMessage.subject).order_by(OutboxMessage.id)))


async def test_an_edit_just_before_a_booking_is_in_its_email(settings, db):
    async with db.write() as session:
        event = await make_event(session, title="Outdoor cinema: first title")
        ticket_type = await make_ticket_type(session, event, capacity=20)
    async with running_app(settings) as app, new_client(app) as browser:
        assert (await book(browser, event, [(ticket_type.id, "Amina Khatun")])).status_code == 303
        # the worker now holds the event; the organiser renames it and moves the venue
        async with db.write() as session:
            fresh = await session.get(Event, event.id)
            fresh.title = "Outdoor cinema: Pather Panchali"
            fresh.venue_name = "Soho House gardens"
        assert (await book(browser, event, [(ticket_type.id, "Rahim Uddin")])).status_code == 303
    subjects = await _subjects(db)
    assert subjects == ["Your tickets: Outdoor cinema: first title", "Your tickets: Outdoor cinema: Pather Panchali"]
    async with db.read() as session:
        latest = await session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert "Soho House gardens" in (await bodies(db, latest, TICKETING.mail_bodies))[0]


async def test_a_type_change_just_before_a_booking_shows_its_field(settings, db):
    """A free type made community rate right after the worker read it: the form asks for the declaration."""
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=20)
    async with running_app(settings) as app, new_client(app) as browser:
        assert (await book(browser, event, [(ticket_type.id, "Amina Khatun")])).status_code == 303
        async with db.write() as session:
            fresh = await session.get(TicketType, ticket_type.id)
            fresh.tier = "community"
        refused = await book(browser, event, [(ticket_type.id, "Rahim Uddin")])
    assert refused.status_code == 422
    assert 'name="community_declaration"' in refused.text


async def test_selling_seats_does_not_touch_the_events_updated_at(db):
    from ticketing import inventory

    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=20)
    async with db.read() as session:
        before = await session.scalar(select(Event.updated_at).where(Event.id == event.id))
    async with db.write() as session:
        await inventory.claim(session=session, event_id=event.id, quantities={ticket_type.id: 2})
    async with db.write() as session:
        await inventory.release(session=session, event_id=event.id, quantities={ticket_type.id: 1})
    async with db.read() as session:
        row = (await session.execute(select(Event.updated_at, Event.tickets_sold).where(Event.id == event.id))).one()
    assert row.tickets_sold == 1
    assert row.updated_at == before


async def test_a_rolled_back_first_booking_does_not_leave_the_event_without_its_key(settings, db, monkeypatch):
    """The first booking of an event creates its signing key; when that booking is rolled back, the next one
    must create it again (the worker may remember the key only once it is committed)."""
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=20)
    original = emails.enqueue_confirmation
    calls = {"n": 0}

    async def failing_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the mail table was unavailable")
        return await original(**kwargs)

    monkeypatch.setattr(emails, "enqueue_confirmation", failing_once)
    async with running_app(settings) as app, new_client(app) as browser:
        with pytest.raises(RuntimeError):
            await book(browser, event, [(ticket_type.id, "Amina Khatun")])
        async with db.read() as session:
            assert await session.get(EventKey, event.id) is None  # rolled back with the booking
        booked = await book(browser, event, [(ticket_type.id, "Amina Khatun")])
        assert booked.status_code == 303
        async with db.read() as session:
            assert await session.get(EventKey, event.id) is not None
            code = await session.scalar(select(Ticket.code).join(Order).where(Order.event_id == event.id))
        pdf = await browser.get(f"/documents/ticket/{booked.headers['location'].rsplit('/', 1)[1]}.{code}")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
