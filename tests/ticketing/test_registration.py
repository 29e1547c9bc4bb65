"""Registration through plain forms: step 1 (how many), step 2 (names, email, needs, consent), the tiers,
and every kind of bad input answered with a clear field error, the input kept, and never a 500."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import func, select

from events.models import Event
from kernel.accounts import Role
from kernel.db import utcnow
from kernel.mail import OutboxMessage
from tests.conftest import csrf_for, csrf_from
from tests.core.helpers import elements, new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import (
    book,
    booking_form,
    form_token_from,
    make_ticket_type,
    start_booking,
)
from ticketing.models import Order, Ticket, TicketType


async def _count(db, model, *where) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count(model.id)).where(*where))


async def _sold(db, type_id) -> int:
    async with db.read() as session:
        return await session.scalar(select(TicketType.sold).where(TicketType.id == type_id))


def _field_error(page: str, name: str) -> str:
    """The text of the error shown for one field (empty when there is none)."""
    match = re.search(rf'<p class="field-error" id="{re.escape(name)}-error"[^>]*>(.*?)</p>', page, re.DOTALL)
    if not match:
        return ""
    text = html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))
    return text.removeprefix("Error: ")  # the visually hidden prefix for screen readers


def _booking_form_fields(page: str, slug: str) -> list[tuple[str, dict[str, str]]]:
    match = re.search(rf'<form method="post" action="/events/{re.escape(slug)}/register".*?</form>', page,
                      re.DOTALL)
    assert match, "no booking form on the page"
    return [(tag, attrs) for tag, attrs in elements(match.group(0)) if tag in ("input", "select", "textarea")]


def _selected(page: str, name: str) -> str | None:
    match = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert match, f"no select {name}"
    chosen = re.search(r'<option value="([^"]*)" selected>', match.group(1))
    return chosen.group(1) if chosen else None


# --- the happy paths, as a browser without JavaScript does them ----------------------------------------

async def test_free_booking_through_the_plain_forms_is_confirmed_at_once(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Handsworth Park Run", capacity=None)
        free = await make_ticket_type(session, event, name="Free entry", capacity=20, max_per_order=4)
    event_page = await client.get(f"/events/{event.slug}")
    # the event page's form is a plain GET form with a select per type (beside it, not inside: form="...")
    assert f'<form id="ticket-form" method="get" action="/events/{event.slug}/register"' in event_page.text
    assert f'<select id="qty_{free.id}" name="qty_{free.id}" form="ticket-form"' in event_page.text
    assert "<script" not in event_page.text

    details = await start_booking(client, event, {free.id: 2})
    assert details.status_code == 200
    fields = _booking_form_fields(details.text, event.slug)
    names = [attrs["name"] for _, attrs in fields]
    # a name per ticket, one email, access needs, consent; hidden csrf, form token and the honeypot
    assert names.count("email") == 1 and "access_needs" in names and "consent" in names
    assert [n for n in names if n.startswith("name_")] == ["name_0", "name_1"]
    assert [attrs["value"] for _, attrs in fields if attrs.get("name", "").startswith("type_")] == [str(free.id)] * 2
    assert "website" in names and "<script" not in details.text

    # submit exactly what the form holds, filled in as a person would
    data = {attrs["name"]: attrs.get("value", "") for tag, attrs in fields
            if tag == "input" and attrs.get("type") == "hidden"}
    data.update(name_0="Rahim Uddin", name_1="Sumaiya Begum", email="Rahim@Example.org",
                access_needs="Step-free route please", consent="on", website="")
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 303, page_text(response)[:3000]
    order_url = response.headers["location"]
    assert re.fullmatch(r"/orders/[A-Za-z0-9_-]{20,}", order_url)

    async with db.read() as session:
        order = await session.scalar(select(Order))
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    assert order.status == "confirmed" and order.total_pence == 0 and order.paid_at is None
    assert order.email == "rahim@example.org" and order.buyer_name == "Rahim Uddin"
    assert order.access_needs == "Step-free route please" and order.consent_at is not None
    assert [t.attendee_name for t in tickets] == ["Rahim Uddin", "Sumaiya Begum"]
    assert {t.price_pence for t in tickets} == {0}
    assert await _sold(db, free.id) == 2
    page = page_text(await client.get(order_url))
    assert "Confirmed" in page and order.reference in page and "Sumaiya Begum" in page
    assert "You are booked" in page  # the flash message after the redirect


@pytest.mark.parametrize(
    ("tier", "price_pence", "qty", "extra", "expected_each"),
    [("standard", 1200, 2, {}, 1200), ("corporate", 4500, 1, {}, 4500),
     ("community", 300, 2, {"community_declaration": "student"}, 300),
     ("pay_what_you_can", 300, 2, {"price_0": "7.50", "price_1": "£3"}, None)],
)
async def test_paid_tiers_wait_for_payment_until_the_organiser_marks_them_paid(app, client, db, tier, price_pence,
                                                                                qty, extra, expected_each):
    async with db.write() as session:
        event = await make_event(session)
        paid = await make_ticket_type(session, event, name="Supper", tier=tier, price_pence=price_pence)
    response = await book(client, event, [(paid.id, f"Guest {i}") for i in range(qty)], **extra)
    assert response.status_code == 303, page_text(response)[:3000]
    async with db.read() as session:
        order = await session.scalar(select(Order))
        prices = list(await session.scalars(select(Ticket.price_pence).order_by(Ticket.id)))
    expected = [750, 300] if tier == "pay_what_you_can" else [expected_each] * qty
    assert prices == expected
    assert order.total_pence == sum(expected)
    assert order.status == "awaiting_payment"
    assert order.community_declaration == ("student" if tier == "community" else "")
    order_page = page_text(await client.get(response.headers["location"]))
    assert "To pay at the door or by invoice" in order_page
    if tier == "community":
        assert "Student" in order_page

    async with new_client(app) as organiser:
        await sign_in(organiser, db)
        attendees = await organiser.get(f"/organiser/events/{event.id}/attendees")
        assert f'action="/organiser/orders/{order.id}/mark-paid' in attendees.text
        marked = await organiser.post(f"/organiser/orders/{order.id}/mark-paid",
                                      data={"csrf_token": csrf_from(attendees.text), "note": "Cash at the door"})
        assert marked.status_code == 303
        assert marked.headers["location"].startswith(f"/organiser/events/{event.id}/attendees")
        again = await organiser.post(f"/organiser/orders/{order.id}/mark-paid",
                                     data={"csrf_token": csrf_from(attendees.text)})
        assert "already marked paid" in page_text(await organiser.get(again.headers["location"]))
    async with db.read() as session:
        order = await session.get(Order, order.id)
    assert order.status == "confirmed" and order.paid_at is not None and order.paid_note == "Cash at the door"
    order_page = page_text(await client.get(response.headers["location"]))
    assert "Confirmed" in order_page and "(paid)" in order_page


async def test_mixed_free_and_paid_order_is_awaiting_payment_for_the_paid_part(client, db):
    async with db.write() as session:
        event = await make_event(session)
        free = await make_ticket_type(session, event, name="Child", tier="free")
        adult = await make_ticket_type(session, event, name="Adult", tier="standard", price_pence=800)
    response = await book(client, event, [(free.id, "Child One"), (adult.id, "Parent One")])
    assert response.status_code == 303
    async with db.read() as session:
        order = await session.scalar(select(Order))
    assert (order.status, order.total_pence) == ("awaiting_payment", 800)


# --- step 1: how many ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("params", "error_key", "message"),
    [
        ("zero", "quantity", "Choose how many tickets you want (at least one)."),
        ("none", "quantity", "Choose how many tickets you want (at least one)."),
        ("negative", "qty_A", "The number of tickets cannot be negative."),
        ("over_max", "qty_A", "You can book up to 4 “Adult” tickets at a time."),
        ("words", "qty_A", "Enter a whole number of tickets."),
        ("decimal", "qty_A", "Enter a whole number of tickets."),
        ("unknown_type", "quantity", "That ticket type is not available for this event."),
        ("bad_key", "quantity", "That ticket type is not available for this event."),
        ("other_event_type", "quantity", "That ticket type is not available for this event."),
    ],
)
async def test_step1_bad_quantities_are_field_errors_with_the_choice_kept(client, db, params, error_key, message):
    async with db.write() as session:
        event = await make_event(session)
        other = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult", max_per_order=4)
        child = await make_ticket_type(session, event, name="Child", max_per_order=4)
        foreign = await make_ticket_type(session, other, name="Elsewhere")
    query = {
        "zero": {f"qty_{adult.id}": "0", f"qty_{child.id}": "0"},
        "none": {},
        "negative": {f"qty_{adult.id}": "-1"},
        "over_max": {f"qty_{adult.id}": "5"},
        "words": {f"qty_{adult.id}": "two"},
        "decimal": {f"qty_{adult.id}": "1.5"},
        "unknown_type": {"qty_987654": "1"},
        "bad_key": {"qty_adult": "1"},
        "other_event_type": {f"qty_{foreign.id}": "1"},
    }[params]
    if params not in ("zero", "none"):
        query[f"qty_{child.id}"] = "2"  # a good choice next to the bad one is kept
    response = await client.get(f"/events/{event.slug}/register", params=query)
    assert response.status_code == 422
    assert "Your booking" not in response.text  # still the event page, not the details step
    assert _field_error(response.text, error_key.replace("A", str(adult.id))) == message
    if params not in ("zero", "none"):
        assert _selected(response.text, f"qty_{child.id}") == "2"
    assert await _count(db, Order) == 0


async def test_step1_refuses_types_outside_their_sales_window(client, db):
    now = utcnow()
    async with db.write() as session:
        event = await make_event(session)
        early = await make_ticket_type(session, event, name="Early bird", sales_end=now - dt.timedelta(hours=1))
        later = await make_ticket_type(session, event, name="Door", sales_start=now + dt.timedelta(days=2))
        open_ = await make_ticket_type(session, event, name="Standard")
    page = page_text(await client.get(f"/events/{event.slug}"))
    assert "Sales have closed" in page and "On sale from" in page
    assert f'name="qty_{early.id}"' not in page and f'name="qty_{later.id}"' not in page
    assert f'name="qty_{open_.id}"' in page

    closed = await start_booking(client, event, {early.id: 1})
    assert closed.status_code == 422
    assert "Sales of “Early bird” tickets have closed." in page_text(closed)
    not_yet = await start_booking(client, event, {later.id: 1, open_.id: 1})
    assert not_yet.status_code == 422
    assert "“Door” tickets are not on sale yet." in page_text(not_yet)
    assert _selected(not_yet.text, f"qty_{open_.id}") == "1"


# --- step 2: names, email, consent --------------------------------------------------------------------

async def _details(client, event, quantities):
    page = await start_booking(client, event, quantities)
    assert page.status_code == 200, page.text[:2000]
    return csrf_from(page.text), form_token_from(page.text)


async def test_step2_bad_input_gives_field_errors_and_keeps_everything_typed(client, db):
    async with db.write() as session:
        event = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult", tier="standard", price_pence=500)
        pwyc = await make_ticket_type(session, event, name="Supper", tier="pay_what_you_can", price_pence=300)
        community = await make_ticket_type(session, event, name="Local", tier="community", price_pence=200)
    csrf, token = await _details(client, event, {adult.id: 1, pwyc.id: 1, community.id: 1})
    good = booking_form(csrf, token, [(adult.id, "Ayesha Rahman"), (pwyc.id, "Kwame Mensah"), (community.id, "Jo Bloggs")],
                        price_1="5", community_declaration="resident", access_needs="Hearing loop seat")
    cases = [
        ({"email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
        ({"email": "amina@example"}, "email", "Enter an email address like name@example.com."),
        ({"email": "a b@example.org"}, "email", "Enter an email address like name@example.com."),
        ({"email": ""}, "email", "Enter your email address: we send the tickets there."),
        ({"consent": ""}, "consent", "Please agree to how we use your details, or we cannot book your tickets."),
        ({"price_1": "2.99"}, "price_1", "Enter an amount of at least £3.00."),
        ({"price_1": "0"}, "price_1", "Enter an amount of at least £3.00."),
        ({"price_1": "five"}, "price_1", "Enter an amount in pounds, e.g. 5 or 7.50."),
        ({"price_1": "-4"}, "price_1", "Enter an amount in pounds, e.g. 5 or 7.50."),
        ({"price_1": ""}, "price_1", "Enter an amount in pounds, e.g. 5 or 7.50."),
        ({"name_2": "   "}, "name_2", "Enter the name of the person this ticket is for."),
        ({"community_declaration": ""}, "community_declaration",
         "Community-rate tickets: tell us which of these applies to you."),
        ({"community_declaration": "millionaire"}, "community_declaration",
         "Community-rate tickets: tell us which of these applies to you."),
    ]
    for overrides, field, message in cases:
        data = {**good, **overrides}
        if overrides.get("consent") == "":
            del data["consent"]
        response = await client.post(f"/events/{event.slug}/register", data=data)
        assert response.status_code == 422, (overrides, response.status_code)
        assert _field_error(response.text, field) == message, (overrides, _field_error(response.text, field))
        page = html.unescape(response.text)
        # what was typed is still in the form
        for name_field in ("name_0", "name_1", "name_2"):
            if name_field not in overrides:
                assert f'value="{good[name_field]}"' in page
        if "email" not in overrides:
            assert 'value="amina@example.org"' in page
        else:
            assert f'value="{overrides["email"]}"' in page
        assert ">Hearing loop seat</textarea>" in page
        if field == "price_1":
            assert f'id="price_1" name="price_1" type="text" inputmode="decimal" value="{overrides["price_1"]}"' in page
        if field != "consent":
            assert 'id="consent" name="consent" checked' in page
        if field != "community_declaration":
            assert 'value="resident" checked' in page
        # the same form token, so a corrected submission is still one booking
        assert form_token_from(response.text) == token
    assert await _count(db, Order) == 0
    assert await _sold(db, adult.id) == 0

    fixed = await client.post(f"/events/{event.slug}/register", data=good)
    assert fixed.status_code == 303
    async with db.read() as session:
        order = await session.scalar(select(Order))
    assert (order.status, order.total_pence, order.community_declaration) == ("awaiting_payment", 500 + 500 + 200,
                                                                              "resident")


@pytest.mark.parametrize("token", [None, "", "short", "has spaces in it and is long", "x" * 65, "bad/chars/here/12345"])
async def test_missing_or_malformed_form_token_is_refused_clearly(client, db, token):
    async with db.write() as session:
        event = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult")
    csrf, _ = await _details(client, event, {adult.id: 1})
    data = booking_form(csrf, "placeholder", [(adult.id, "Amina Khatun")])
    if token is None:
        del data["form_token"]
    else:
        data["form_token"] = token
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert "This form has expired. Please start your booking again from the event page." in page_text(response)
    assert 'value="Amina Khatun"' in response.text
    assert await _count(db, Order) == 0
    # the form on the page can be sent again: it carries a usable token, not the broken one
    new_token = form_token_from(response.text)
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", new_token)
    again = await client.post(f"/events/{event.slug}/register", data={**data, "form_token": new_token})
    assert again.status_code == 303
    assert await _count(db, Order) == 1


@pytest.mark.parametrize("tampered", ["other_event", "unknown", "words", "inactive"])
async def test_step2_tampered_ticket_type_is_refused(client, db, tampered):
    async with db.write() as session:
        event = await make_event(session)
        other = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult", capacity=5)
        hidden = await make_ticket_type(session, event, name="Staff", is_active=False)
        foreign = await make_ticket_type(session, other, name="Elsewhere", capacity=5)
    csrf, token = await _details(client, event, {adult.id: 2})
    value = {"other_event": str(foreign.id), "unknown": "99999", "words": "adult", "inactive": str(hidden.id)}[tampered]
    data = booking_form(csrf, token, [(adult.id, "Amina Khatun"), (adult.id, "Rahim Uddin")], type_0=value)
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert "That ticket type is not available for this event." in page_text(response)
    assert await _count(db, Order) == 0 and await _count(db, Ticket) == 0
    assert await _sold(db, foreign.id) == 0 and await _sold(db, adult.id) == 0


async def test_step2_sales_window_closed_or_not_yet_open(client, db):
    async with db.write() as session:
        event = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult")
    csrf, token = await _details(client, event, {adult.id: 1})
    data = booking_form(csrf, token, [(adult.id, "Amina Khatun")])
    # sales close while the person is filling in the form
    async with db.write() as session:
        (await session.get(TicketType, adult.id)).sales_end = utcnow() - dt.timedelta(minutes=1)
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert "Sales of “Adult” tickets have closed." in page_text(response)
    assert 'value="Amina Khatun"' in response.text
    async with db.write() as session:
        ticket_type = await session.get(TicketType, adult.id)
        ticket_type.sales_end = None
        ticket_type.sales_start = utcnow() + dt.timedelta(days=1)
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert "“Adult” tickets are not on sale yet." in page_text(response)
    assert await _count(db, Order) == 0 and await _sold(db, adult.id) == 0


async def test_too_many_names_for_the_per_order_maximum_is_refused(client, db):
    async with db.write() as session:
        event = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult", max_per_order=2)
    csrf, token = await _details(client, event, {adult.id: 2})
    data = booking_form(csrf, token, [(adult.id, f"Person {i}") for i in range(3)])  # one line added by hand
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert "You can book up to 2 “Adult” tickets at a time." in page_text(response)
    assert await _count(db, Order) == 0


async def test_lines_keep_their_names_and_types_after_an_error_in_a_long_booking(client, db):
    """With 10 or more tickets the form is re-shown with each name still next to its own ticket type."""
    async with db.write() as session:
        event = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult", max_per_order=10)
        supper = await make_ticket_type(session, event, name="Supper", tier="pay_what_you_can", price_pence=300,
                                        max_per_order=5)
    csrf, token = await _details(client, event, {adult.id: 10, supper.id: 2})
    lines = [(adult.id, f"Adult {i}") for i in range(10)] + [(supper.id, "Supper A"), (supper.id, "Supper B")]
    data = booking_form(csrf, token, lines, price_10="4", price_11="6")
    del data["consent"]
    response = await client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    fields = _booking_form_fields(response.text, event.slug)
    resent = {attrs["name"]: attrs.get("value", "") for tag, attrs in fields
              if tag == "input" and attrs.get("name") and attrs.get("type") in ("hidden", "text", "email")}
    for i, (type_id, name) in enumerate(lines):
        assert resent[f"type_{i}"] == str(type_id), (i, resent[f"type_{i}"])
        assert resent[f"name_{i}"] == name
    resent["consent"] = "on"
    booked = await client.post(f"/events/{event.slug}/register", data=resent)
    assert booked.status_code == 303
    async with db.read() as session:
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    assert [(t.ticket_type_id, t.attendee_name, t.price_pence) for t in tickets] == (
        [(adult.id, f"Adult {i}", 0) for i in range(10)] + [(supper.id, "Supper A", 400), (supper.id, "Supper B", 600)])


# --- events that are not open -------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["cancelled", "finished"])
async def test_cancelled_or_finished_event_refuses_registration_clearly(client, db, state):
    async with db.write() as session:
        if state == "cancelled":
            event = await make_event(session, status="cancelled")
        else:
            event = await make_event(session, starts_at=utcnow() - dt.timedelta(hours=5))
        adult = await make_ticket_type(session, event, name="Adult")
    message = {"cancelled": "This event has been cancelled", "finished": "This event has finished"}[state]
    event_page = page_text(await client.get(f"/events/{event.slug}"))
    assert f'name="qty_{adult.id}"' not in event_page
    assert ("This event is cancelled, so booking is closed." if state == "cancelled"
            else "Booking is closed for this event.") in event_page

    step1 = await start_booking(client, event, {adult.id: 1})
    assert step1.status_code == 409
    assert message in page_text(step1)
    assert 'name="form_token"' not in step1.text

    data = booking_form(await csrf_for(client, "/login"), "f" * 32, [(adult.id, "Amina Khatun")])
    step2 = await client.post(f"/events/{event.slug}/register", data=data)
    assert step2.status_code == 409  # the event's state, like step 1
    assert message in page_text(step2)
    assert await _count(db, Order) == 0 and await _sold(db, adult.id) == 0
    async with db.read() as session:
        assert (await session.get(Event, event.id)).tickets_sold == 0


async def test_draft_event_registration_is_not_found(app, client, db):
    async with db.write() as session:
        event = await make_event(session, status="draft")
        adult = await make_ticket_type(session, event, name="Adult")
    assert (await start_booking(client, event, {adult.id: 1})).status_code == 404
    data = booking_form(await csrf_for(client, "/login"), "f" * 32, [(adult.id, "Amina Khatun")])
    assert (await client.post(f"/events/{event.slug}/register", data=data)).status_code == 404
    assert (await client.post(f"/events/{event.slug}/waitlist",
                              data={"csrf_token": data["csrf_token"], "ticket_type_id": str(adult.id),
                                    "name": "A", "email": "a@example.org", "consent": "on"})).status_code == 404
    # an organiser can see the draft, but not book it
    async with new_client(app) as organiser:
        await sign_in(organiser, db, Role.ADMIN)
        step1 = await start_booking(organiser, event, {adult.id: 1})
        assert step1.status_code == 409
        sent = booking_form(await csrf_for(organiser, "/login"), "g" * 32, [(adult.id, "Amina Khatun")])
        assert (await organiser.post(f"/events/{event.slug}/register", data=sent)).status_code == 409
    # an event organiser who was not given this event does not find it at all, as on its page
    async with new_client(app) as other:
        await sign_in(other, db, Role.ORGANISER)
        assert (await other.get(f"/events/{event.slug}")).status_code == 404
        assert (await start_booking(other, event, {adult.id: 1})).status_code == 404
        sent = booking_form(await csrf_for(other, "/login"), "h" * 32, [(adult.id, "Amina Khatun")])
        assert (await other.post(f"/events/{event.slug}/register", data=sent)).status_code == 404
    assert await _count(db, Order) == 0


async def test_unexpected_or_oversized_input_never_causes_a_500(client, db):
    async with db.write() as session:
        event = await make_event(session)
        adult = await make_ticket_type(session, event, name="Adult")
    weird_queries = [{f"qty_{adult.id}": "9" * 400}, {f"qty_{adult.id}": "\x00"}, {"qty_": "1"},
                     {f"qty_{adult.id}": "１"}, {f"qty_{adult.id}": ["1", "2"]}, {"qty_-1": "1"}]
    for query in weird_queries:
        response = await client.get(f"/events/{event.slug}/register", params=query)
        assert response.status_code in (200, 422), (query, response.status_code)
    csrf, token = await _details(client, event, {adult.id: 1})
    weird_forms = [
        {"type_0": str(adult.id), "name_0": "x" * 5000},
        {"type_0": str(adult.id), "name_0": "Amina", "email": "a@" + "b" * 300 + ".org"},
        {"type_0": str(adult.id), "name_0": "Amina", "access_needs": "y" * 5000},
        {"type_0": "", "name_0": "Amina"},
        {"name_0": "Amina"},
        {"type_0": "9" * 40, "name_0": "Amina"},
    ]
    for extra in weird_forms:
        data = {"csrf_token": csrf, "form_token": token, "email": "amina@example.org", "consent": "on", **extra}
        response = await client.post(f"/events/{event.slug}/register", data=data)
        assert response.status_code == 422, (extra, response.status_code)
        assert "Please correct" in response.text or "problem" in response.text
    assert await _count(db, Order) == 0
    assert await _count(db, OutboxMessage) == 0
