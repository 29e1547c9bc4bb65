"""Tickets: unguessable codes, the ticket page (QR, event, venue, map, calendar, cancel), the signed QR
payload, and the event public key that only door staff and organisers may fetch."""

from __future__ import annotations

import base64
import html
import itertools
import math
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from kernel.accounts import Role
from kernel.qr import qr_svg
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import book, make_order, make_ticket_type
from ticketing.models import EventKey, Order, Ticket, TicketType
from ticketing.outputs import qr_payload
from ticketing.signing import ForgedTicket, verify_ticket


async def _tickets(db) -> list[Ticket]:
    async with db.read() as session:
        return list(await session.scalars(select(Ticket).order_by(Ticket.id)))


async def test_ticket_and_order_codes_are_long_random_and_unique(db):
    async with db.write() as session:
        event = await make_event(session, capacity=None)
        ticket_type = await make_ticket_type(session, event, capacity=None, max_per_order=20)
        orders = [await make_order(session, event, [(ticket_type.id, f"Person {i}-{j}") for j in range(20)])
                  for i in range(10)]
    tickets = await _tickets(db)
    codes = [t.code for t in tickets]
    assert len(codes) == 200 and len(set(codes)) == 200
    order_codes = [o.code for o in orders]
    assert len(set(order_codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{16,40}", code), code
        assert len(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))) >= 12  # at least 96 random bits
    for code in order_codes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{21,40}", code)
    # not a counter or a timestamp: codes made one after the other share no prefix to speak of
    longest_shared_prefix = max(len(_common_prefix(a, b)) for a, b in itertools.pairwise(codes))
    assert longest_shared_prefix <= 4
    # characters spread over the whole base64url alphabet (a sequential or hex code would not)
    counts = Counter("".join(codes))
    assert len(counts) >= 60
    entropy = -sum(n / sum(counts.values()) * math.log2(n / sum(counts.values())) for n in counts.values())
    assert entropy > 5.8  # bits per character; 6 is the most base64url can carry
    # the short reference read out at the door avoids characters people confuse
    for order in orders:
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", order.reference)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


async def test_ticket_page_shows_qr_event_venue_map_calendar_and_cancel(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Soho House Lates", venue_name="Soho House – Visitor Centre",
                                 venue_address="Soho Avenue, Handsworth, B18 5LB")
        ticket_type = await make_ticket_type(session, event, name="Evening entry")
    response = await book(client, event, [(ticket_type.id, "Amina Khatun")])
    assert response.status_code == 303
    booking = response.headers["location"]
    [ticket] = await _tickets(db)
    page = await client.get(f"{booking}/tickets/{ticket.code}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "private, no-store"
    text = html.unescape(page.text)
    assert "Soho House Lates" in text and "Amina Khatun" in text and "Evening entry" in text
    assert "Soho House – Visitor Centre" in text and "Soho Avenue, Handsworth, B18 5LB" in text
    # the QR is an inline SVG inside the page, not a link to an image
    qr_block = re.search(r'<div class="qr-code"[^>]*>(.*?)</div>', page.text, re.DOTALL)
    assert qr_block and qr_block.group(1).lstrip().startswith("<svg") and "<path" in qr_block.group(1)
    # the QR drawn is exactly the signed payload for this ticket (Ed25519 signatures are deterministic)
    async with db.read() as session:
        key = await session.get(EventKey, event.id)
        ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket.id))
    payload = qr_payload(key, ticket)
    assert qr_svg(payload) in page.text
    # a map link that searches for the venue
    map_href = re.search(r'<a href="(https://www\.openstreetmap\.org/[^"]+)"[^>]*>Open a map</a>', page.text)
    assert map_href
    query = parse_qs(urlsplit(html.unescape(map_href.group(1))).query)["query"][0]
    assert query == "Soho House – Visitor Centre, Soho Avenue, Handsworth, B18 5LB"
    # add to calendar: a link to the event's .ics, which really is a calendar for this event
    cal_href = re.search(r'<a [^>]*href="([^"]+\.ics)"[^>]*>Add to calendar</a>', page.text).group(1)
    calendar = await client.get(cal_href)
    assert calendar.status_code == 200 and calendar.headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:Soho House Lates" in calendar.text
    # cancelling asks for confirmation first: a <details> disclosure holding the POST form
    confirm = re.search(r'<details class="confirm">(.*?)</details>', page.text, re.DOTALL)
    assert confirm and "Cancel this ticket" in confirm.group(1)
    assert f'<form method="post" action="{booking}/tickets/{ticket.code}/cancel">' in confirm.group(1)
    assert 'name="csrf_token"' in confirm.group(1) and "cannot be undone" in confirm.group(1)


async def test_qr_payload_verifies_with_the_key_door_staff_fetch(app, client, db):
    async with db.write() as session:
        event = await make_event(session)
        other_event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
        await make_ticket_type(session, other_event)
        order = await make_order(session, event, [(ticket_type.id, "Rahim Uddin"), (ticket_type.id, "রহিম উদ্দিন")])
    async with new_client(app) as door:
        await sign_in(door, db, Role.DOOR_STAFF)
        key_response = await door.get(f"/events/{event.slug}/ticket-key")
        other_key_response = await door.get(f"/events/{other_event.slug}/ticket-key")
    assert key_response.status_code == 200
    body = key_response.json()
    assert (body["event_id"], body["event_slug"], body["algorithm"]) == (event.id, event.slug, "Ed25519")
    public_raw = base64.urlsafe_b64decode(body["public_key"] + "=" * (-len(body["public_key"]) % 4))
    assert len(public_raw) == 32
    async with db.read() as session:
        key = await session.get(EventKey, event.id)
    expected_initials = {"Rahim Uddin": "RU", "রহিম উদ্দিন": "রউ"}
    for ticket in order.tickets:
        claims = verify_ticket(public_raw, qr_payload(key, ticket))
        assert claims.ticket_code == ticket.code
        assert claims.event_id == event.id
        assert claims.ticket_type_id == ticket_type.id
        assert claims.initials == expected_initials[ticket.attendee_name]
    # another event's key does not accept this event's tickets
    other_raw = base64.urlsafe_b64decode(other_key_response.json()["public_key"] + "==")
    with pytest.raises(ForgedTicket):
        verify_ticket(other_raw, qr_payload(key, order.tickets[0]))


