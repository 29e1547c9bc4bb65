"""The door, as the check-in issue's "Done when" says: door staff open the scanner on a phone, scan a demo
ticket's QR from the camera ("Admitted"), scan it again ("Already checked in at HH:MM"), lose the network,
admit two more from the keyboard field (decided on the phone from the kept ticket list), get the network
back, the queue syncs by itself, and the organiser's counts show three checked in. Also: the keyboard field
for every verdict (with screenshots of each), and a phone with no camera.

The camera is Chromium's fake capture device playing a .y4m file made here from the ticket's QR code, in a
browser launched for that test only (the flags are per browser process).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from denhub import demo
from events.models import Event
from kernel.qr import qr_png
from kernel.tokens import hash_token
from tests.conftest import csrf_from
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEVICES,
    PageProblems,
    Server,
    _denhub_command,
    assert_fits_width,
    screenshot,
)
from tests.e2e.test_organiser import sign_in as organiser_sign_in
from tests.ticketing.factories import booking_form, form_token_from
from ticketing.models import CheckIn, EventKey, Order, Ticket, TicketType
from ticketing.outputs import qr_payload
from ticketing.signing import generate_keypair, sign_ticket

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PROGRAMME = demo.programme(dt.datetime.now(dt.UTC))
CINEMA_SLUG = next(s["slug"] for s in PROGRAMME if s["slug"].startswith("outdoor-cinema"))
DRAGONS_SLUG = next(s["slug"] for s in PROGRAMME if s["slug"].startswith("dragons-den"))
BANGLA_SLUG = next(s["slug"] for s in PROGRAMME if s["slug"].startswith("bangla-month"))
WORKSHOP_SLUG = next(s["slug"] for s in PROGRAMME if s["slug"].startswith("social-enterprise"))
STAFF_PASSWORD = "door-staff-password-42"
COUNTS_POLL_MS = 10_000  # the organiser's door page asks for the counts this often (static/js/door_counts.js)
HHMM = r"\d\d:\d\d"


@dataclass(frozen=True)
class Booked:
    code: str
    payload: str
    name: str


@dataclass(frozen=True)
class Staff:
    email: str
    name: str


# --- the server's database and accounts ----------------------------------------------------------------

def _db(server: Server) -> Session:
    """A plain (sync) session on the e2e server's SQLite database, to read what a person cannot see."""
    url = server.database_url.replace("sqlite+aiosqlite://", "sqlite://")
    server.use_its_signing_keys()  # for qr_payload below
    return Session(create_engine(url))


def _event(server: Server, slug: str) -> tuple[int, dict[str, int]]:
    with _db(server) as session:
        event_id = session.scalar(select(Event.id).where(Event.slug == slug))
        types = {t.name: t.id for t in session.scalars(select(TicketType).where(TicketType.event_id == event_id))}
    return event_id, types


def _book(server: Server, slug: str, type_id: int, names: list[str]) -> list[Booked]:
    """Book through the public booking form over HTTP, as a visitor would; returns each ticket's QR text."""
    with httpx.Client(base_url=server.url, timeout=20) as client:
        details = client.get(f"/events/{slug}/register", params={f"qty_{type_id}": str(len(names))})
        assert details.status_code == 200, details.text[:2000]
        form = booking_form(csrf_from(details.text), form_token_from(details.text),
                            [(type_id, n) for n in names], email=f"door.{uuid.uuid4().hex[:8]}@example.org")
        booked = client.post(f"/events/{slug}/register", data=form)
        assert booked.status_code == 303, booked.text[:2000]
        booking_secret = booked.headers["location"].rsplit("/", 1)[1]  # /orders/<secret> (ticketing.access)
    with _db(server) as session:
        order = session.scalar(select(Order).where(Order.access_hash == hash_token(booking_secret)))
        key = session.get(EventKey, order.event_id)
        tickets = session.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)).all()
        return [Booked(t.code, qr_payload(key, t), t.attendee_name) for t in tickets]


