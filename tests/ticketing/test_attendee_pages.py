"""The attendee list and its CSV export read in pages (ticketing/attendees.py): the streamed CSV is, byte for
byte, the export as it was written in one go before, with every ticket once, however the pages fall (inside
an order, between orders booked at the same moment) and while people book, cancel and pay between pages; the
list pages through every match with its filters kept."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kernel.web import london
from tests.core.helpers import sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_order, make_ticket_type
from ticketing import attendees, services
from ticketing.models import Order, OrderStatus, Ticket

EVIL = '=HYPERLINK("http://evil.example/","x")'
T0 = dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.UTC)


async def _book(session, event, lines, *, now, **fields):
    req = services.RegistrationRequest(lines=[services.TicketLine(t, name) for t, name in lines],
                                       email=fields.pop("email", "guest@example.org"), **fields)
    order, created = await services.register(session=session, event_id=event.id, req=req, now=now)
    assert created
    return order


@pytest.fixture
async def crowd(db):
    """29 tickets in 13 orders of 1 to 4, of three types and in every state; two orders booked at the same
    moment (their tickets interleave by id), one booked earlier than orders made before it."""
    async with db.write() as session:
        event = await make_event(session, title="Handsworth Carnival")
        other = await make_event(session, title="Elsewhere")
        adult = await make_ticket_type(session, event, name="Adult", tier="standard", price_pence=750, capacity=None)
        child = await make_ticket_type(session, event, name="Child", tier="free", capacity=None)
        community = await make_ticket_type(session, event, name="Local", tier="community", price_pence=300,
                                           capacity=None)
        elsewhere = await make_ticket_type(session, other, name="Elsewhere")
        types = [adult, child, community]
        orders = []
        for i in range(11):
            size = 1 + i % 4
            kind = types[i % 3]
            names = [EVIL if (i, n) == (5, 1) else f"Guest {i}-{n}" for n in range(size)]
            orders.append(await _book(
                session, event, [(kind.id, name) for name in names], now=T0 + dt.timedelta(minutes=i),
                email=f"guest{i}@example.org" if i != 7 else "@cmd@example.org",
                access_needs="Step-free, please" if i % 5 == 0 else "",
                community_declaration="student" if kind is community else ""))
        # Booked at the same moment as order 2; and one booked before all of them, made last.
        orders.append(await _book(session, event, [(child.id, "Tied Twin"), (child.id, "Tied Twin Two")],
                                  now=T0 + dt.timedelta(minutes=2), email="twins@example.org"))
        orders.append(await _book(session, event, [(adult.id, "Early Bird")], now=T0 - dt.timedelta(days=1),
                                  email="early@example.org"))
        await services.mark_paid(session=session, order=orders[3], note="Cash", now=T0 + dt.timedelta(hours=1))
        await services.cancel_tickets(session=session, tickets=[orders[6].tickets[0], *orders[9].tickets])
        await make_order(session, other, [(elsewhere.id, "Not Here")], email="nothere@example.org")
    return {"event": event, "adult": adult, "orders": orders}


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def previous_export(db, event_id: int, *, q: str = "", type_id: int | None = None, status: str = "",
                          paid: str = "") -> str:
    """The CSV as the export wrote it before it was streamed (one query of ORM objects, one Response): the
    reference the streamed export must equal."""
    async with db.read() as session:
        stmt = (select(Ticket).join(Order, Ticket.order_id == Order.id).where(Ticket.event_id == event_id)
                .options(selectinload(Ticket.order), selectinload(Ticket.ticket_type)))
        if q:
            text = q.strip().lower()
            stmt = stmt.where(
                func.lower(Ticket.attendee_name).contains(text, autoescape=True)
                | func.lower(Order.email).contains(text, autoescape=True)
                | func.lower(Ticket.code).contains(text, autoescape=True)
                | func.lower(Order.reference).contains(text, autoescape=True)
            )
        if type_id:
            stmt = stmt.where(Ticket.ticket_type_id == type_id)
        if status:
            stmt = stmt.where(Ticket.status == status)
        if paid == "unpaid":
            stmt = stmt.where(Order.status == OrderStatus.AWAITING_PAYMENT.value)
        elif paid == "paid":
            stmt = stmt.where(Order.paid_at.is_not(None))
        tickets = list(await session.scalars(stmt.order_by(Order.created_at, Ticket.id).limit(5000)))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ticket_code", "attendee", "ticket_type", "tier", "price_gbp", "ticket_status", "checked_in_at",
                     "order_reference", "email", "organisation", "order_status", "paid_at", "community_declaration",
                     "access_needs", "booked_at"])
    for t in tickets:
        o = t.order
        writer.writerow([_cell(x) for x in (
            t.code, t.attendee_name, t.ticket_type.name, t.ticket_type.tier_label, f"{t.price_pence / 100:.2f}",
            t.state_label, london(t.checked_in_at, "%Y-%m-%d %H:%M") if t.checked_in_at else "",
            o.reference, o.email, o.organisation, o.status_short_label,
            london(o.paid_at, "%Y-%m-%d %H:%M") if o.paid_at else "",
            o.declaration_label if o.community_declaration else "", o.access_needs,
            london(o.created_at, "%Y-%m-%d %H:%M"),
        )])
    return "\ufeff" + out.getvalue()


async def _codes(db, event_id: int) -> list[str]:
    async with db.read() as session:
        return list(await session.scalars(select(Ticket.code).where(Ticket.event_id == event_id)))


async def test_streamed_csv_is_the_previous_export_over_many_pages(client, db, crowd, monkeypatch):
    monkeypatch.setattr(attendees, "EXPORT_PAGE", 3)  # 29 tickets: 10 pages, most ending inside an order
    await sign_in(client, db)
    event = crowd["event"]
    url = f"/organiser/events/{event.id}/attendees.csv"
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{event.slug}-attendees.csv"'
    assert response.headers["cache-control"] == "private, no-store"
    body = response.content.decode("utf-8")
    assert body == await previous_export(db, event.id)
    # (a code that starts with "-" is written "'-...", so that a spreadsheet does not read a formula)
    codes = [row[0].removeprefix("'") for row in csv.reader(io.StringIO(body.removeprefix("\ufeff")))][1:]
    assert len(codes) == 29 and sorted(codes) == sorted(await _codes(db, event.id))  # each ticket once
    names = [row[1] for row in csv.reader(io.StringIO(body))][1:]
    assert names[0] == "Early Bird" and names.index("Tied Twin") == names.index("Guest 2-2") + 1
    assert "'" + EVIL in names

    filters = [{"q": "GUEST1"}, {"status": "cancelled"}, {"paid": "unpaid", "status": "valid"},
               {"type": str(crowd["adult"].id), "q": "@"}, {"paid": "paid"}, {"q": "nobody like this"}]
    for params in filters:
        filtered = await client.get(url, params=params)
        expected = await previous_export(db, event.id, q=params.get("q", ""), status=params.get("status", ""),
                                         paid=params.get("paid", ""), type_id=int(params.get("type", 0)))
        assert filtered.content.decode("utf-8") == expected, params
    # A page of exactly the page size, then an empty one: nothing repeated, nothing lost.
    monkeypatch.setattr(attendees, "EXPORT_PAGE", 29)
    assert (await client.get(url)).content.decode("utf-8") == await previous_export(db, event.id)


async def test_each_ticket_once_while_people_book_cancel_and_pay_between_pages(db, crowd):
    event, orders = crowd["event"], crowd["orders"]
    seen: list[str] = []
    pages = 0
    async for rows in attendees.export_pages(db, event_id=event.id, filters=attendees.AttendeeFilter(),
                                             page_size=4):
        seen += [row.code for row in rows]
        pages += 1
        if pages == 2:
            async with db.write() as session:
                # A booking now (after every other), a cancellation and a payment on pages still to come.
                late = await _book(session, event, [(crowd["adult"].id, "Late Arrival")],
                                   now=T0 + dt.timedelta(days=2), email="late@example.org")
                await services.cancel_tickets(session=session, tickets=[orders[10].tickets[0]])
                fresh = await session.get(Order, orders[8].id)
                await services.mark_paid(session=session, order=fresh, note="Card")
    assert sorted(seen) == sorted(await _codes(db, event.id))
    assert len(seen) == len(set(seen)) == 30
    assert seen[-1] == late.tickets[0].code


def _page_codes(html: str) -> list[str]:
    return re.findall(r"<code>([^<]+)</code>", html)


async def test_the_list_pages_through_every_match_keeping_its_filters(client, db, crowd, monkeypatch):
    monkeypatch.setattr(attendees, "LIST_PAGE", 4)
    await sign_in(client, db)
    event = crowd["event"]
    base = f"/organiser/events/{event.id}/attendees"
    for params, total in (({}, 29), ({"status": "valid", "q": "guest"}, 23)):
        expected = [row[0].removeprefix("'") for row in csv.reader(io.StringIO(await previous_export(
            db, event.id, q=params.get("q", ""), status=params.get("status", ""))))][1:]
        assert len(expected) == total
        page = await client.get(base, params=params)
        assert f"<p>{total} tickets. 4 to a page" in page.text and "First page" not in page.text
        codes = _page_codes(page.text)
        while (link := re.search(r'<a href="([^"]+)" rel="next">', page.text)) is not None:
            href = link.group(1).replace("&amp;", "&")
            assert all(f"{k}={v}" in href for k, v in params.items())  # the filters go on to the next page
            page = await client.get(href)
            assert page.status_code == 200 and "First page" in page.text
            codes += _page_codes(page.text)
        assert codes == expected  # the list's order, every match once
    # Few enough for one page: no pager.
    page = await client.get(base, params={"q": "twin"})
    assert "<p>2 tickets.</p>" in page.text and 'rel="next"' not in page.text
    assert (await client.get(base, params={"after": "first"})).status_code == 400


async def test_search_with_a_page_limit_stops_at_the_limit(db, crowd):
    async with db.read() as session:
        first = await services.search_attendees(session=session, event_id=crowd["event"].id, limit=5)
        count = await attendees.count(session=session, event_id=crowd["event"].id,
                                      filters=attendees.AttendeeFilter(q="guest"))
    assert [t.attendee_name for t in first] == ["Early Bird", "Guest 0-0", "Guest 1-0", "Guest 1-1", "Guest 2-0"]
    assert count == 26
