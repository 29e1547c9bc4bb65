"""A ticket's code (in its QR, printed on it) gets someone in and nothing more: seeing the booking, printing it
and cancelling need the secret that only the booking email's links carry (ticketing.access)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from kernel.mail import OutboxMessage, bodies
from kernel.tokens import hash_token
from tests.conftest import csrf_for, csrf_from
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import book, make_ticket_type
from ticketing.domain import DOMAIN as TICKETING
from ticketing.models import Order, Ticket, TicketType


async def _booked(client, db, *, names=("Amina Khatun", "Rahim Uddin", "Jo Bloggs"), **type_fields):
    async with db.write() as session:
        event = await make_event(session, title="Handsworth Supper Club", venue_name="Soho House")
        ticket_type = await make_ticket_type(session, event, name="Supper", capacity=10, **type_fields)
    response = await book(client, event, [(ticket_type.id, name) for name in names], email="amina@example.org")
    assert response.status_code == 303
    booking = response.headers["location"]
    assert re.fullmatch(r"/orders/[A-Za-z0-9_-]{32}", booking)
    async with db.read() as session:
        order = await session.scalar(select(Order))
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    return event, ticket_type, booking, order, tickets


def _words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())


async def _outbox(db) -> list[OutboxMessage]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def _statuses(db) -> list[str]:
    async with db.read() as session:
        return list(await session.scalars(select(Ticket.status).order_by(Ticket.id)))


async def test_a_ticket_code_alone_shows_a_minimal_page_and_cannot_cancel_or_print(app, client, db):
    _event, _type, booking, order, tickets = await _booked(client, db)
    token = booking.rsplit("/", 1)[1]
    # the secret is not the order's code, and only its hash is kept
    assert token != order.code and order.access_hash == hash_token(token) and token not in order.access_hash
    code = tickets[0].code
    async with new_client(app, address="203.0.113.9") as stranger:
        page = await stranger.get(f"/tickets/{code}")
        assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
        text = page_text(page)
        assert "Handsworth Supper Club" in text and "This is a valid ticket for Handsworth Supper Club" in text
        assert "open the link in the booking email" in text
        for private in ("Amina Khatun", "Rahim Uddin", "amina@example.org", order.reference, order.code, token):
            assert private not in text, private
        assert "<svg" not in page.text and "/cancel" not in page.text and "/documents/" not in page.text
        assert "/orders/" not in page.text

        csrf = await csrf_for(stranger)
        refused = await stranger.post(f"/tickets/{code}/cancel", data={"csrf_token": csrf})
        assert refused.status_code == 403
        assert "only be cancelled from the link in the booking email" in page_text(refused)
        # the printed code does not print the ticket either, nor does the order's code open anything
        pdf = await stranger.get(f"/documents/ticket/{code}")
        assert pdf.status_code == 403 and not pdf.content.startswith(b"%PDF")
        assert (await stranger.get(f"/documents/order-tickets/{order.code}")).status_code == 404
        assert (await stranger.get(f"/orders/{order.code}")).status_code == 404
        assert (await stranger.get(f"/orders/{code}")).status_code == 404
        # a guess at the secret: a clear page, not a 500
        wrong = await stranger.post(f"/orders/{'x' * 32}/cancel", data={"csrf_token": csrf})
        assert wrong.status_code == 404 and "could not find that booking" in page_text(wrong)
        assert (await stranger.get("/orders/" + "x" * 300)).status_code == 404
        # the secret without the form's CSRF token does nothing either
        assert (await stranger.post(f"{booking}/cancel", data={})).status_code == 403
        assert (await stranger.post(f"{booking}/tickets/{code}/cancel", data={})).status_code == 403
    assert await _statuses(db) == ["valid", "valid", "valid"]
    assert [r.subject for r in await _outbox(db)] == ["Your tickets: Handsworth Supper Club"]  # nothing more

    # the booker's link opens everything
    full = page_text(await client.get(booking))
    assert "Amina Khatun" in full and "amina@example.org" in full and order.reference in full
    ticket_page = await client.get(f"{booking}/tickets/{code}")
    assert ticket_page.status_code == 200 and "<svg" in ticket_page.text and "Amina Khatun" in page_text(ticket_page)
    # another booking's ticket is not reachable through this booking's link
    assert (await client.get(f"{booking}/tickets/not-its-ticket")).status_code == 404


async def test_the_booking_link_cancels_a_ticket_then_the_whole_booking_with_one_email_each(client, db):
    _event, ticket_type, booking, order, tickets = await _booked(client, db)
    page = await client.get(booking)
    csrf = csrf_from(page.text)
    confirm = re.search(r'<details class="confirm">(.*?)</details>', page.text, re.DOTALL).group(1)
    assert f'action="{booking}/cancel"' in confirm and "Cancel the whole booking" in confirm

    first = await client.post(f"{booking}/tickets/{tickets[0].code}/cancel", data={"csrf_token": csrf})
    assert first.status_code == 303 and first.headers["location"] == f"{booking}/tickets/{tickets[0].code}"
    again = await client.post(f"{booking}/tickets/{tickets[0].code}/cancel", data={"csrf_token": csrf})
    assert "already cancelled" in page_text(await client.get(again.headers["location"]))
    assert await _statuses(db) == ["cancelled", "valid", "valid"]
    rows = await _outbox(db)
    assert [r.subject for r in rows] == ["Your tickets: Handsworth Supper Club",
                                        "Cancelled as you asked: Handsworth Supper Club"]
    text, markup = await bodies(db, rows[1], TICKETING.mail_bodies)
    for part in (text, markup):
        assert "we have cancelled your ticket of booking" in part and order.reference in part
        assert "Cancelled: Amina Khatun (Supper)" in part
        assert "Still valid: Rahim Uddin (Supper), Jo Bloggs (Supper)" in part
    assert "<p" in markup and "<p" not in text

    whole = await client.post(f"{booking}/cancel", data={"csrf_token": csrf})
    assert whole.status_code == 303 and whole.headers["location"] == booking
    after = page_text(await client.get(booking))
    assert "Your booking is cancelled (2 tickets)" in after and "Cancel the whole booking" not in after
    assert (await client.post(f"{booking}/cancel", data={"csrf_token": csrf})).status_code == 303
    assert "already cancelled" in page_text(await client.get(booking))
    assert await _statuses(db) == ["cancelled", "cancelled", "cancelled"]
    rows = await _outbox(db)
    assert len(rows) == 3 and rows[2].to_addr == "amina@example.org"
    text, markup = await bodies(db, rows[2], TICKETING.mail_bodies)
    for part in (text, markup):
        assert f"we have cancelled your booking {order.reference}" in part
        assert "Cancelled: Rahim Uddin (Supper), Jo Bloggs (Supper)." in part and "Still valid" not in part
    async with db.read() as session:
        assert (await session.get(Order, order.id)).status == "cancelled"
        assert (await session.get(TicketType, ticket_type.id)).sold == 0
    assert (await client.get(f"/documents/order-tickets/{booking.rsplit('/', 1)[1]}")).status_code == 410


async def test_a_free_ticket_has_nothing_to_pay_and_says_free_once(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Open studio")
        free = await make_ticket_type(session, event, name="General admission", tier="free")
        paid = await make_ticket_type(session, event, name="Workshop", tier="standard", price_pence=1200)
    response = await book(client, event, [(free.id, "Amina Khatun"), (paid.id, "Rahim Uddin")])
    booking = response.headers["location"]
    async with db.read() as session:
        order = await session.scalar(select(Order))
        free_ticket, paid_ticket = list(await session.scalars(select(Ticket).order_by(Ticket.ticket_type_id)))
    assert order.status == "awaiting_payment"  # the workshop is still to pay
    free_page = page_text(await client.get(f"{booking}/tickets/{free_ticket.code}"))
    assert "General admission · Free" in free_page
    assert "to pay at the door" not in free_page and "Free · Free" not in free_page
    paid_page = _words(await client.get(f"{booking}/tickets/{paid_ticket.code}"))
    assert "Workshop · Standard · £12.00 · to pay at the door" in paid_page
    order_page = page_text(await client.get(booking))
    assert "Free · Free" not in order_page and "(Free)" not in order_page
    [row] = await _outbox(db)
    text, markup = await bodies(db, row, TICKETING.mail_bodies)
    assert "Free · Free" not in markup and "Free, Free" not in text
    assert "General admission · Free" in markup and "General admission (Free)" in text
    assert "Workshop · Standard · £12.00" in markup and "Workshop (Standard · £12.00)" in text


async def test_a_resend_gives_a_new_link_and_the_old_one_stops_working(app, client, db):
    _event, _type, booking, order, _tickets = await _booked(client, db, names=("Amina Khatun",))
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        csrf = await csrf_for(organiser, f"/organiser/events/{order.event_id}/attendees")
        response = await organiser.post(f"/organiser/orders/{order.id}/resend", data={"csrf_token": csrf})
        assert "with a new link to the booking" in page_text(await organiser.get(response.headers["location"]))
    rows = await _outbox(db)
    assert len(rows) == 2
    text, _html = await bodies(db, rows[1], TICKETING.mail_bodies)
    new_link = re.search(r"http://testserver(/orders/[A-Za-z0-9_-]+)\n", text).group(1)
    assert new_link != booking
    assert (await client.get(booking)).status_code == 404
    assert "Amina Khatun" in page_text(await client.get(new_link))


async def test_bookings_made_before_tokens_keep_their_emailed_links(client, db):
    """The migration gives orders booked before it their old order code as their secret (its hash), so the
    /orders/<code> links in emails already sent still open the booking."""
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
    await book(client, event, [(ticket_type.id, "Amina Khatun")])
    async with db.write() as session:
        order = await session.scalar(select(Order))
        order.access_hash = hash_token(order.code)  # as the migration c4a9e2f17d3b leaves an old order
        code = order.code
    page = await client.get(f"/orders/{code}")
    assert page.status_code == 200 and "Amina Khatun" in page_text(page)
    assert (await client.get(f"/orders/{code}/tickets.pdf")).headers["location"] == f"/documents/order-tickets/{code}"
    async with db.read() as session:
        assert await session.scalar(select(func.count(Order.id)).where(Order.access_hash.is_(None))) == 0


def test_the_migration_makes_old_order_codes_the_secret_of_their_bookings(tmp_path):
    """Upgrading a database with orders in it: each gets the hash of its code, the secret its emailed links hold."""
    import sqlite3

    from kernel.migrate import upgrade

    path = tmp_path / "old.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "5d2e8a1c7b40")
    with sqlite3.connect(path) as connection:  # foreign keys are not enforced by plain sqlite3: no event needed
        for n, code in enumerate(("OldCodeOne_abcdefghij", "OldCodeTwo-abcdefghij"), start=1):
            connection.execute(
                "INSERT INTO ticket_order (id, event_id, code, reference, email, buyer_name, access_needs, "
                "community_declaration, status, total_pence, consent_at, paid_note, created_at) "
                "VALUES (?, 1, ?, 'ABCDEF', 'a@example.org', 'A', '', '', 'confirmed', 0, "
                "'2026-11-01 10:00:00', '', '2026-11-01 10:00:00')", (n, code))
    upgrade(url)
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT code, access_hash FROM ticket_order ORDER BY id").fetchall()
    assert rows == [(code, hash_token(code)) for code in ("OldCodeOne_abcdefghij", "OldCodeTwo-abcdefghij")]