def _add_door_staff(server: Server) -> Staff:
    """A door staff account, made with `denhub user add` as an organiser would on the server."""
    suffix = uuid.uuid4().hex[:6]
    staff = Staff(email=f"gate.{suffix}@example.org", name=f"Bilal {suffix}")
    env = {"DENHUB_DATABASE_URL": server.database_url, "DENHUB_ENV": "development", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [*_denhub_command(), "user", "add", staff.email, "--role", "door_staff", "--name", staff.name,
         "--password", STAFF_PASSWORD],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return staff


def _checked_in(server: Server, event_id: int) -> int:
    with _db(server) as session:
        return session.scalar(select(func.count(Ticket.id)).where(
            Ticket.event_id == event_id, Ticket.checked_in_at.is_not(None)))


def _checked_in_codes(server: Server, event_id: int) -> set[str]:
    with _db(server) as session:
        return set(session.scalars(select(Ticket.code).where(
            Ticket.event_id == event_id, Ticket.checked_in_at.is_not(None))))


def _scans_of(server: Server, code: str) -> int:
    with _db(server) as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.code == code))
        return session.scalar(select(func.count(CheckIn.id)).where(CheckIn.ticket_id == ticket_id))


def _cancel(server: Server, code: str) -> None:
    with _db(server) as session, session.begin():
        session.execute(update(Ticket).where(Ticket.code == code).values(status="cancelled"))


# --- the fake camera ----------------------------------------------------------------------------------

def write_y4m(path: Path, text: str, *, width: int = 640, height: int = 480, frames: int = 6) -> Path:
    """A YUV4MPEG2 (4:2:0) video of the QR code of `text` on a white frame, for Chromium's fake camera."""
    from PIL import Image

    qr = Image.open(io.BytesIO(qr_png(text, box_size=1, border=4))).convert("L")
    scale = (min(width, height) - 60) // qr.width  # whole pixels per module: crisp edges
    qr = qr.resize((qr.width * scale, qr.height * scale), Image.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))  # no colour
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            f.write(b"FRAME\n" + luma + chroma + chroma)
    return path


async def launch_with_camera(browser, video: Path):
    """Another Chromium whose camera plays `video`; permission prompts are accepted."""
    return await browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"],
    )


async def phone_context(browser, base_url: str, problems: PageProblems, **options):
    context = await browser.new_context(base_url=base_url, locale="en-GB", timezone_id="Europe/London",
                                        **DEVICES["phone"], **options)
    context.set_default_timeout(10_000)
    context.on("page", problems.watch)
    return context


# Counts the camera frames the scanner has read (each read takes the frame's pixels from a canvas).
COUNT_FRAMES_READ = """
window.framesRead = 0;
const getImageData = CanvasRenderingContext2D.prototype.getImageData;
CanvasRenderingContext2D.prototype.getImageData = function (...args) {
  window.framesRead += 1;
  return getImageData.apply(this, args);
};
"""


async def hold_in_front_of_camera(page, *, seconds: float) -> None:
    """Let `seconds` pass on the page's clock in steps of 0.75 s, the camera reading the code in every step."""
    for _ in range(round(seconds / 0.75)):
        before = await page.evaluate("window.framesRead")
        await page.clock.fast_forward(750)
        # Three more reads: one may have begun before the step; the second began after it, and has been
        # handled (at the new time) once the third begins, as the scanner reads one frame at a time.
        deadline = asyncio.get_running_loop().time() + 10
        while await page.evaluate("window.framesRead") < before + 3:
            assert asyncio.get_running_loop().time() < deadline, "the scanner stopped reading the camera"
            await asyncio.sleep(0.02)


# --- steps ----------------------------------------------------------------------------------------------

async def put_on_the_door_team(page, event_id: int, staff: Staff) -> None:
    """The organiser adds the door staff account on the event's door page."""
    await page.goto(f"/organiser/events/{event_id}/door")
    await page.get_by_label("Add door staff").select_option(label=f"{staff.name} ({staff.email})")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text=f"{staff.name} can now scan")).to_be_visible()


async def open_scanner(page, event_id: int, staff: Staff) -> None:
    await page.goto(f"/login?next=/door/events/{event_id}")
    await page.get_by_label("Email", exact=True).fill(staff.email)
    await page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(rf"/door/events/{event_id}$"))
    # The kept ticket list is loaded: offline admission is ready.
    await expect(page.locator("#net-status")).to_contain_text("kept for offline use")


def verdict(page):
    return page.locator("#verdict")


async def type_scan(page, text: str) -> None:
    """As a keyboard-wedge scanner does: the code, then Enter."""
    field = page.get_by_label("Scan with a USB scanner, or type the ticket code")
    await field.fill(text)
    await field.press("Enter")


