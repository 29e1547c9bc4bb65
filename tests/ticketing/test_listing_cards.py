"""What the listing's cards say (#16 point 15): the price from the ticket types, "Sold out" and "Few left", and the
whole date range of an event that runs for days; and a booking of a sold-out type says so before any form."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update

from events.models import Event
from kernel.db import utcnow
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event
from tests.ticketing.factories import make_ticket_type, start_booking
from ticketing.models import TicketType


def _card(page: str, title: str) -> str:
    for card in re.findall(r"<article class=\"event-card[^\"]*\">.*?</article>", page, re.DOTALL):
        if f">{title}</a>" in card:
            return card
    raise AssertionError(f"no card for {title!r}")


def _facts(card: str) -> dict[str, str]:
    return dict(re.findall(r'<span class="fact fact-(\w+)[^"]*">([^<]*)</span>', card))


async def test_cards_show_the_price_and_what_is_left(app, db, client):
    async with db.write() as session:
        free = await make_event(session, title="Free supper")
        await make_ticket_type(session, free, capacity=200)
        paid = await make_event(session, title="Film night")
        await make_ticket_type(session, paid, name="Standard", tier="standard", price_pence=500)
        await make_ticket_type(session, paid, name="Community", tier="community", price_pence=300)
        one_price = await make_event(session, title="Workshop")
        await make_ticket_type(session, one_price, name="Standard", tier="standard", price_pence=1250)
        mixed = await make_event(session, title="Open studio")
        await make_ticket_type(session, mixed, name="Free entry", capacity=None)
        await make_ticket_type(session, mixed, name="Supporter", tier="standard", price_pence=1000)
        sold_out = await make_event(session, title="Tiny gig", capacity=30)
        gone = await make_ticket_type(session, sold_out, capacity=30)
        await session.execute(update(TicketType).where(TicketType.id == gone.id).values(sold=30))
        await session.execute(update(Event).where(Event.id == sold_out.id).values(tickets_sold=30))
        few = await make_event(session, title="Almost full")
        nearly = await make_ticket_type(session, few, capacity=40)
        await session.execute(update(TicketType).where(TicketType.id == nearly.id).values(sold=33))
        await make_event(session, title="Just turn up")  # no ticket types: nothing to say
    page = (await client.get("/")).text
    assert _facts(_card(page, "Free supper")) == {"price": "Free"}
    assert _facts(_card(page, "Film night")) == {"price": "From £3.00"}
    assert _facts(_card(page, "Workshop")) == {"price": "£12.50"}
    assert _facts(_card(page, "Open studio")) == {"price": "Free, or from £10.00"}
    assert _facts(_card(page, "Tiny gig")) == {"price": "Free", "availability": "Sold out"}
    assert 'fact-sold-out">Sold out' in _card(page, "Tiny gig")
    assert _facts(_card(page, "Almost full")) == {"price": "Free", "availability": "Few left"}
    assert _facts(_card(page, "Just turn up")) == {}

    # A signed-in visitor (not served from the cache) sees the same; an event-wide limit counts too.
    async with db.write() as session:
        await session.execute(update(Event).where(Event.id == free.id).values(capacity=100, tickets_sold=95))
    async with new_client(app) as other:
        await sign_in(other, db)
        assert _facts(_card((await other.get("/")).text, "Free supper")) == {"price": "Free",
                                                                             "availability": "Few left"}


async def test_a_festival_card_shows_its_first_and_last_day(db, client):
    start = dt.datetime(2027, 7, 31, 23, 30, tzinfo=dt.UTC)  # 1 Aug in Birmingham
    async with db.write() as session:
        await make_event(session, title="Bangla month", starts_at=start, ends_at=start + dt.timedelta(days=30))
        await make_event(session, title="One evening", starts_at=start + dt.timedelta(hours=18))
    page = (await client.get("/")).text
    festival = re.sub(r"<[^>]+>", "", re.search(r'<p class="event-when">(.*?)</p>',
                                                _card(page, "Bangla month"), re.DOTALL).group(1))
    assert festival == "Sun 1 Aug 2027 to Tue 31 Aug 2027"
    assert 'datetime="2027-08-30T23:30:00+00:00"' in _card(page, "Bangla month")
    evening = re.search(r'<p class="event-when">(.*?)</p>', _card(page, "One evening"), re.DOTALL).group(1)
    assert re.sub(r"<[^>]+>", "", evening) == "Sun 1 Aug 2027, 18:30" and "event-ends" not in evening


async def test_a_sold_out_type_says_so_before_the_booking_form(db, client):
    async with db.write() as session:
        event = await make_event(session, title="Tiny gig")
        gone = await make_ticket_type(session, event, name="Front row", capacity=2)
        await session.execute(update(TicketType).where(TicketType.id == gone.id).values(sold=2))
        few = await make_ticket_type(session, event, name="Standing", capacity=5)
    response = await start_booking(client, event, {gone.id: 1})
    assert response.status_code == 409
    text = page_text(response)
    assert "<h1>Sold out</h1>" in response.text and "Sorry, “Front row” tickets are sold out." in text
    assert f'action="/events/{event.slug}/register"' not in response.text  # no booking form
    assert 'name="name_0"' not in response.text and 'name="form_token"' not in response.text
    assert f'action="/events/{event.slug}/waitlist"' in response.text  # but the waiting list, one step away

    enough = await start_booking(client, event, {few.id: 2})
    assert enough.status_code == 200 and 'name="name_1"' in enough.text


async def test_not_enough_left_for_the_number_asked_says_so_first(db, client):
    async with db.write() as session:
        event = await make_event(session, title="Small room", capacity=3, starts_at=utcnow() + dt.timedelta(days=2))
        standard = await make_ticket_type(session, event, capacity=None)
        await session.execute(update(Event).where(Event.id == event.id).values(tickets_sold=2))
    response = await start_booking(client, event, {standard.id: 2})
    assert response.status_code == 409
    assert "<h1>Not enough tickets left</h1>" in response.text and 'name="name_0"' not in response.text
