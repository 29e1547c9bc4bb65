"""One-line fields stay on one line (#16 point 5): a line break in an event title once made every booking
for the event fail with a 500 as its confirmation email was queued (a header cannot hold one). Forms make
their one-line fields one line when they are parsed (kernel.text.one_line), and the places that write mail
headers, CSV cells and file names make sure again."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from events.models import Event
from kernel.accounts import Role
from kernel.mail import OutboxMessage
from kernel.text import content_disposition, csv_cell, has_control_characters, one_line
from tests.conftest import csrf_for
from tests.core.helpers import event_form, new_client, post_event_form, sign_in
from tests.factories import make_event
from tests.ticketing.factories import book, make_ticket_type
from ticketing.models import Ticket, TicketType


def test_one_line_makes_breaks_and_control_characters_a_space():
    assert one_line("Pitch night\r\nBcc: all@example.org") == "Pitch night Bcc: all@example.org"
    assert one_line("  a\tb\x00c\x7fd\x85e\u2028f\u2029g  ") == "a b c d e f g"
    assert one_line("রহিম উদ্দিন") == "রহিম উদ্দিন"  # letters and marks of any script kept
    assert one_line(None) == "" and one_line("abcdef", 3) == "abc"
    assert has_control_characters("a\nb") and not has_control_characters("a b")


def test_csv_cells_never_start_a_formula():
    for value in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(value) == "'" + value
    assert csv_cell("Rahim") == "Rahim" and csv_cell(-5) == -5 and csv_cell("") == ""


def test_content_disposition_cannot_be_broken_out_of():
    header = content_disposition('ti"ck\r\nSet-Cookie: x=1; ets/../a.pdf')
    assert "\r" not in header and "\n" not in header
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._ -]+"(; filename\*=UTF-8\'\'[A-Za-z0-9%._~-]+)?', header)
    assert content_disposition("tickets-AB12.pdf") == 'attachment; filename="tickets-AB12.pdf"'
    assert content_disposition("রহিম.pdf", "inline").startswith('inline; filename="')
    assert "filename*=UTF-8''%E0%A6%B0" in content_disposition("রহিম.pdf")


async def _title(db, event_id: int) -> str:
    async with db.read() as session:
        return await session.scalar(select(Event.title).where(Event.id == event_id))


async def test_an_event_title_with_a_line_break_is_saved_on_one_line_and_bookings_still_work(app, db, client):
    await sign_in(client, db, Role.ADMIN)
    async with db.write() as session:
        event = await make_event(session, title="Pitch night")
        ticket_type = await make_ticket_type(session, event)
    data = event_form(title="Pitch night\r\nBcc: everyone@example.org", slug=event.slug,
                      venue_name="Soho\nHouse", summary="One\rline")
    saved = await post_event_form(client, f"/organiser/events/{event.id}/edit", data)
    assert saved.status_code == 303, saved.text[:2000]
    assert await _title(db, event.id) == "Pitch night Bcc: everyone@example.org"

    async with new_client(app) as visitor:
        booked = await book(visitor, event, [(ticket_type.id, "Amina\r\nKhan")])
        assert booked.status_code == 303, booked.text[:2000]
    async with db.read() as session:
        [subject] = await session.scalars(select(OutboxMessage.subject))
        [name] = await session.scalars(select(Ticket.attendee_name))
    assert subject == "Your tickets: Pitch night Bcc: everyone@example.org"
    assert name == "Amina Khan"


async def test_a_title_saved_with_a_line_break_before_the_fix_does_not_stop_bookings(app, db):
    async with db.write() as session:
        event = await make_event(session, title="Old\r\ntitle")
        ticket_type = await make_ticket_type(session, event)
    async with new_client(app) as visitor:
        booked = await book(visitor, event, [(ticket_type.id, "Amina Khan")])
    assert booked.status_code == 303, booked.text[:2000]
    async with db.read() as session:
        assert list(await session.scalars(select(OutboxMessage.subject))) == ["Your tickets: Old title"]


async def test_a_booking_email_with_a_control_character_is_refused_with_a_message_not_a_500(app, db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
    async with new_client(app) as visitor:
        refused = await book(visitor, event, [(ticket_type.id, "Amina Khan")], email="amina\x01@example.org")
    assert refused.status_code == 422
    assert "Enter an email address like name@example.com." in refused.text


async def test_ticket_type_names_are_one_line_and_the_csv_export_neutralises_formulas(app, db, client):
    await sign_in(client, db, Role.ADMIN)
    async with db.write() as session:
        event = await make_event(session)
    token = await csrf_for(client, f"/organiser/events/{event.id}/ticket-types/new")
    created = await client.post(f"/organiser/events/{event.id}/ticket-types/new", data={
        "csrf_token": token, "name": "Early\r\nbird", "description": "", "tier": "free", "price": "0",
        "capacity": "10", "max_per_order": "4", "position": "0", "is_active": "on"})
    assert created.status_code == 303, created.text[:2000]
    async with db.read() as session:
        ticket_type = await session.scalar(select(TicketType).where(TicketType.event_id == event.id))
    assert ticket_type.name == "Early bird"
    async with new_client(app) as visitor:
        assert (await book(visitor, event, [(ticket_type.id, "=HYPERLINK(\"http://evil\")")],
                           organisation="@SUM(1)")).status_code == 303
    export = await client.get(f"/organiser/events/{event.id}/attendees.csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\")"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


async def test_judging_entrant_and_judge_names_are_one_line():
    from starlette.datastructures import FormData

    from judging.forms import parse_entrant, valid_email

    entrant, errors, _ = parse_entrant(FormData({
        "name": "Rahim\r\nUddin", "enterprise": "Bangla\nBites", "pitch": "Food\x0bfor all",
        "social_mission": "Jobs\nfor local people", "contact_email": "rahim@example.org"}))
    assert entrant is None and errors["pitch"] == "Keep the pitch to one line."
    entrant, errors, _ = parse_entrant(FormData({
        "name": "Rahim\r\nUddin", "enterprise": "Bangla\nBites", "pitch": "Food for all",
        "social_mission": "Jobs\nfor local people", "contact_email": "rahim@example.org"}))
    assert errors == {} and (entrant.name, entrant.enterprise) == ("Rahim Uddin", "Bangla Bites")
    assert entrant.social_mission == "Jobs\nfor local people"  # a paragraph may keep its lines
    assert not valid_email("rahim\x01@example.org")


async def test_an_account_name_is_one_line(db):
    from kernel.accounts import AccountError, create_user

    async with db.write() as session:
        user = await create_user(session=session, email="door@example.org", name="Door\r\nStaff",
                                 role="door_staff", password="long enough password")
        assert user.name == "Door Staff"
        try:
            await create_user(session=session, email="a\n@example.org", name="x", role="judge",
                              password="long enough password")
        except AccountError:
            pass
        else:
            raise AssertionError("an email with a line break was accepted")