async def expect_verdict(page, headline: str, *, css: str, detail: str | re.Pattern | None = None) -> None:
    box = verdict(page)
    await expect(box.locator(".verdict-headline")).to_have_text(headline, timeout=20_000)
    await expect(box).to_have_class(re.compile(rf"\bverdict-{css}\b"))
    if detail is not None:
        await expect(box.locator(".verdict-detail")).to_have_text(detail)
    # Ready for the next code: the field is empty and has the focus.
    field = page.locator("#scan-text")
    await expect(field).to_have_value("")


# --- the "Done when" -----------------------------------------------------------------------------

async def test_camera_scan_then_offline_admissions_sync_by_themselves(browser, server, demo_login, tmp_path):
    event_id, types = _event(server, CINEMA_SLUG)
    first, second, third = _book(server, CINEMA_SLUG, types["Lawn seat"],
                                 ["Amina Khatun", "Rahim Uddin", "Grace Okafor"])
    staff = _add_door_staff(server)
    camera_browser = await launch_with_camera(browser, write_y4m(tmp_path / "ticket.y4m", first.payload))
    problems = PageProblems()
    try:
        organiser = await (await phone_context(camera_browser, server.url, problems)).new_page()
        await organiser_sign_in(organiser, demo_login)
        await put_on_the_door_team(organiser, event_id, staff)

        door_context = await phone_context(camera_browser, server.url, problems, permissions=["camera"])
        await door_context.add_init_script(COUNT_FRAMES_READ)
        page = await door_context.new_page()
        # The page's clock is Playwright's: it keeps the normal pace until the test moves it on.
        await page.clock.install()
        await open_scanner(page, event_id, staff)

        # The camera sees the ticket: admitted.
        await expect(page.locator("#camera-video")).to_be_visible()
        await expect_verdict(page, "Admitted", css="admitted")
        await expect(verdict(page).locator(".verdict-name")).to_have_text(first.name)
        await assert_fits_width(page)
        await screenshot(page, "door-camera-admitted", "phone")
        # Held in front of the camera for longer than the 2 s in which a code seen again is the same scan:
        # it is scanned once, not once a frame.
        await hold_in_front_of_camera(page, seconds=3)
        assert _scans_of(server, first.code) == 1
        await expect(verdict(page).locator(".verdict-headline")).to_have_text("Admitted")

        # Shown again (the camera restarted): already checked in, with the time and who.
        await page.get_by_role("button", name="Stop camera").click()
        await page.get_by_role("button", name="Start camera").click()
        await expect_verdict(page, "Already checked in", css="already_checked_in",
                             detail=re.compile(rf"^Already checked in at {HHMM} by {re.escape(staff.name)}$"))
        await screenshot(page, "door-camera-already-checked-in", "phone")
        await page.get_by_role("button", name="Stop camera").click()
        assert _scans_of(server, first.code) == 2

        # The signal drops. Two more people arrive: one QR payload read by a wedge scanner, one code typed.
        await door_context.set_offline(True)
        await expect(page.locator("#net-status")).to_contain_text("Offline")
        # Offline, the phone's list has the initials the signed QR carries, not names (least privilege).
        await type_scan(page, second.payload)
        await expect_verdict(page, "Admitted", css="admitted")
        await expect(verdict(page).locator(".verdict-name")).to_have_text("Initials: RU")
        await expect(verdict(page).locator(".verdict-note")).to_contain_text("Decided on this phone")
        await type_scan(page, third.code)
        await expect_verdict(page, "Admitted", css="admitted")
        await expect(verdict(page).locator(".verdict-name")).to_have_text("Initials: GO")
        # The first ticket again, offline: the phone remembers it is already in.
        await type_scan(page, first.payload)
        await expect_verdict(page, "Already checked in", css="already_checked_in",
                             detail=re.compile(rf"^Already checked in at {HHMM} by {re.escape(staff.name)}$"))
        # A forged QR is refused on the phone too (the signature is checked with the kept public key).
        forger, _ = generate_keypair()
        forged = sign_ticket(forger, ticket_code=second.code, event_id=event_id,
                             ticket_type_id=types["Lawn seat"], initials="RU")
        await type_scan(page, forged)
        await expect_verdict(page, "Forged ticket", css="forged")
        await expect(page.locator("#net-status")).to_contain_text("Offline — 4 scans waiting")
        await expect(page.locator("#counts tr.total")).to_contain_text("3 /")
        await screenshot(page, "door-offline-queue", "phone")
        assert _checked_in(server, event_id) == 1  # nothing reached the server yet

        # The network is back: the queue syncs by itself.
        await door_context.set_offline(False)
        await expect(page.locator("#queue-status")).to_contain_text("Synced 4 offline scans", timeout=20_000)
        await expect(page.locator("#net-status")).to_contain_text("Online")
        await expect(verdict(page).locator(".verdict-note")).to_have_text(
            "Decided on this phone while offline; now synced.")
        assert _checked_in(server, event_id) == 3
        await screenshot(page, "door-synced", "phone")

        # The organiser sees three checked in, on the door page and in the counts the scanner polls.
        await organiser.goto(f"/organiser/events/{event_id}/door")
        await expect(organiser.locator("#door-counts li.total")).to_contain_text("All tickets: 3 /")
        counts = await (await organiser.request.get(f"/door/events/{event_id}/counts")).json()
        [total] = [c for c in counts["counts"] if c["ticket_type_id"] is None]
        assert total["checked_in"] == 3 and total["inside"] == 3
        await expect(page.locator("#counts tr.total")).to_contain_text("3 /")
    finally:
        await camera_browser.close()
    # Requests cut off by going offline are expected; nothing else is.
    assert not [p for p in problems.items if "ERR_INTERNET_DISCONNECTED" not in p], problems.items


