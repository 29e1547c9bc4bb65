"""Cancelling frees the seat; the waiting list holds a freed seat for the first in line, offers it by
email with a claim link, passes it on when the offer expires, and releases it when nobody is left."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update

from events.models import Event
from kernel.db import utcnow
from kernel.mail import OutboxMessage
from tests.conftest import csrf_for, csrf_from
from tests.core.helpers import new_client, page_text, running_app, sign_in
from tests.factories import make_event
from tests.ticketing.factories import book, make_ticket_type
from ticketing.models import Order, Ticket, TicketType, WaitlistEntry

CLAIM_RE = re.compile(r"http://testserver/waitlist/claim/([A-Za-z0-9_-]+)")


async def _seats(db, event_id, type_id) -> tuple[int, int]:
    async with db.read() as session:
        sold = await session.scalar(select(TicketType.sold).where(TicketType.id == type_id))
        event_sold = await session.scalar(select(Event.tickets_sold).where(Event.id == event_id))
    return sold, event_sold


async def _entries(db) -> list[WaitlistEntry]:
    async with db.read() as session:
        return list(await session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id)))


async def _emails_to(db, address) -> list[OutboxMessage]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == address)
                                          .order_by(OutboxMessage.id)))


async def _offers_to(db, address) -> list[OutboxMessage]:
    return [m for m in await _emails_to(db, address) if m.subject.startswith("A place has come up")]


async def _claim_path(db, address) -> str:
    offers = await _offers_to(db, address)
    assert offers, f"no offer email to {address}"
    match = CLAIM_RE.search(offers[-1].text_body)
    assert match, offers[-1].text_body
    lines = offers[-1].text_body.splitlines()  # one thing a line: the hold's sentence, then the claim link's
    assert lines[0].endswith("a place has come up.") and lines[1] == ""
    assert "Claim it here:" in lines and lines[lines.index("Claim it here:") - 1].startswith("We are holding one")
    assert f"/waitlist/claim/{match.group(1)}" in offers[-1].html_body
    return f"/waitlist/claim/{match.group(1)}"


async def _join(client, event, ticket_type, name, email, **extra):
    csrf = await csrf_for(client, f"/events/{event.slug}")
    data = {"csrf_token": csrf, "ticket_type_id": str(ticket_type.id), "name": name, "email": email,
            "consent": "on", **extra}
    return await client.post(f"/events/{event.slug}/waitlist", data=data)


async def _cancel_ticket(client, ticket_path):
    """Cancel as the booker does: from the ticket's page opened with the booking email's link."""
    page = await client.get(ticket_path)
    return await client.post(f"{ticket_path}/cancel", data={"csrf_token": csrf_from(page.text)})


async def _sold_out_setup(client, db, *, capacity=1, event_capacity=10):
    async with db.write() as session:
        event = await make_event(session, title="Bhangra workshop", capacity=event_capacity)
        ticket_type = await make_ticket_type(session, event, name="Dancer", capacity=capacity)
    paths = []  # each ticket's page, as the booking's links give it: /orders/<secret>/tickets/<code>
    for i in range(capacity):
        response = await book(client, event, [(ticket_type.id, f"Holder {i}")], email=f"holder{i}@example.org")
        assert response.status_code == 303
        async with db.read() as session:
            code = await session.scalar(select(Ticket.code).order_by(Ticket.id.desc()).limit(1))
        paths.append(f"{response.headers['location']}/tickets/{code}")
    return event, ticket_type, paths


# --- cancellation -------------------------------------------------------------------------------------

async def test_cancelling_frees_the_seat_and_a_sold_out_type_is_bookable_again(app, client, db):
    event, ticket_type, [code] = await _sold_out_setup(client, db)
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)
    page = page_text(await client.get(f"/events/{event.slug}"))
    assert "Sold out" in page and f'name="qty_{ticket_type.id}"' not in page
    async with new_client(app, address="198.51.100.5") as other:
        assert (await book(other, event, [(ticket_type.id, "Latecomer")])).status_code == 409

    assert (await _cancel_ticket(client, code)).status_code == 303
    assert await _seats(db, event.id, ticket_type.id) == (0, 0)
    page = page_text(await client.get(f"/events/{event.slug}"))
    assert "Sold out" not in page and f'name="qty_{ticket_type.id}"' in page
    assert "Join the waiting list" not in page
    async with new_client(app, address="198.51.100.5") as other:
        assert (await book(other, event, [(ticket_type.id, "Latecomer")])).status_code == 303
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)


async def test_organiser_cancelling_an_order_or_one_ticket_frees_seats(app, client, db):
    async with db.write() as session:
        event = await make_event(session, capacity=3)
        ticket_type = await make_ticket_type(session, event, capacity=3)
    assert (await book(client, event, [(ticket_type.id, "A"), (ticket_type.id, "B"), (ticket_type.id, "C")])
            ).status_code == 303
    async with db.read() as session:
        order = await session.scalar(select(Order))
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        csrf = await csrf_for(organiser, f"/organiser/events/{event.id}/attendees")
        assert (await organiser.post(f"/organiser/tickets/{tickets[0].id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
        assert await _seats(db, event.id, ticket_type.id) == (2, 2)
        assert (await organiser.post(f"/organiser/orders/{order.id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
        assert await _seats(db, event.id, ticket_type.id) == (0, 0)
        # again: nothing more is released
        again = await organiser.post(f"/organiser/orders/{order.id}/cancel", data={"csrf_token": csrf})
        assert "already cancelled" in page_text(await organiser.get(again.headers["location"]))
    assert await _seats(db, event.id, ticket_type.id) == (0, 0)
    async with db.read() as session:
        assert (await session.get(Order, order.id)).status == "cancelled"
        assert set(await session.scalars(select(Ticket.status))) == {"cancelled"}


# --- the waiting list ---------------------------------------------------------------------------------

async def test_a_sold_out_booking_offers_the_waiting_list_filled_in_and_one_tap_joins_it(app, db, client):
    event, ticket_type, _ = await _sold_out_setup(client, db)
    async with new_client(app, address="198.51.100.7") as late:
        refused = await book(late, event, [(ticket_type.id, "Nasrin <Begum>")], email="nasrin@example.org")
        assert refused.status_code == 409
        text = page_text(refused)
        assert "Sold out" in text and "“Dancer” tickets are sold out" in text and "Nothing has been booked" in text
        form = re.search(r'<form method="post" action="/events/[^"]+/waitlist".*?</form>', refused.text, re.DOTALL).group(0)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
        # What they typed is there, escaped; consent is theirs to give.
        assert fields["ticket_type_id"] == str(ticket_type.id) and fields["email"] == "nasrin@example.org"
        assert fields["name"] == "Nasrin &lt;Begum&gt;" and "<Begum>" not in refused.text
        assert 'name="consent" checked' not in form
        joined = await late.post(f"/events/{event.slug}/waitlist", data={
            "csrf_token": fields["csrf_token"], "ticket_type_id": fields["ticket_type_id"],
            "name": "Nasrin <Begum>", "email": fields["email"], "consent": "on", "website": ""})
        assert joined.status_code == 303
        assert "number 1 in line" in page_text(await late.get(joined.headers["location"]))
    assert [(e.name, e.email) for e in await _entries(db)] == [("Nasrin <Begum>", "nasrin@example.org")]


async def test_join_the_waiting_list_when_sold_out_and_joining_twice_is_harmless(client, db):
    event, ticket_type, _ = await _sold_out_setup(client, db)
    page = await client.get(f"/events/{event.slug}")
    assert "Join the waiting list" in page.text
    assert f'<form method="post" action="/events/{event.slug}/waitlist"' in page.text
    assert f'<input type="hidden" name="ticket_type_id" value="{ticket_type.id}">' in page.text

    first = await _join(client, event, ticket_type, "Bilal Ahmed", "bilal@example.org")
    assert first.status_code == 303 and first.headers["location"] == f"/events/{event.slug}#tickets"
    assert "number 1 in line" in page_text(await client.get(first.headers["location"]))
    again = await _join(client, event, ticket_type, "Bilal Ahmed", "Bilal@Example.org")
    assert again.status_code == 303
    assert "already on the waiting list" in page_text(await client.get(again.headers["location"]))
    second = await _join(client, event, ticket_type, "Chloe Smith", "chloe@example.org")
    assert "number 2 in line" in page_text(await client.get(second.headers["location"]))
    entries = await _entries(db)
    assert [(e.email, e.status) for e in entries] == [("bilal@example.org", "waiting"), ("chloe@example.org", "waiting")]


async def test_waiting_list_form_errors_keep_the_input(client, db):
    event, ticket_type, _ = await _sold_out_setup(client, db)
    cases = [
        ({"email": "bilal@"}, "waitlist_email", "Enter an email address like name@example.com."),
        ({"name": ""}, "waitlist_name", "Enter your name (up to 120 characters)."),
        ({"consent": ""}, "waitlist_consent", "Please agree that we may email you about a place."),
    ]
    for overrides, field, message in cases:
        values = {"name": "Bilal Ahmed", "email": "bilal@example.org", **overrides}
        response = await _join(client, event, ticket_type, values["name"], values["email"],
                               **{k: v for k, v in overrides.items() if k == "consent"})
        assert response.status_code == 422
        assert message in page_text(response), field
        assert re.search(r'<details class="waitlist" open>', response.text)  # the form is shown open again
        if "name" not in overrides:
            assert 'value="Bilal Ahmed"' in response.text
        if "email" not in overrides:
            assert 'value="bilal@example.org"' in response.text
    other = await make_other_type(db)
    response = await _join(client, event, other, "Bilal Ahmed", "bilal@example.org")
    assert response.status_code == 422
    assert "That ticket type is not available for this event." in page_text(response)
    assert await _entries(db) == []


async def make_other_type(db):
    async with db.write() as session:
        elsewhere = await make_event(session)
        return await make_ticket_type(session, elsewhere, capacity=1, sold=1)


async def test_freed_seat_is_held_offered_and_claimed_once(settings, client, db):
    event, ticket_type, [code] = await _sold_out_setup(client, db)
    await _join(client, event, ticket_type, "Bilal Ahmed", "bilal@example.org")
    await _join(client, event, ticket_type, "Chloe Smith", "chloe@example.org")
    async with running_app(settings, waitlist_offer_hours=3) as app:
        async with new_client(app) as holder:
            before = utcnow()
            assert (await _cancel_ticket(holder, code)).status_code == 303
        # the seat is held for Bilal: still taken, nobody else can book it
        assert await _seats(db, event.id, ticket_type.id) == (1, 1)
        bilal, chloe = await _entries(db)
        assert (bilal.status, chloe.status) == ("offered", "waiting")
        assert dt.timedelta(hours=3) <= bilal.offer_expires_at - before <= dt.timedelta(hours=3, minutes=1)
        assert await _offers_to(db, "chloe@example.org") == []
        claim_path = await _claim_path(db, "bilal@example.org")
        async with new_client(app, address="198.51.100.5") as stranger:
            page = page_text(await stranger.get(f"/events/{event.slug}"))
            assert "Sold out" in page
            refused = await book(stranger, event, [(ticket_type.id, "Queue Jumper")])
            assert refused.status_code == 409
        assert await _seats(db, event.id, ticket_type.id) == (1, 1)

        async with new_client(app, address="198.51.100.6") as claimant:
            form = await claimant.get(claim_path)
            assert form.status_code == 200
            assert "We are holding this place for you until" in page_text(form)
            assert 'value="Bilal Ahmed"' in form.text
            csrf = csrf_from(form.text)
            no_consent = await claimant.post(claim_path, data={"csrf_token": csrf, "attendee_name": "Bilal Ahmed"})
            assert no_consent.status_code == 422
            assert "Please agree to how we use your details" in page_text(no_consent)
            claimed = await claimant.post(claim_path, data={"csrf_token": csrf, "attendee_name": "Bilal Ahmed",
                                                            "consent": "on"})
            assert claimed.status_code == 303 and claimed.headers["location"].startswith("/orders/")
            order_page = page_text(await claimant.get(claimed.headers["location"]))
            assert "Bilal Ahmed" in order_page and "The place is yours" in order_page

            second = await claimant.post(claim_path, data={"csrf_token": csrf, "attendee_name": "Someone Else",
                                                           "consent": "on"})
            assert second.status_code == 410
            assert "already" in page_text(second)
            revisit = await claimant.get(claim_path)
            assert revisit.status_code == 410
            assert "already been claimed" in page_text(revisit)

    async with db.read() as session:
        order = await session.scalar(select(Order).where(Order.email == "bilal@example.org")
                                     .order_by(Order.id.desc()))
        tickets = list(await session.scalars(select(Ticket).where(Ticket.order_id == order.id)))
    assert [t.attendee_name for t in tickets] == ["Bilal Ahmed"] and tickets[0].status == "valid"
    assert (order.status, order.total_pence) == ("confirmed", 0)
    bilal, chloe = await _entries(db)
    assert (bilal.status, bilal.order_id, chloe.status) == ("claimed", order.id, "waiting")
    # the claimed seat is the held one: nothing more was taken
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)
    assert [m.subject for m in await _emails_to(db, "bilal@example.org")] == [
        "Waiting list: Bhangra workshop", "A place has come up: Bhangra workshop", "Your tickets: Bhangra workshop"]


async def test_expired_offer_passes_to_the_next_person_then_the_seat_is_released(app, client, db):
    event, ticket_type, [code] = await _sold_out_setup(client, db)
    for name, email in (("Bilal Ahmed", "bilal@example.org"), ("Chloe Smith", "chloe@example.org")):
        assert (await _join(client, event, ticket_type, name, email)).status_code == 303
    assert (await _cancel_ticket(client, code)).status_code == 303
    bilal_link = await _claim_path(db, "bilal@example.org")

    async def expire(email):
        async with db.write() as session:
            await session.execute(update(WaitlistEntry).where(WaitlistEntry.email == email)
                                  .values(offer_expires_at=utcnow() - dt.timedelta(minutes=1)))

    # not yet due: nothing happens
    assert await app.state.waitlist_expirer.run_once() == 0
    await expire("bilal@example.org")
    assert await app.state.waitlist_expirer.run_once() == 1
    bilal, chloe = await _entries(db)
    assert (bilal.status, chloe.status) == ("expired", "offered")
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)  # still held, now for Chloe
    chloe_link = await _claim_path(db, "chloe@example.org")
    assert chloe_link != bilal_link
    late = await client.get(bilal_link)
    assert late.status_code == 410
    assert "expired" in page_text(late)
    late_claim = await client.post(bilal_link, data={"csrf_token": await csrf_for(client), "attendee_name": "Bilal",
                                                     "consent": "on"})
    assert late_claim.status_code == 410

    await expire("chloe@example.org")
    assert await app.state.waitlist_expirer.run_once() == 1
    assert [e.status for e in await _entries(db)] == ["expired", "expired"]
    assert await _seats(db, event.id, ticket_type.id) == (0, 0)  # nobody left: released
    assert (await client.get(chloe_link)).status_code == 410
    assert f'name="qty_{ticket_type.id}"' in (await client.get(f"/events/{event.slug}")).text
    async with db.read() as session:
        assert await session.scalar(select(func.count(Order.id)).where(Order.status != "cancelled")) == 0
    assert len(await _offers_to(db, "bilal@example.org")) == 1
    assert len(await _offers_to(db, "chloe@example.org")) == 1


async def test_offer_past_its_time_cannot_be_claimed_even_before_the_expirer_runs(client, db):
    event, ticket_type, [code] = await _sold_out_setup(client, db)
    await _join(client, event, ticket_type, "Bilal Ahmed", "bilal@example.org")
    await _cancel_ticket(client, code)
    link = await _claim_path(db, "bilal@example.org")
    async with db.write() as session:
        await session.execute(update(WaitlistEntry).values(offer_expires_at=utcnow() - dt.timedelta(seconds=1)))
    response = await client.post(link, data={"csrf_token": await csrf_for(client), "attendee_name": "Bilal Ahmed",
                                             "consent": "on"})
    assert response.status_code == 410
    assert "expired" in page_text(response)
    async with db.read() as session:
        assert await session.scalar(select(func.count(Order.id)).where(Order.email == "bilal@example.org")) == 0
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)


async def test_organiser_cancellation_offers_the_seat_to_the_first_in_line(app, client, db):
    event, ticket_type, _ = await _sold_out_setup(client, db, capacity=2)
    await _join(client, event, ticket_type, "Bilal Ahmed", "bilal@example.org")
    await _join(client, event, ticket_type, "Chloe Smith", "chloe@example.org")
    async with db.read() as session:
        first_order = await session.scalar(select(Order).order_by(Order.id))
    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        csrf = await csrf_for(organiser, f"/organiser/events/{event.id}/attendees")
        assert (await organiser.post(f"/organiser/orders/{first_order.id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
        types_page = page_text(await organiser.get(f"/organiser/events/{event.id}/tickets"))
    assert [e.status for e in await _entries(db)] == ["offered", "waiting"]
    assert await _seats(db, event.id, ticket_type.id) == (2, 2)
    await _claim_path(db, "bilal@example.org")
    assert "2 / 2" in types_page


async def test_unknown_claim_link_is_not_found(client, db):
    assert (await client.get("/waitlist/claim/not-a-real-token")).status_code == 404
    assert (await client.get("/waitlist/claim/" + "x" * 300)).status_code == 404


# --- at the same moment -------------------------------------------------------------------------------

async def test_two_cancellations_at_once_offer_to_two_different_people(client, db):
    import asyncio

    event, ticket_type, codes = await _sold_out_setup(client, db, capacity=2)
    for name, email in (("Bilal Ahmed", "bilal@example.org"), ("Chloe Smith", "chloe@example.org"),
                        ("Dev Patel", "dev@example.org")):
        await _join(client, event, ticket_type, name, email)
    csrf = await csrf_for(client, codes[0])
    responses = await asyncio.gather(*(client.post(f"{code}/cancel", data={"csrf_token": csrf})
                                       for code in codes))
    assert [r.status_code for r in responses] == [303, 303]
    assert [e.status for e in await _entries(db)] == ["offered", "offered", "waiting"]
    assert await _seats(db, event.id, ticket_type.id) == (2, 2)
    assert len(await _offers_to(db, "bilal@example.org")) == len(await _offers_to(db, "chloe@example.org")) == 1
    assert await _offers_to(db, "dev@example.org") == []


async def test_the_same_ticket_cancelled_twice_at_once_frees_one_seat(client, db):
    import asyncio

    event, ticket_type, codes = await _sold_out_setup(client, db, capacity=2)
    csrf = await csrf_for(client, codes[0])
    responses = await asyncio.gather(*(client.post(f"{codes[0]}/cancel", data={"csrf_token": csrf})
                                       for _ in range(3)))
    assert [r.status_code for r in responses] == [303, 303, 303]
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)


async def test_the_same_claim_link_sent_twice_at_once_makes_one_order(client, db):
    import asyncio

    event, ticket_type, [code] = await _sold_out_setup(client, db)
    await _join(client, event, ticket_type, "Bilal Ahmed", "bilal@example.org")
    await _cancel_ticket(client, code)
    link = await _claim_path(db, "bilal@example.org")
    csrf = csrf_from((await client.get(link)).text)
    form = {"csrf_token": csrf, "attendee_name": "Bilal Ahmed", "consent": "on"}
    responses = await asyncio.gather(*(client.post(link, data=form) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [303, 410, 410]
    async with db.read() as session:
        orders = await session.scalar(select(func.count(Order.id)).where(Order.email == "bilal@example.org"))
    assert orders == 1
    assert await _seats(db, event.id, ticket_type.id) == (1, 1)
