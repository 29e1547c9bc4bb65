"""Booking a ticket, as the ticketing issue's "Done when" says: a new visitor on a phone books a
community-rate supper at Bangla Month, gets the email with a PDF ticket and a calendar file, opens the
ticket and its QR, and the QR in the PDF verifies with the event's public key; the same booking without
JavaScript; cancelling a ticket; and screenshots of every ticketing page for people to look at."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from icalendar import Calendar
from playwright.async_api import expect

from denhub import demo
from tests.conftest import skip_or_fail
from tests.e2e.conftest import ARTIFACTS, Mailbox, assert_fits_width, screenshot
from tests.e2e.test_organiser import sign_in
from ticketing.signing import initials, verify_ticket

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PROGRAMME = demo.programme(dt.datetime.now(dt.UTC))
BANGLA_SPEC = next(s for s in PROGRAMME if s["slug"].startswith("bangla-month-"))
BANGLA, BANGLA_SLUG = BANGLA_SPEC["title"], BANGLA_SPEC["slug"]
CINEMA_SLUG = next(s["slug"] for s in PROGRAMME if s["slug"].startswith("outdoor-cinema"))
SUPPER = "Community supper"
NAME = "সুমাইয়া বেগম"
MIN_TAP = 44  # px, WCAG 2.5.5 / the house style


def new_email() -> str:
    return f"sumaiya.{uuid.uuid4().hex[:8]}@example.org"


# --- steps ---------------------------------------------------------------------------------------------

async def open_bangla_month(page) -> None:
    """From the listing, as a new visitor would."""
    await page.goto("/")
    await page.get_by_role("link", name=BANGLA, exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/events/{BANGLA_SLUG}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(BANGLA)


def tickets_panel(page):
    return page.get_by_role("region", name="Tickets")


async def choose(page, ticket_type: str, how_many: int) -> None:
    panel = tickets_panel(page)
    await expect(panel.get_by_role("heading", name="Tickets")).to_be_visible()
    await panel.get_by_label(f"How many {ticket_type} tickets", exact=True).select_option(str(how_many))
    await panel.get_by_role("button", name="Continue to booking").click()
    await expect(page).to_have_url(re.compile(rf"/events/{BANGLA_SLUG}/register\?"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your booking")


async def fill_details(page, *, name: str, email: str, declaration: str = "Local resident") -> None:
    await page.get_by_label(re.compile(rf"^Ticket 1: {SUPPER} \(Community rate\)")).fill(name)
    await page.get_by_label("Email", exact=True).fill(email)
    declarations = page.get_by_role("group", name="Community rate: which applies to you?")
    await declarations.get_by_role("radio", name=declaration, exact=True).check()
    consent = re.compile(r"^I agree that the organisers keep these details")
    await page.get_by_role("checkbox", name=consent).check()


async def reserve(page) -> str:
    """Sends the details form; returns the booking page's order code."""
    await page.get_by_role("button", name="Reserve tickets").click()
    await expect(page).to_have_url(re.compile(r"/orders/[A-Za-z0-9_-]+$"))
    await expect(page.get_by_role("status").filter(has_text="You are booked")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your booking")
    return page.url.rsplit("/", 1)[1]


async def book_supper(page, *, name: str = NAME, email: str | None = None) -> tuple[str, str]:
    """One community-rate supper ticket from the listing to the booking page: (order code, email)."""
    email = email or new_email()
    await open_bangla_month(page)
    await choose(page, SUPPER, 1)
    await fill_details(page, name=name, email=email)
    return await reserve(page), email


async def ticket_email(mailbox: Mailbox, to: str) -> EmailMessage:
    # The outbox sender is woken when the order commits; 20 s leaves room for rendering the PDF.
    return await mailbox.wait_for(lambda m: m["To"] == to, timeout=20)


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """{filename: (content type, bytes)}"""
    return {part.get_filename(): (part.get_content_type(), part.get_content())
            for part in message.iter_attachments()}


def ticket_links(message: EmailMessage) -> list[str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.findall(r"https?://\S+/tickets/[A-Za-z0-9_-]+", text)


def qr_from_pdf(pdf: bytes, tmp_path: Path) -> tuple[str, Path]:
    """The text of the QR code on the PDF's first page, as a phone camera would read it from paper, and
    that page as a PNG."""
    import PIL.Image
    import zxingcpp

    if shutil.which("pdftoppm") is None:
        skip_or_fail("reading the PDF ticket needs pdftoppm (apt-get install poppler-utils)")
    (tmp_path / "ticket.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "ticket.pdf", "page"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    (png,) = tmp_path.glob("page*.png")
    codes = [
        r for r in zxingcpp.read_barcodes(PIL.Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert len(codes) == 1, f"expected one QR code on the PDF's first page, found {len(codes)}"
    return codes[0].text, png


async def event_public_key(new_context, demo_login) -> dict:
    """GET /events/<slug>/ticket-key as the demo organiser (door staff and organisers only)."""
    organiser = await (await new_context()).new_page()
    await sign_in(organiser, demo_login)
    response = await organiser.request.get(f"/events/{BANGLA_SLUG}/ticket-key")
    assert response.status == 200, await response.text()
    return await response.json()


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def assert_tap_targets(locator, what: str) -> None:
    for item in await locator.all():
        if not await item.is_visible():  # e.g. a confirm button inside a closed <details>
            continue
        box = await item.bounding_box()
        label = await item.inner_text()
        assert box and box["height"] >= MIN_TAP, f"{what} {label!r} is too small to tap: {box}"


# --- the "Done when" ---------------------------------------------------------------------------

@pytest.mark.parametrize("device", ["phone"])
async def test_phone_booking_email_ticket_and_signed_qr(
    page, new_context, demo_login, mailbox, device, tmp_path
):
    order_code, email = await book_supper(page)
    booked = page.locator(".ticket-list .ticket-row")
    await expect(booked).to_have_count(1)
    await expect(booked).to_contain_text(NAME)
    await expect(booked).to_contain_text(f"{SUPPER} · Community rate · £3.00")
    await expect(page.locator("dl.facts")).to_contain_text("Local resident")
    reference = (await page.locator(".reference").inner_text()).strip()
    await assert_fits_width(page)

    # The email: a PDF ticket and a calendar file
    message = await ticket_email(mailbox, email)
    assert message["Subject"] == f"Your tickets: {BANGLA}"
    files = attachments(message)
    assert set(files) == {f"tickets-{reference}.pdf", f"{BANGLA_SLUG}.ics"}, files.keys()
    pdf_type, pdf = files[f"tickets-{reference}.pdf"]
    ics_type, ics = files[f"{BANGLA_SLUG}.ics"]
    assert pdf_type == "application/pdf" and pdf.startswith(b"%PDF")
    assert ics_type == "text/calendar"
    ics = ics.encode() if isinstance(ics, str) else ics
    (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == BANGLA
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert NAME in text and reference in text and f"/orders/{order_code}" in text
    (link,) = ticket_links(message)
    # What the email looks like on the phone (for people to look at)
    email_view = await (await new_context()).new_page()
    await email_view.set_content(message.get_body(preferencelist=("html",)).get_content())
    await expect(email_view.get_by_role("link", name="Open this ticket")).to_have_attribute("href", link)
    await assert_fits_width(email_view)
    await screenshot(email_view, "ticketing-email", device)

    # The ticket page from the email: the QR is big enough to scan off a phone screen
    await page.goto(link)
    await expect(page.get_by_role("heading", level=1)).to_have_text(BANGLA)
    await expect(page.locator(".ticket-holder")).to_have_text(NAME)
    qr = page.locator(".qr-code svg")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box and box["width"] >= 200 and box["height"] >= 200, f"QR is {box} on a phone"
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"QR is not fully on screen: {box}"
    await expect(page.get_by_role("img", name=re.compile(r"^QR code for ticket "))).to_be_visible()
    ticket_code = (await page.locator("figure.qr code").inner_text()).strip()
    assert link.endswith(f"/tickets/{ticket_code}")
    await assert_fits_width(page)

    # The QR printed in the PDF verifies with the event's public key, offline, as the door scanner does
    payload, pdf_page = qr_from_pdf(pdf, tmp_path)
    shutil.copy(pdf_page, ARTIFACTS / "ticketing-pdf-page-1.png")
    key = await event_public_key(new_context, demo_login)
    assert key["event_slug"] == BANGLA_SLUG and key["algorithm"] == "Ed25519"
    claims = verify_ticket(b64url(key["public_key"]), payload)
    assert claims.ticket_code == ticket_code
    assert claims.event_id == key["event_id"]
    assert claims.initials == initials(NAME) == "সুবে"


@pytest.mark.parametrize("device", ["desktop"])
async def test_booking_works_without_javascript(new_context, mailbox, device):
    page = await (await new_context(java_script_enabled=False)).new_page()
    order_code, email = await book_supper(page, name="Rahim Uddin")
    await expect(page.locator(".ticket-list")).to_contain_text("Rahim Uddin")
    message = await ticket_email(mailbox, email)
    assert f"/orders/{order_code}" in message.get_body(preferencelist=("plain",)).get_content()
    await page.goto(ticket_links(message)[0])
    await expect(page.locator(".qr-code svg")).to_be_visible()


@pytest.mark.parametrize("device", ["phone"])
async def test_cancelling_a_ticket_from_its_page(page, device):
    await book_supper(page, name="Anwar Hossain")
    await page.get_by_role("link", name="Show ticket and QR code for Anwar Hossain").click()
    await expect(page).to_have_url(re.compile(r"/tickets/[A-Za-z0-9_-]+$"))
    await expect(page.locator(".qr-code svg")).to_be_visible()
    confirm = page.get_by_role("button", name="Yes, cancel this ticket")
    await expect(confirm).to_be_hidden()
    await page.get_by_text("Cancel this ticket…").click()
    await expect(confirm).to_be_visible()
    await confirm.click()
    await expect(page).to_have_url(re.compile(r"/tickets/[A-Za-z0-9_-]+$"))
    await expect(page.get_by_role("status").filter(has_text="Your ticket is cancelled")).to_be_visible()
    await expect(page.get_by_text("This ticket is cancelled")).to_be_visible()
    await expect(page.locator(".qr-code")).to_have_count(0)
    await expect(page.get_by_role("link", name="Download PDF")).to_have_count(0)
    await expect(page.get_by_text("Cancel this ticket…")).to_have_count(0)


@pytest.mark.parametrize("device", ["phone"])
async def test_from_the_email_link_to_cancelling_the_whole_booking(page, new_context, mailbox, device):
    """The booking email's link, opened on another device, cancels the whole booking; the code printed on a
    ticket shows only that it is a ticket."""
    email = new_email()
    await open_bangla_month(page)
    await choose(page, SUPPER, 2)
    await fill_details(page, name="Anwar Hossain", email=email)
    await page.get_by_label(re.compile(rf"^Ticket 2: {SUPPER} \(Community rate\)")).fill("Farida Hossain")
    await reserve(page)

    message = await ticket_email(mailbox, email)
    inbox = await (await new_context()).new_page()
    await inbox.set_content(message.get_body(preferencelist=("html",)).get_content())
    manage = await inbox.get_by_role("link", name="Manage your booking").get_attribute("href")
    assert re.fullmatch(r"https?://[^/]+/orders/[A-Za-z0-9_-]{32}", manage), manage
    first_ticket = re.search(r"/tickets/([A-Za-z0-9_-]+)", ticket_links(message)[0]).group(1)

    # Someone with only the code on a ticket (a photo of it, say) learns nothing and can cancel nothing
    stranger = await (await new_context()).new_page()
    await stranger.goto(f"/tickets/{first_ticket}")
    await expect(stranger.get_by_text(f"This is a valid ticket for {BANGLA}.")).to_be_visible()
    await expect(stranger.locator("body")).not_to_contain_text("Anwar Hossain")
    await expect(stranger.locator("body")).not_to_contain_text(email)
    await expect(stranger.get_by_role("button", name=re.compile("cancel", re.IGNORECASE))).to_have_count(0)

    # The attendee opens the email's link on another device and cancels everything
    phone = await (await new_context()).new_page()
    await phone.goto(manage)
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Your booking")
    await expect(phone.locator(".ticket-list .ticket-row")).to_have_count(2)
    confirm = phone.get_by_role("button", name="Yes, cancel the whole booking")
    await expect(confirm).to_be_hidden()
    await phone.get_by_text("Cancel the whole booking…").click()
    await expect(confirm).to_be_visible()
    await assert_fits_width(phone)
    await confirm.click()
    await expect(phone).to_have_url(manage)
    await expect(phone.get_by_role("status").filter(has_text="Your booking is cancelled (2 tickets)")).to_be_visible()
    await expect(phone.locator(".ticket-row .tag-cancelled")).to_have_count(2)
    await expect(phone.get_by_role("link", name="Download tickets (PDF)")).to_have_count(0)
    await expect(phone.get_by_text("Cancel the whole booking…")).to_have_count(0)
    await screenshot(phone, "ticketing-booking-cancelled", device)

    # One email says so, naming both tickets
    cancelled = await mailbox.wait_for(lambda m: m["To"] == email and m["Subject"].startswith("Cancelled"))
    assert cancelled["Subject"] == f"Cancelled as you asked: {BANGLA}"
    text = cancelled.get_body(preferencelist=("plain",)).get_content()
    assert "Anwar Hossain" in text and "Farida Hossain" in text and "cancelled your booking" in text
    await stranger.reload()
    await expect(stranger.get_by_text("This ticket is cancelled.")).to_be_visible()


# --- what it looks like --------------------------------------------------------------------------------

async def test_ticketing_pages_look_right(new_context, demo_login, device):
    """Screenshots of every ticketing page (tests/artifacts/ticketing-*), checked for sideways scrolling and
    small tap targets; people look at the pictures."""
    page = await (await new_context()).new_page()
    await open_bangla_month(page)
    panel = tickets_panel(page)
    await panel.scroll_into_view_if_needed()
    await assert_fits_width(page)
    await assert_tap_targets(panel.locator("select, button"), "panel control")
    await screenshot(page, "ticketing-event", device)
    await panel.screenshot(path=str(ARTIFACTS / f"ticketing-panel-{device}.png"))
    # A tag or price line that repeats the name says nothing: "Pay what you can" once, "Free" once.
    for ticket_type in await panel.locator(".ticket-type").all():
        info = (await ticket_type.locator(".ticket-type-info").inner_text()).lower()
        assert info.count("free") <= 1, info

    await page.goto(f"/events/{CINEMA_SLUG}")
    pwyc = tickets_panel(page).locator(".ticket-type").filter(has_text="Pay what you can")
    info = (await pwyc.locator(".ticket-type-info").inner_text()).lower()
    assert info.count("pay what you can") == 1 and "at least £2.00" in info, info
    await tickets_panel(page).screenshot(path=str(ARTIFACTS / f"ticketing-panel-pwyc-{device}.png"))
    await open_bangla_month(page)

    # The details form, empty and sent: every problem listed at the top, and each field marked
    await choose(page, SUPPER, 1)
    await assert_fits_width(page)
    await assert_tap_targets(page.locator(".booking-form .checkbox"), "choice")
    await screenshot(page, "ticketing-details", device)
    await page.get_by_role("button", name="Reserve tickets").click()
    heading = page.get_by_role("heading", name=re.compile("^Please correct"))
    summary = page.get_by_role("alert").filter(has=heading)
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("link")).to_contain_text(["Enter your email address", "Please agree"])
    await expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")
    await assert_fits_width(page)
    await screenshot(page, "ticketing-details-errors", device)

    email = new_email()
    await fill_details(page, name=NAME, email=email)
    await reserve(page)
    await assert_fits_width(page)
    await screenshot(page, "ticketing-order", device)

    await page.get_by_role("link", name=f"Show ticket and QR code for {NAME}").click()
    await expect(page.locator(".qr-code svg")).to_be_visible()
    await assert_fits_width(page)
    await screenshot(page, "ticketing-ticket", device)

    # The organiser's pages, with this booking on them
    organiser = await (await new_context()).new_page()
    await sign_in(organiser, demo_login)
    key = await organiser.request.get(f"/events/{BANGLA_SLUG}/ticket-key")
    event_id = (await key.json())["event_id"]
    await organiser.goto(f"/organiser/events/{event_id}/tickets")
    await expect(organiser.get_by_role("heading", level=1)).to_have_text("Ticket types")
    await expect(organiser.get_by_role("row").filter(has_text=SUPPER)).to_be_visible()
    here = organiser.get_by_role("link", name="Ticket types", exact=True)
    await expect(here).to_have_attribute("aria-current", "page")
    await assert_fits_width(organiser)
    await screenshot(organiser, "ticketing-manage-types", device)

    await organiser.goto(f"/organiser/events/{event_id}/attendees")
    await expect(organiser.get_by_role("heading", level=1)).to_have_text("Attendees")
    row = organiser.get_by_role("row").filter(has_text=email)
    await expect(row).to_contain_text(NAME)
    await expect(row.get_by_role("button", name=re.compile(r"^Resend"))).to_be_visible()
    await assert_fits_width(organiser)
    if device == "phone":
        # Every action is on screen (not in a sideways-scrolling table) and big enough for a thumb.
        for action in await organiser.locator(".row-actions button, .row-actions summary").all():
            if await action.is_visible():
                box = await action.bounding_box()
                assert box["x"] + box["width"] <= 390, f"{await action.inner_text()!r} is off-screen: {box}"
        await assert_tap_targets(organiser.locator(".row-actions .button, .row-actions summary"), "action")
        filters = organiser.locator(".filter-form input, .filter-form select, .filter-form .button")
        await assert_tap_targets(filters, "filter control")
    await screenshot(organiser, "ticketing-attendees", device)

    # Cancelled by its holder
    await page.get_by_text("Cancel this ticket…").click()
    await page.get_by_role("button", name="Yes, cancel this ticket").click()
    await expect(page.get_by_text("This ticket is cancelled")).to_be_visible()
    await assert_fits_width(page)
    await screenshot(page, "ticketing-ticket-cancelled", device)

@pytest.mark.parametrize("device", ["phone"])
async def test_an_empty_booking_form_lists_every_problem_at_once(page, device):
    await open_bangla_month(page)
    await choose(page, SUPPER, 1)
    await page.get_by_role("button", name="Reserve tickets").click()
    summary = page.locator(".error-summary")
    await expect(summary.get_by_role("link")).to_have_count(4, timeout=3_000)