# --- the keyboard field and every verdict ----------------------------------------------------------------

@pytest.mark.parametrize("device", ["phone"])
async def test_keyboard_field_shows_every_verdict(new_context, server, demo_login, device):
    event_id, types = _event(server, DRAGONS_SLUG)
    guest, twice, cancelled = _book(server, DRAGONS_SLUG, types["Audience"],
                                    ["Sam Jones", "Priya Patel", "Tom Byrne"])
    [corporate] = _book(server, DRAGONS_SLUG, types["Corporate guest"], ["Ola Adeyemi"])
    _, bangla_types = _event(server, BANGLA_SLUG)
    [elsewhere] = _book(server, BANGLA_SLUG, bangla_types["Festival day pass"], ["Nadia Rahman"])
    _cancel(server, cancelled.code)
    staff = _add_door_staff(server)
    organiser = await (await new_context()).new_page()
    await organiser_sign_in(organiser, demo_login)
    await put_on_the_door_team(organiser, event_id, staff)

    page = await (await new_context()).new_page()
    await open_scanner(page, event_id, staff)
    await expect(verdict(page).locator(".verdict-headline")).to_have_text("Ready to scan")
    await screenshot(page, "door-ready", device)

    await type_scan(page, guest.code)
    await expect_verdict(page, "Admitted", css="admitted")
    await expect(page.locator("#scan-text")).to_be_focused()
    await screenshot(page, "door-admitted", device)

    await type_scan(page, twice.payload)
    await expect_verdict(page, "Admitted", css="admitted")
    await expect(page.locator("#counts tr.total")).to_contain_text("2 / 3")  # counts follow each scan
    await type_scan(page, twice.payload)
    await expect_verdict(page, "Already checked in", css="already_checked_in",
                         detail=re.compile(rf"^Already checked in at {HHMM} by {re.escape(staff.name)}$"))
    await screenshot(page, "door-already-checked-in", device)

    await type_scan(page, cancelled.payload)
    await expect_verdict(page, "Cancelled ticket", css="cancelled")
    await screenshot(page, "door-cancelled", device)

    await type_scan(page, elsewhere.payload)
    await expect_verdict(page, "Wrong event", css="wrong_event")
    await screenshot(page, "door-wrong-event", device)

    forger, _ = generate_keypair()
    await type_scan(page, sign_ticket(forger, ticket_code=guest.code, event_id=event_id,
                                      ticket_type_id=types["Audience"], initials="SJ"))
    await expect_verdict(page, "Forged ticket", css="forged")
    await screenshot(page, "door-forged", device)

    await type_scan(page, "hello, this is not a ticket")
    await expect_verdict(page, "Not a valid ticket", css="unknown")
    await screenshot(page, "door-unknown", device)

    await type_scan(page, corporate.payload)
    await expect_verdict(page, "Not paid yet", css="unpaid")
    pay = verdict(page).get_by_role("button", name="Paid £25.00: mark paid and admit")
    await expect(pay).to_be_visible()
    await assert_fits_width(page)
    await screenshot(page, "door-unpaid", device)
    await pay.click()
    await expect_verdict(page, "Admitted", css="admitted")
    await expect(verdict(page).locator(".verdict-name")).to_have_text(corporate.name)

    # Check out and back in, with the second button.
    await page.locator("#scan-text").fill(guest.code)
    await page.get_by_role("button", name="Check out").click()
    await expect_verdict(page, "Checked out", css="checked_out")
    await type_scan(page, guest.code)
    await expect_verdict(page, "Re-entry: admitted", css="readmitted")

    # Counts follow (polled every 5 s): Sam, Priya and Ola are in.
    await expect(page.locator("#counts tr.total")).to_contain_text("3 /", timeout=15_000)
    assert _checked_in(server, event_id) == 3


