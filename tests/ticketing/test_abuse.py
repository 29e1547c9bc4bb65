"""Abuse: registrations per address are rate limited (shared through the database), and a filled
honeypot field is refused without booking anything."""

from __future__ import annotations

from sqlalchemy import func, select

from kernel.mail import OutboxMessage
from tests.conftest import csrf_for
from tests.core.helpers import new_client, page_text, running_app
from tests.factories import make_event
from tests.ticketing.factories import book, booking_form, make_ticket_type, order_id_of
from ticketing.models import Order, TicketType, WaitlistEntry


async def _orders(db) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count(Order.id)))


async def test_third_registration_from_one_address_is_refused_with_429(settings, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=20)
    async with running_app(settings, registration_limit=2) as app:
        async with new_client(app, address="198.51.100.23") as browser:
            first = await book(browser, event, [(ticket_type.id, "Amina Khatun")])
            second = await book(browser, event, [(ticket_type.id, "Rahim Uddin")])
            assert first.status_code == second.status_code == 303
            third = await book(browser, event, [(ticket_type.id, "Jo Bloggs")])
            assert third.status_code == 429
            assert "Too many bookings from your connection" in page_text(third)
        # a new cookie jar does not reset the count: it is kept per address, in the database
        async with new_client(app, address="198.51.100.23") as fresh_cookies:
            assert (await book(fresh_cookies, event, [(ticket_type.id, "Jo Bloggs")])).status_code == 429
        # another address is not affected
        async with new_client(app, address="198.51.100.99") as neighbour:
            assert (await book(neighbour, event, [(ticket_type.id, "Kwame Mensah")])).status_code == 303
    # a second app process over the same database sees the same count
    async with running_app(settings, registration_limit=2) as other_worker:
        async with new_client(other_worker, address="198.51.100.23") as browser:
            assert (await book(browser, event, [(ticket_type.id, "Jo Bloggs")])).status_code == 429
    assert await _orders(db) == 3
    async with db.read() as session:
        assert await session.scalar(select(TicketType.sold).where(TicketType.id == ticket_type.id)) == 3


async def test_resending_a_booking_at_the_limit_still_shows_that_booking(settings, db):
    """A double click on the booking that reached the limit is not a new registration: same redirect."""
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=20)
    async with running_app(settings, registration_limit=2) as app:
        async with new_client(app, address="198.51.100.23") as browser:
            assert (await book(browser, event, [(ticket_type.id, "Amina Khatun")])).status_code == 303
            from tests.conftest import csrf_from
            from tests.ticketing.factories import form_token_from, start_booking

            details = await start_booking(browser, event, {ticket_type.id: 1})
            form = booking_form(csrf_from(details.text), form_token_from(details.text),
                                [(ticket_type.id, "Rahim Uddin")])
            first = await browser.post(f"/events/{event.slug}/register", data=form)
            again = await browser.post(f"/events/{event.slug}/register", data=form)
            assert first.status_code == again.status_code == 303
            assert await order_id_of(db, first.headers["location"]) == await order_id_of(db, again.headers["location"])
            assert again.headers["location"].endswith("/booked")
            assert (await book(browser, event, [(ticket_type.id, "Jo Bloggs")])).status_code == 429
    assert await _orders(db) == 2


async def test_waitlist_joins_count_towards_the_same_limit(settings, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=1, sold=1)
    async with running_app(settings, registration_limit=2) as app:
        async with new_client(app, address="198.51.100.23") as browser:
            csrf = await csrf_for(browser, f"/events/{event.slug}")
            statuses = []
            for i in range(3):
                response = await browser.post(f"/events/{event.slug}/waitlist", data={
                    "csrf_token": csrf, "ticket_type_id": str(ticket_type.id), "name": f"Person {i}",
                    "email": f"person{i}@example.org", "consent": "on"})
                statuses.append(response.status_code)
    assert statuses == [303, 303, 429]
    async with db.read() as session:
        assert await session.scalar(select(func.count(WaitlistEntry.id))) == 2


async def test_filled_honeypot_is_refused_and_books_nothing(client, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=5)
    details = await client.get(f"/events/{event.slug}/register", params={f"qty_{ticket_type.id}": "1"})
    assert '<input id="website" name="website" type="text" tabindex="-1" autocomplete="off">' in details.text
    response = await book(client, event, [(ticket_type.id, "Spam Bot")], website="http://spam.example")
    assert response.status_code == 400
    assert "could not process that booking" in page_text(response)
    # a filled honeypot is refused even when the rest of the form is also wrong
    response = await book(client, event, [(ticket_type.id, "Spam Bot")], website="x", email="nope")
    assert response.status_code == 400
    assert await _orders(db) == 0
    async with db.read() as session:
        assert await session.scalar(select(TicketType.sold).where(TicketType.id == ticket_type.id)) == 0
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 0
    # an empty honeypot (what a person's browser sends) is fine
    assert (await book(client, event, [(ticket_type.id, "Amina Khatun")], website="")).status_code == 303


async def test_filled_honeypot_on_the_waiting_list_is_refused(client, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=1, sold=1)
    csrf = await csrf_for(client, f"/events/{event.slug}")
    response = await client.post(f"/events/{event.slug}/waitlist", data={
        "csrf_token": csrf, "ticket_type_id": str(ticket_type.id), "name": "Bot", "email": "bot@example.org",
        "consent": "on", "website": "http://spam.example"})
    assert response.status_code == 400
    async with db.read() as session:
        assert await session.scalar(select(func.count(WaitlistEntry.id))) == 0


async def test_bookings_sent_together_cannot_pass_the_limit(settings, db):
    """Ten bookings from one address at the same moment all pass the count read before the write lock; the
    count taken again inside the write transaction stops all but the limit (SQLite: writers take turns;
    PostgreSQL: transactions counting one address take turns, ratelimit.serialize)."""
    import asyncio

    from tests.conftest import csrf_from
    from tests.ticketing.factories import form_token_from, start_booking

    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=20)
    async with running_app(settings, registration_limit=2) as app:
        async with new_client(app, address="198.51.100.23") as browser:
            forms = []
            for i in range(10):
                details = await start_booking(browser, event, {ticket_type.id: 1})
                forms.append(booking_form(csrf_from(details.text), form_token_from(details.text),
                                          [(ticket_type.id, f"Person {i}")]))
            responses = await asyncio.gather(*(browser.post(f"/events/{event.slug}/register", data=form)
                                               for form in forms))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] * 2 + [429] * 8
    assert await _orders(db) == 2
    async with db.read() as session:
        # the refused bookings' seats were given back with their rolled-back transactions
        assert await session.scalar(select(TicketType.sold).where(TicketType.id == ticket_type.id)) == 2


async def test_waitlist_joins_sent_together_cannot_pass_the_limit(settings, db):
    """As bookings: eight joins from one address at once all pass the count read first; the count taken
    again in the write transaction lets in only the limit."""
    import asyncio

    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=1, sold=1)
    async with running_app(settings, registration_limit=2) as app:
        async with new_client(app, address="198.51.100.29") as browser:
            csrf = await csrf_for(browser, f"/events/{event.slug}")
            responses = await asyncio.gather(*(browser.post(f"/events/{event.slug}/waitlist", data={
                "csrf_token": csrf, "ticket_type_id": str(ticket_type.id), "name": f"Person {i}",
                "email": f"together{i}@example.org", "consent": "on"}) for i in range(8)))
    assert sorted(r.status_code for r in responses) == [303] * 2 + [429] * 6
    async with db.read() as session:
        assert await session.scalar(select(func.count(WaitlistEntry.id))) == 2
