"""The confirmation email, end to end: one outbox row per order, delivered by the outbox sender to a real
SMTP server (aiosmtpd on loopback) with text and HTML parts, the PDF tickets and the .ics file; the QR
printed on the PDF is read back from the rendered page and verified with the event's public key."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess

import pytest
from sqlalchemy import select

from kernel.accounts import Role
from kernel.mail import SENT, MailSender, OutboxMessage, bodies
from kernel.tokens import hash_token
from tests.conftest import skip_or_fail
from tests.core.helpers import new_client, sign_in
from tests.core.test_mail import smtp_server, smtp_settings  # noqa: F401 - smtp_server is a fixture
from tests.factories import make_event
from tests.ticketing.factories import book, make_ticket_type
from ticketing.domain import DOMAIN as TICKETING
from ticketing.models import Order, Ticket
from ticketing.signing import verify_ticket


@pytest.fixture
async def quiet_app(app):
    """The app without its own background sender, so the sender under test is the only one."""
    await app.state.mail_sender.stop()
    return app


async def _outbox(db) -> list[OutboxMessage]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _render_pages(pdf: bytes, tmp_path, pages: int) -> list:
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        skip_or_fail("pdftoppm (poppler-utils) is needed to render the PDF ticket")
    source = tmp_path / "tickets.pdf"
    source.write_bytes(pdf)
    images = []
    for page in range(1, pages + 1):
        stem = tmp_path / f"page{page}"
        subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", str(page), "-l", str(page), "-singlefile",
                        str(source), str(stem)], check=True, timeout=60)
        images.append(Image.open(f"{stem}.png"))
    return images


async def test_one_outbox_row_per_order_and_none_for_refused_or_repeated_forms(quiet_app, client, db):
    async with db.write() as session:
        event = await make_event(session, title="Bangla Month supper")
        ticket_type = await make_ticket_type(session, event, capacity=3)
    from tests.conftest import csrf_from
    from tests.ticketing.factories import booking_form, form_token_from, start_booking

    details = await start_booking(client, event, {ticket_type.id: 2})
    form = booking_form(csrf_from(details.text), form_token_from(details.text),
                        [(ticket_type.id, "Amina Khatun"), (ticket_type.id, "Rahim Uddin")], email="amina@example.org")
    assert (await client.post(f"/events/{event.slug}/register", data={**form, "email": "bad"})).status_code == 422
    assert await _outbox(db) == []
    assert (await client.post(f"/events/{event.slug}/register", data=form)).status_code == 303
    assert (await client.post(f"/events/{event.slug}/register", data=form)).status_code == 303
    assert (await book(client, event, [(ticket_type.id, "Jo Bloggs")], email="jo@example.org")).status_code == 303
    assert (await book(client, event, [(ticket_type.id, "Too Late")], email="late@example.org")).status_code == 409
    rows = await _outbox(db)
    async with db.read() as session:
        orders = list(await session.scalars(select(Order).order_by(Order.id)))
    assert [r.to_addr for r in rows] == ["amina@example.org", "jo@example.org"]
    assert [r.subject for r in rows] == ["Your tickets: Bangla Month supper"] * 2
    for row, order in zip(rows, orders, strict=True):
        text, html = await bodies(db, row, TICKETING.mail_bodies)
        # the links carry the booking's secret (only its hash is kept on the order), not the order's code
        token = row.body["args"]["access"]
        assert hash_token(token) == order.access_hash
        assert f"/orders/{token}" in text and f"/orders/{token}" in html
        assert order.code not in text and order.code not in html
        assert [a["provider"] for a in row.attachments] == ["ticketing.order_pdf", "ticketing.event_ics"]
        assert row.attachments[0]["args"] == {"order_id": order.id}


async def test_confirmation_is_delivered_with_text_html_pdf_and_calendar(quiet_app, client, db, settings, smtp_server,  # noqa: F811
                                                                         tmp_path):
    server = smtp_server()
    async with db.write() as session:
        event = await make_event(session, title="Outdoor cinema: Bhaji on the Beach",
                                 venue_name="Soho House gardens", venue_address="Soho Avenue, B18 5LB")
        ticket_type = await make_ticket_type(session, event, name="Deckchair", tier="standard", price_pence=650)
    response = await book(client, event, [(ticket_type.id, "Amina Khatun"), (ticket_type.id, "Rahim Uddin")],
                          email="amina@example.org", access_needs="Aisle seat")
    assert response.status_code == 303
    booking = f"http://testserver{response.headers['location']}"
    async with db.read() as session:
        order = await session.scalar(select(Order))
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    [row] = await _outbox(db)

    sender = MailSender(db, smtp_settings(settings, server.port), bodies=TICKETING.mail_bodies,
                        attachments=TICKETING.mail_attachments)
    assert await sender.send_due() == 1
    assert [e.rcpt_tos for e in server.envelopes] == [["amina@example.org"]]
    [message] = server.messages
    assert message["Subject"] == "Your tickets: Outdoor cinema: Bhaji on the Beach"
    assert message["To"] == "amina@example.org"
    assert message.get_content_type() == "multipart/mixed"

    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    text, markup = plain.get_content(), rich.get_content()
    for part in (text, markup):
        assert order.reference in part and "Amina Khatun" in part and "Rahim Uddin" in part
        assert booking in part
        for ticket in tickets:
            assert f"{booking}/tickets/{ticket.code}" in part
        assert "Standard · £6.50" in part
        assert "To pay at the door or by invoice" in part and "£13.00" in part
    assert "Aisle seat" in text
    # One fact a line in the plain text (a translated line once swallowed its line break: "…Q68QWPStatus: …")
    lines = text.splitlines()
    assert f"Booking reference: {order.reference}" in lines
    assert any(line.startswith("Status: ") for line in lines)
    assert "Access or dietary needs you told us: Aisle seat" in lines

    attachments = {a.get_content_type(): a for a in message.iter_attachments()}
    assert set(attachments) == {"application/pdf", "text/calendar"}
    pdf = attachments["application/pdf"].get_content()
    assert attachments["application/pdf"].get_filename() == f"tickets-{order.reference}.pdf"
    assert pdf.startswith(b"%PDF")
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2  # one page per ticket
    page_texts = [page.extract_text() for page in reader.pages]
    assert "Amina Khatun" in page_texts[0] and "Rahim Uddin" in page_texts[1]
    assert all(order.reference in t for t in page_texts)

    calendar = attachments["text/calendar"]
    assert calendar.get_filename() == f"{event.slug}.ics"
    ics = calendar.get_content()
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "BEGIN:VEVENT" in ics and "SUMMARY:Outdoor cinema: Bhaji on the Beach" in ics
    assert "LOCATION:Soho House gardens\\, Soho Avenue\\, B18 5LB" in ics

    # read the QR off the printed page as a door scanner would, and verify it with the published key
    import zxingcpp

    async with new_client(quiet_app) as door:
        await sign_in(door, db, Role.DOOR_STAFF)
        key = (await door.get(f"/events/{event.slug}/ticket-key")).json()["public_key"]
    public_raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    for image, ticket in zip(_render_pages(pdf, tmp_path, 2), tickets, strict=True):
        results = [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
        assert len(results) == 1, results
        claims = verify_ticket(public_raw, results[0].text)
        assert claims.ticket_code == ticket.code
        assert (claims.event_id, claims.ticket_type_id) == (event.id, ticket_type.id)
        assert claims.initials == {"Amina Khatun": "AK", "Rahim Uddin": "RU"}[ticket.attendee_name]

    async with db.read() as session:
        row = await session.get(OutboxMessage, row.id)
    assert row.status == SENT
    assert await sender.send_due() == 0 and len(server.envelopes) == 1


async def test_cancelled_ticket_is_left_out_of_a_resent_email(quiet_app, client, db, settings, smtp_server,  # noqa: F811
                                                              tmp_path):
    server = smtp_server()
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
    assert (await book(client, event, [(ticket_type.id, "Amina Khatun"), (ticket_type.id, "Rahim Uddin")])
            ).status_code == 303
    async with db.read() as session:
        order = await session.scalar(select(Order))
        tickets = list(await session.scalars(select(Ticket).order_by(Ticket.id)))
    async with new_client(quiet_app) as organiser:
        await sign_in(organiser, db)
        attendees = await organiser.get(f"/organiser/events/{event.id}/attendees")
        from tests.conftest import csrf_from

        csrf = csrf_from(attendees.text)
        assert (await organiser.post(f"/organiser/tickets/{tickets[0].id}/cancel",
                                     data={"csrf_token": csrf})).status_code == 303
        assert (await organiser.post(f"/organiser/orders/{order.id}/resend",
                                     data={"csrf_token": csrf})).status_code == 303
    rows = await _outbox(db)
    assert len(rows) == 3 and rows[1].subject.startswith("Your tickets have been cancelled")
    assert rows[2].subject.startswith("Your tickets again")
    text, _html = await bodies(db, rows[2], TICKETING.mail_bodies)
    assert "Rahim Uddin" in text and "Amina Khatun" not in text
    assert await MailSender(db, smtp_settings(settings, server.port), bodies=TICKETING.mail_bodies,
                        attachments=TICKETING.mail_attachments).send_due() == 3
    resent = server.messages[2]
    # The bodies, made when sending, are kept with the row: what was sent.
    sent_row = (await _outbox(db))[2]
    assert sent_row.text_body == text and sent_row.html_body == _html
    assert resent.get_body(("plain",)).get_content().split() == text.split()
    pdf = next(a for a in resent.iter_attachments() if a.get_content_type() == "application/pdf").get_content()
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert "Rahim Uddin" in reader.pages[0].extract_text()
    assert "Amina Khatun" not in reader.pages[0].extract_text()