@pytest.mark.parametrize("device", ["phone"])
async def test_without_a_camera_the_note_shows_and_typing_works(new_context, server, demo_login, device):
    """The shared browser has no fake camera: the page says so and the field still admits people."""
    event_id, types = _event(server, WORKSHOP_SLUG)
    [ticket] = _book(server, WORKSHOP_SLUG, types["Standard"], ["Hannah Lee"])
    staff = _add_door_staff(server)
    organiser = await (await new_context()).new_page()
    await organiser_sign_in(organiser, demo_login)
    await put_on_the_door_team(organiser, event_id, staff)

    page = await (await new_context()).new_page()
    await open_scanner(page, event_id, staff)
    note = page.locator("#camera-note")
    await expect(note).to_be_visible()
    await expect(note).to_contain_text("type the ticket code")
    await expect(page.locator("#camera-video")).to_be_hidden()
    await expect(page.get_by_role("button", name="Try the camera again")).to_be_visible()

    await type_scan(page, ticket.code)
    await expect_verdict(page, "Not paid yet", css="unpaid")
    await verdict(page).get_by_role("button", name=re.compile("mark paid and admit")).click()
    await expect_verdict(page, "Admitted", css="admitted")
    await assert_fits_width(page)
    await screenshot(page, "door-no-camera", device)


# --- the organiser's live counts, and the tier on offline verdicts ----------------------------------------

async def test_the_organisers_counts_follow_the_door_and_offline_verdicts_show_the_tier(browser, server, demo_login):
    event_id, types = _event(server, BANGLA_SLUG)
    online, offline = _book(server, BANGLA_SLUG, types["Festival day pass"], ["Imran Hussain", "Fatima Begum"])
    staff = _add_door_staff(server)
    problems = PageProblems()
    contexts = []
    try:
        contexts.append(await phone_context(browser, server.url, problems))
        # The organiser's page asks for the counts every 10 s: its clock is moved on rather than waited for.
        await contexts[-1].clock.install()
        organiser = await contexts[-1].new_page()
        await organiser_sign_in(organiser, demo_login)
        await put_on_the_door_team(organiser, event_id, staff)  # and stays on the door page
        total = organiser.locator("#door-counts li.total")
        before = int(re.search(r"All tickets: (\d+) /", await total.inner_text()).group(1))

        contexts.append(await phone_context(browser, server.url, problems))
        door_context = contexts[-1]
        page = await door_context.new_page()
        await open_scanner(page, event_id, staff)
        await type_scan(page, online.code)
        await expect_verdict(page, "Admitted", css="admitted")
        await expect(verdict(page).locator(".verdict-type")).to_have_text("Festival day pass · Free")
        # The organiser's page follows without being reloaded.
        await organiser.clock.run_for(COUNTS_POLL_MS)
        await expect(total).to_contain_text(f"All tickets: {before + 1} /")

        # Offline, decided on the phone from the kept list: the tier is shown as the server shows it.
        await door_context.set_offline(True)
        await expect(page.locator("#net-status")).to_contain_text("Offline")
        await type_scan(page, offline.payload)
        await expect_verdict(page, "Admitted", css="admitted")
        await expect(verdict(page).locator(".verdict-note")).to_contain_text("Decided on this phone")
        await expect(verdict(page).locator(".verdict-type")).to_have_text("Festival day pass · Free")
        await door_context.set_offline(False)
        await expect(page.locator("#queue-status")).to_contain_text("Synced 1 offline scan", timeout=20_000)
        await organiser.clock.run_for(COUNTS_POLL_MS)
        await expect(total).to_contain_text(f"All tickets: {before + 2} /")
    finally:
        for context in contexts:
            await context.close()
    assert not [p for p in problems.items if "ERR_INTERNET_DISCONNECTED" not in p], problems.items


# --- issue 16: a volunteer with a door link (no account): least privilege, typed codes, references, names -------

def _reference_of(server: Server, code: str) -> str:
    with _db(server) as session:
        return session.scalar(select(Order.reference).join(Ticket, Ticket.order_id == Order.id)
                              .where(Ticket.code == code))