@pytest.mark.parametrize("role", [None, Role.JUDGE, Role.DOOR_STAFF, Role.ADMIN])
async def test_ticket_key_is_for_door_staff_and_organisers_only(app, db, role):
    async with db.write() as session:
        event = await make_event(session)
    async with new_client(app) as browser:
        if role is not None:
            await sign_in(browser, db, role)
        response = await browser.get(f"/events/{event.slug}/ticket-key")
    if role is None:
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next=/events/{event.slug}/ticket-key"
        assert "public_key" not in response.text
    elif role == Role.JUDGE:
        assert response.status_code == 403
        assert "public_key" not in response.text
    else:
        assert response.status_code == 200 and "public_key" in response.json()


async def test_cancelled_ticket_page_says_so_and_has_no_qr(client, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event, capacity=1)
    response = await book(client, event, [(ticket_type.id, "Amina Khatun")])
    booking = response.headers["location"]
    token = booking.rsplit("/", 1)[1]
    [ticket] = await _tickets(db)
    page = await client.get(f"{booking}/tickets/{ticket.code}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    cancel = await client.post(f"{booking}/tickets/{ticket.code}/cancel", data={"csrf_token": csrf})
    assert cancel.status_code == 303 and cancel.headers["location"] == f"{booking}/tickets/{ticket.code}"
    page = await client.get(f"{booking}/tickets/{ticket.code}")
    assert page.status_code == 200
    text = page_text(page)
    assert "This ticket is cancelled." in text and "Your ticket is cancelled" in text
    assert "<svg" not in page.text and "qr-code" not in page.text
    assert f"/tickets/{ticket.code}/cancel" not in page.text
    assert f"/documents/ticket/{token}.{ticket.code}" not in page.text
    assert (await client.get(f"/documents/ticket/{token}.{ticket.code}")).status_code == 410
    order_page = page_text(await client.get(response.headers["location"]))
    assert "Cancelled" in order_page
    async with db.read() as session:
        assert (await session.scalar(select(Order))).status == "cancelled"
    # cancelling again is harmless
    again = await client.post(f"{booking}/tickets/{ticket.code}/cancel", data={"csrf_token": csrf})
    assert again.status_code == 303
    assert "already cancelled" in page_text(await client.get(again.headers["location"]))
    async with db.read() as session:
        assert (await session.get(TicketType, ticket_type.id)).sold == 0


async def test_unknown_or_absurd_ticket_codes_are_not_found(client, db):
    assert (await client.get("/tickets/not-a-real-code")).status_code == 404
    assert (await client.get("/tickets/" + "x" * 500)).status_code == 404
    assert (await client.get("/orders/not-a-real-code")).status_code == 404


async def test_ticket_pdfs_come_from_the_one_documents_route_and_old_links_still_work(client, db):
    async with db.write() as session:
        event = await make_event(session, slug="cinema-night")
        ticket_type = await make_ticket_type(session, event, capacity=5)
    response = await book(client, event, [(ticket_type.id, "Amina Khatun"), (ticket_type.id, "Rahim Uddin")])
    tickets = await _tickets(db)
    order_page = await client.get(response.headers["location"])
    order_code = order_page.url.path.rsplit("/", 1)[1]
    assert f'href="/documents/order-tickets/{order_code}"' in order_page.text
    ticket_page = await client.get(f"/orders/{order_code}/tickets/{tickets[0].code}")
    assert f'href="/documents/ticket/{order_code}.{tickets[0].code}"' in ticket_page.text

    one = await client.get(f"/documents/ticket/{order_code}.{tickets[0].code}")
    both = await client.get(f"/documents/order-tickets/{order_code}")
    for pdf in (one, both):
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["cache-control"] == "private, no-store"
        assert pdf.headers["content-disposition"].startswith('attachment; filename="ticket')
    # links in emails sent before documents had one route (a ticket's code alone no longer prints it)
    old = await client.get(f"/tickets/{tickets[0].code}/ticket.pdf")
    assert old.status_code == 308 and old.headers["location"] == f"/documents/ticket/{tickets[0].code}"
    refused = await client.get(old.headers["location"])
    assert refused.status_code == 403 and "link from the booking email" in page_text(refused)
    old = await client.get(f"/orders/{order_code}/tickets.pdf")
    assert old.status_code == 308 and old.headers["location"] == f"/documents/order-tickets/{order_code}"

    assert (await client.get("/documents/ticket/not-a-real.code")).status_code == 404
    assert (await client.get(f"/documents/ticket/{order_code}.not-its-ticket")).status_code == 404
    assert (await client.get("/documents/no-such-kind/whatever")).status_code == 404
    assert (await client.get("/documents/ticket/" + "x" * 200)).status_code == 404
