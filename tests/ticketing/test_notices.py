"""The emails that tell attendees something changed: joining a waiting list, an organiser cancelling their
tickets, the event cancelled. One email per booking and per change, queued with the change (so never twice)."""

from __future__ import annotations

from sqlalchemy import select

from events.models import Event
from kernel.mail import OutboxMessage, bodies
from tests.conftest import csrf_for
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_order, make_ticket_type
from ticketing import services
from ticketing.domain import DOMAIN as TICKETING
from ticketing.models import Order, Ticket, TicketType, WaitlistEntry


async def _outbox(db, to: str | None = None) -> list[OutboxMessage]:
    async with db.read() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if to is not None:
            stmt = stmt.where(OutboxMessage.to_addr == to)
        return list(await session.scalars(stmt))


async def _parts(db, row: OutboxMessage) -> tuple[str, str]:
    text, markup = await bodies(db, row, TICKETING.mail_bodies)
    assert text and markup and "<html" in markup.lower() and "<p" not in text
    return text, markup


async def test_joining_a_waiting_list_sends_one_email(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Bhangra workshop")
        ticket_type = await make_ticket_type(session, event, name="Dancer", capacity=1, sold=1)
    csrf = await csrf_for(client, f"/events/{event.slug}")
    form = {"csrf_token": csrf, "ticket_type_id": str(ticket_type.id), "name": "Bilal Ahmed",
            "email": "bilal@example.org", "consent": "on"}
    assert (await client.post(f"/events/{event.slug}/waitlist", data=form)).status_code == 303
    assert (await client.post(f"/events/{event.slug}/waitlist", data=form)).status_code == 303  # again: no email
    [row] = await _outbox(db)
    assert (row.to_addr, row.subject) == ("bilal@example.org", "Waiting list: Bhangra workshop")
    text, markup = await _parts(db, row)
    for part in (text, markup):
        assert "Bilal Ahmed" in part and "number 1 in line" in part and "“Dancer”" in part
        assert "held for you for 24 hours" in part and "You do not have a ticket yet" in part
        assert f"/events/{event.slug}" in part


async def test_an_organiser_cancelling_emails_each_booking_once(app, db):
    async with db.write() as session:
        event = await make_event(session, title="Handsworth Mela")
        ticket_type = await make_ticket_type(session, event, name="Adult")
        family = await make_order(session, event, [(ticket_type.id, "Amina Khatun"), (ticket_type.id, "Yusuf Khatun"),
                                                   (ticket_type.id, "Sara Khatun")], email="amina@example.org")
        single = await make_order(session, event, [(ticket_type.id, "Rahim Uddin")], email="rahim@example.org")
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        csrf = await csrf_for(organiser, f"/organiser/events/{event.id}/attendees")
        # one ticket of the family's booking, then the rest of it, then the whole booking again (nothing left)
        assert (await organiser.post(f"/organiser/tickets/{family.tickets[0].id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
        assert (await organiser.post(f"/organiser/tickets/{family.tickets[0].id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
        done = await organiser.post(f"/organiser/orders/{family.id}/cancel", data={"csrf_token": csrf})
        assert "2 tickets cancelled; amina@example.org is told" in page_text(await organiser.get(done.headers["location"]))
        assert (await organiser.post(f"/organiser/orders/{family.id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
    rows = [r for r in await _outbox(db) if not r.subject.startswith("Your tickets:")]
    assert [(r.to_addr, r.subject) for r in rows] == [
        ("amina@example.org", "Your tickets have been cancelled: Handsworth Mela")] * 2
    text, markup = await _parts(db, rows[0])
    for part in (text, markup):
        assert "The organisers of Handsworth Mela" in part and f"ticket of booking {family.reference}" in part
        assert "Cancelled: Amina Khatun (Adult)." in part and "Still valid: Yusuf Khatun (Adult), Sara Khatun" in part
    text, markup = await _parts(db, rows[1])
    for part in (text, markup):  # one email for the two tickets of the whole-booking cancel, not one per ticket
        assert f"have cancelled your 2 tickets of booking {family.reference}" not in part
        assert f"have cancelled your booking {family.reference}" in part
        assert "Cancelled: Yusuf Khatun (Adult), Sara Khatun (Adult)." in part
    assert await _outbox(db, single.email) == []  # bookings nobody touched hear nothing


async def test_cancelling_an_event_cancels_its_bookings_and_emails_each_booker_once(app, db):
    async with db.write() as session:
        event = await make_event(session, title="Outdoor cinema", capacity=20)
        other = await make_event(session, title="Another night")
        adult = await make_ticket_type(session, event, name="Deckchair", tier="standard", price_pence=650,
                                       capacity=5)
        child = await make_ticket_type(session, event, name="Blanket", capacity=5)
        other_type = await make_ticket_type(session, other)
        family = await make_order(session, event, [(adult.id, "Amina Khatun"), (child.id, "Yusuf Khatun")],
                                  email="amina@example.org")
        paid = await make_order(session, event, [(adult.id, "Priya Patel")], email="priya@example.org")
        await services.mark_paid(session=session, order=paid, note="Card at the bar")
        gone = await make_order(session, event, [(child.id, "Jo Bloggs")], email="jo@example.org")
        await services.cancel_tickets(session=session, tickets=list(gone.tickets))
        half = await make_order(session, event, [(child.id, "Rahim Uddin"), (child.id, "Nasrin Begum")],
                                email="rahim@example.org")
        await services.cancel_tickets(session=session, tickets=[half.tickets[0]])
        elsewhere = await make_order(session, other, [(other_type.id, "Not Here")], email="nothere@example.org")
        session.add(WaitlistEntry(event_id=event.id, ticket_type_id=adult.id, email="wait@example.org",
                                  name="Wasim Akhtar"))
        # on two of its lists (the second with the address typed otherwise): one email all the same
        session.add(WaitlistEntry(event_id=event.id, ticket_type_id=child.id, email="Wait@Example.org ",
                                  name="Wasim Akhtar"))
        session.add(WaitlistEntry(event_id=event.id, ticket_type_id=child.id, email="offered@example.org",
                                  name="Omar <b>Farouk</b>", status="offered"))
        session.add(WaitlistEntry(event_id=event.id, ticket_type_id=child.id, email="claimed@example.org",
                                  name="Done Already", status="claimed"))
        session.add(WaitlistEntry(event_id=other.id, ticket_type_id=other_type.id, email="other@example.org",
                                  name="Elsewhere"))
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        csrf = await csrf_for(organiser, "/organiser/events")
        response = await organiser.post(f"/organiser/events/{event.id}/cancel", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert "is cancelled" in page_text(await organiser.get(response.headers["location"]))
        again = await organiser.post(f"/organiser/events/{event.id}/cancel", data={"csrf_token": csrf})
        assert "already cancelled" in page_text(await organiser.get(again.headers["location"]))

    rows = await _outbox(db)
    assert sorted((r.to_addr, r.subject) for r in rows) == [
        ("amina@example.org", "Event cancelled: Outdoor cinema"),
        ("offered@example.org", "Event cancelled: Outdoor cinema"),
        ("priya@example.org", "Event cancelled: Outdoor cinema"),
        ("rahim@example.org", "Event cancelled: Outdoor cinema"),
        ("wait@example.org", "Event cancelled: Outdoor cinema"),
    ]  # the second cancel wrote nothing
    by_address = {r.to_addr: r for r in rows}
    text, markup = await _parts(db, by_address["wait@example.org"])
    for part in (text, markup):
        assert "Hello Wasim Akhtar: we are sorry, Outdoor cinema" in part and "has been cancelled" in part
        assert "waiting list for “Deckchair”, “Blanket”" in part and "no place will be offered" in part
        assert f"/events/{event.slug}" in part
    text, markup = await _parts(db, by_address["offered@example.org"])
    assert "Omar <b>Farouk</b>" in text and "Omar &lt;b&gt;Farouk&lt;/b&gt;" in markup
    text, markup = await _parts(db, by_address["amina@example.org"])
    for part in (text, markup):
        assert "We are sorry: Outdoor cinema" in part and "has been cancelled" in part
        assert f"booking {family.reference}" in part
        assert "Cancelled: Amina Khatun (Deckchair), Yusuf Khatun (Blanket)." in part
    text, markup = await _parts(db, by_address["priya@example.org"])
    assert "the organisers will be in touch about a refund" in text
    text, markup = await _parts(db, by_address["rahim@example.org"])
    assert "Cancelled: Nasrin Begum (Blanket)." in text and "Rahim Uddin" not in text

    async with db.read() as session:
        assert (await session.get(Event, event.id)).status == "cancelled"
        statuses = set(await session.scalars(select(Ticket.status).where(Ticket.event_id == event.id)))
        assert statuses == {"cancelled"}
        assert set(await session.scalars(select(Order.status).where(Order.event_id == event.id))) == {"cancelled"}
        assert [(await session.get(TicketType, t.id)).sold for t in (adult, child)] == [0, 0]
        assert (await session.get(Event, event.id)).tickets_sold == 0
        assert (await session.get(Order, elsewhere.id)).status == "confirmed"
        assert set(await session.scalars(select(WaitlistEntry.status).where(
            WaitlistEntry.event_id == event.id, WaitlistEntry.email != "claimed@example.org"))) == {"expired"}