async def create_door_link(page, event_id: int, pin: str) -> str:
    """The organiser makes a door link on the event's door page; its URL is shown once."""
    await page.goto(f"/organiser/events/{event_id}/door")
    await page.get_by_label("Name", exact=True).fill("Side gate")
    await page.get_by_label("PIN (6 to 12 digits)").fill(pin)
    await page.get_by_role("button", name="Create door link").click()
    url = await page.locator("code.break").inner_text()
    assert "/door/link/" in url
    return url.strip()


async def test_door_link_admits_offline_from_hashes_and_finds_by_reference_and_name(browser, server, demo_login):
    problems = PageProblems()
    contexts = [await phone_context(browser, server.url, problems) for _ in range(2)]
    try:
        await _door_link_volunteer(server, demo_login, *contexts)
    finally:
        for context in contexts:
            await context.close()
    # Requests cut off by going offline are expected; nothing else is.
    assert not [p for p in problems.items if "ERR_INTERNET_DISCONNECTED" not in p], problems.items


async def _door_link_volunteer(server, demo_login, organiser_context, volunteer_context):
    event_id, types = _event(server, CINEMA_SLUG)
    typed, searched = _book(server, CINEMA_SLUG, types["Lawn seat"], ["Yusuf Haddad", "Mariam Haddad"])
    [by_reference] = _book(server, CINEMA_SLUG, types["Lawn seat"], ["Kwame Mensah"])
    organiser = await organiser_context.new_page()
    await organiser_sign_in(organiser, demo_login)
    link = await create_door_link(organiser, event_id, "731592")

    page = await volunteer_context.new_page()
    await page.goto(link)
    await page.get_by_label("PIN from the organiser").fill("731592")
    await page.get_by_role("button", name="Open the scanner").click()
    await expect(page).to_have_url(re.compile(rf"/door/events/{event_id}$"))
    # The scanner's own page: no public header, no "Sign in".
    await expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    await expect(page.locator("header.site-header")).to_have_count(0)
    await expect(page.locator("#net-status")).to_contain_text("kept for offline use")

    # What the phone keeps: no ticket codes, no names.
    kept = await page.evaluate(f"localStorage.getItem('denhub.door.manifest.{event_id}')")
    assert kept and '"code_key"' in kept
    for secret in (typed.code, searched.code, by_reference.code, "Yusuf", "Mariam", "Haddad", "Kwame"):
        assert secret not in kept, secret

    # Offline: a code typed in lower case with spaces is checked against the kept hashes and admitted.
    await volunteer_context.set_offline(True)
    await expect(page.locator("#net-status")).to_contain_text("Offline")
    spaced = " ".join(typed.code[i:i + 4] for i in range(0, len(typed.code), 4)).lower()
    await type_scan(page, f" {spaced} ")
    await expect_verdict(page, "Admitted", css="admitted")
    await expect(verdict(page).locator(".verdict-name")).to_have_text("Initials: YH")
    await expect(verdict(page).locator(".verdict-note")).to_contain_text("Decided on this phone")
    await type_scan(page, typed.code.upper())
    await expect_verdict(page, "Already checked in", css="already_checked_in")
    await volunteer_context.set_offline(False)
    await expect(page.locator("#queue-status")).to_contain_text("Synced 2 offline scans", timeout=20_000)
    assert _scans_of(server, typed.code) == 2

    # Online: the booking reference lists the booking's tickets, each with its own button.
    reference = _reference_of(server, by_reference.code)
    await type_scan(page, reference.lower())
    await expect(verdict(page).locator(".verdict-headline")).to_have_text(f"Booking {reference}")
    await verdict(page).get_by_role("button", name="Check in Kwame Mensah").click()
    await expect_verdict(page, "Admitted", css="admitted")
    await expect(verdict(page).locator(".verdict-name")).to_have_text("Kwame Mensah")

    # No code at all: find by name, then check in.
    await page.get_by_label("No code? Find by name").fill("mariam")
    await page.get_by_role("button", name="Find", exact=True).click()
    await expect(verdict(page).locator(".door-match")).to_have_count(1)
    await expect(verdict(page).locator(".door-match-name")).to_have_text("Mariam Haddad")
    await assert_fits_width(page)
    await screenshot(page, "door-found-by-name", "phone")
    await verdict(page).get_by_role("button", name="Check in Mariam Haddad").click()
    await expect_verdict(page, "Admitted", css="admitted")
    assert _checked_in_codes(server, event_id) >= {typed.code, searched.code, by_reference.code}
