"""Every form on every public page, submitted on a phone as a person would: by pressing its button, first with
nothing filled in (the focus lands on what went wrong, not on the page's top), then filled in (the page that
follows says it worked). A crawl of the public pages finds every <form>; one that no test here submits fails
`test_every_public_form_is_submitted_by_a_test`, so a new form comes with its test.

Also: wide tables scroll inside a region a keyboard can reach (axe's scrollable-region-focusable), and phone
screenshots of the listing and the Manage events list (tests/artifacts/).

The forms are tried on an event of their own (a free "Open seat", a sold-out "Front row", a "Last seat"
taken during a test) with a pitch competition taking applications and votes, made directly in the e2e
server's database, so the demo programme the other browser tests use stays as it was.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import expect
from sqlalchemy import select, update

from events.models import Event
from judging import votes
from judging.competitions import create_competition
from judging.entrants import EntrantInput, add_entrant
from judging.models import JudgeAssignment
from kernel.accounts import Role, create_user
from kernel.db import Database, utcnow
from tests.e2e.conftest import Server, assert_fits_width, screenshot
from tests.e2e.test_organiser import sign_in
from ticketing import services, waitlist
from ticketing.models import Ticket, TicketType

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
PHONE = pytest.mark.parametrize("device", ["phone"])
ERROR_FOCUS = ".error-summary, .flash-error, .field-error"


@dataclass(frozen=True)
class World:
    slug: str
    title: str
    event_id: int
    open_seat: int  # type ids
    front_row: int  # sold out from the start
    last_seat: int  # one seat, taken during a test
    competition_id: int
    enterprises: tuple[str, ...]
    voter_code: str  # a ticket checked in at the door, not yet voted
    claim_tokens: tuple[str, str]  # the two Front row seats, held for the first two on its waiting list
    ticket_code: str  # another ticket of the same order
    booking_token: str  # the secret of another order's email links (ticketing.access), for its cancel forms
    booking_codes: tuple[str, str]  # that order's two tickets
    crawl_booking_token: str  # one more such order, never cancelled, for the crawl (whichever runs first)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(server: Server) -> World:
    suffix = uuid.uuid4().hex[:6]
    slug, title = f"forms-night-{suffix}", f"Forms night {suffix}"
    db = Database(server.database_url)
    server.use_its_signing_keys()  # the bookings below make the event's signing key
    try:
        async with db.write() as session:
            starts = utcnow() + dt.timedelta(days=12)
            event = Event(slug=slug, title=title, summary="Every form, tried.", description="", category="pitch_night",
                          venue_name="Soho House – Visitor Centre", starts_at=starts,
                          ends_at=starts + dt.timedelta(hours=3), status="published")
            session.add(event)
            await session.flush()
            types = [TicketType(event_id=event.id, name=name, tier="free", price_pence=0, capacity=capacity,
                                max_per_order=6, position=n)
                     for n, (name, capacity) in enumerate([("Open seat", 100), ("Front row", 2), ("Last seat", 1)])]
            session.add_all(types)
            await session.flush()
            # Both Front row seats are held for the first two on its waiting list (their offer links: one for
            # the claim test, one for the crawl, which must find the form whichever runs first)
            await session.execute(update(TicketType).where(TicketType.id == types[1].id).values(sold=2))
            tokens = []

            async def keep_token(session, entry, token):
                tokens.append(token)

            for name in ("Olu Offered", "Ola Offered"):
                await waitlist.join(session=session, event=event, ticket_type=types[1], name=name,
                                    email=f"{name.split()[0].lower()}.{suffix}@example.org")
                await session.flush()
                await waitlist.offer_next(session=session, ticket_type_id=types[1].id, offer_hours=48,
                                          notify=keep_token)
            competition = await create_competition(session=session, event_id=event.id, name=f"Pitch {suffix}",
                                                   actor_id=None)
            enterprises = ("Soho Road Seeds", "Lozells Looms")
            for n, enterprise in enumerate(enterprises):
                await add_entrant(session=session, competition=competition, actor_id=None, data=EntrantInput(
                    name=f"Founder {n}", enterprise=enterprise, pitch=f"{enterprise} in one line.",
                    social_mission="Jobs for young people in Handsworth.",
                    contact_email=f"founder.{suffix}.{n}@example.org"))
            for n, name in enumerate(("Judge Nusrat Chowdhury-Rahman", "Judge Bartholomew Okonkwo-Smith",
                                      "Judge Gracefield Montgomery-Adeyemi")):
                judge = await create_user(session=session, email=f"judge.{suffix}.{n}@example.org", name=name,
                                          role=Role.JUDGE, password=secrets.token_urlsafe(16))
                session.add(JudgeAssignment(competition_id=competition.id, user_id=judge.id, is_chair=n == 0))
            await session.flush()
            await votes.open_voting(session=session, competition=competition, actor_id=None)
            booked, _ = await services.book(session=session, event_id=event.id, req=services.RegistrationRequest(
                [services.TicketLine(types[0].id, "Rahima Voter"), services.TicketLine(types[0].id, "Sam Voter")],
                email=f"voter.{suffix}@example.org", form_token=secrets.token_urlsafe(24)))
            codes = list(await session.scalars(select(Ticket.code).where(Ticket.order_id == booked.id)
                                               .order_by(Ticket.id)))
            # checked in at the door (the door's own tests scan tickets; here it is only what a vote needs)
            await session.execute(update(Ticket).where(Ticket.code == codes[0]).values(checked_in_at=utcnow()))
            # Bookings of their own for the booking page's cancel forms (cancelling never touches the voter's):
            # one the cancel test cancels, one the crawl finds its forms on
            cancelling = [(await services.book(session=session, event_id=event.id, req=services.RegistrationRequest(
                [services.TicketLine(types[0].id, "Cara Cancel"), services.TicketLine(types[0].id, "Cato Cancel")],
                email=f"cancel.{n}.{suffix}@example.org", form_token=secrets.token_urlsafe(24))))[0]
                for n in range(2)]
            booking_codes = list(await session.scalars(select(Ticket.code).where(
                Ticket.order_id == cancelling[0].id).order_by(Ticket.id)))
            return World(slug, title, event.id, types[0].id, types[1].id, types[2].id, competition.id,
                         enterprises, codes[0], (tokens[0], tokens[1]), codes[1], cancelling[0].access_token,
                         (booking_codes[0], booking_codes[1]), cancelling[1].access_token)
    finally:
        await db.dispose()


async def assert_focus_on_the_errors(page) -> None:
    """After a failed submit the focus is on the error summary (or the one error message), as
    document.activeElement says, so a screen reader reads it first."""
    await expect(page.locator(ERROR_FOCUS).first).to_be_focused()
    active = await page.evaluate("() => document.activeElement.className")
    assert any(name in active.split() for name in ("error-summary", "flash-error", "field-error")), active


def tickets_panel(page):
    return page.get_by_role("region", name="Tickets")


def type_row(page, name: str):
    return tickets_panel(page).locator("li.ticket-type").filter(has=page.get_by_text(name, exact=True))


async def choose(page, ticket_type: str, how_many: int) -> None:
    await tickets_panel(page).get_by_label(f"How many {ticket_type} tickets", exact=True).select_option(str(how_many))
    await tickets_panel(page).get_by_role("button", name="Continue to booking").click()


async def fill_booking(page, names: list[str], email: str) -> None:
    for n, name in enumerate(names, start=1):
        await page.get_by_label(re.compile(rf"^Ticket {n}: ")).fill(name)
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_role("checkbox", name=re.compile(r"^I agree that the organisers keep")).check()


def new_email(who: str) -> str:
    return f"{who}.{uuid.uuid4().hex[:8]}@example.org"


# --- the forms ---------------------------------------------------------------------------------------------

@PHONE
async def test_booking_form_then_registration_details(page, world, device):
    await page.goto(f"/events/{world.slug}")
    await tickets_panel(page).get_by_role("button", name="Continue to booking").click()  # nothing chosen
    await expect(page.locator("#quantity-error")).to_have_text("Choose how many tickets you want (at least one).")
    await assert_focus_on_the_errors(page)

    await choose(page, "Open seat", 2)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your booking")
    await page.get_by_role("button", name="Book free tickets").click()  # nothing filled in
    await expect(page.locator(".error-summary")).to_contain_text("Please correct")
    await assert_focus_on_the_errors(page)

    await fill_booking(page, ["Amina Begum", "Bilal Khan"], new_email("amina"))
    await page.get_by_role("button", name="Book free tickets").click()
    await expect(page).to_have_url(re.compile(r"/orders/[A-Za-z0-9_-]+$"))
    await expect(page.get_by_role("status").filter(has_text="You are booked")).to_be_visible()


@PHONE
async def test_a_seat_taken_meanwhile_is_sold_out_before_any_form_and_the_waiting_list_is_one_step(
        new_context, world, device):
    late = await (await new_context()).new_page()
    await late.goto(f"/events/{world.slug}")  # the last seat is still there as this page loads
    quick = await (await new_context()).new_page()
    await quick.goto(f"/events/{world.slug}")
    await choose(quick, "Last seat", 1)
    await fill_booking(quick, ["Quick Quinn"], new_email("quick"))
    await quick.get_by_role("button", name="Book free tickets").click()
    await expect(quick.get_by_role("status").filter(has_text="You are booked")).to_be_visible()

    await choose(late, "Last seat", 1)
    await expect(late.get_by_role("heading", level=1)).to_have_text("Sold out")
    await expect(late.get_by_role("alert")).to_contain_text("Sorry, “Last seat” tickets are sold out.")
    await expect(late.get_by_role("button", name=re.compile("Book free tickets|Reserve tickets"))).to_have_count(0)
    await expect(late.get_by_label(re.compile(r"^Ticket 1: "))).to_have_count(0)

    await late.get_by_role("button", name="Join the waiting list").click()  # nothing filled in
    await expect(late.locator(".error-summary")).to_be_visible()
    await assert_focus_on_the_errors(late)
    # back on the event page, that type's waiting-list form open with what went wrong
    again = type_row(late, "Last seat")
    await again.get_by_label("Your name", exact=True).fill("Late Lateef")
    await again.get_by_label("Email", exact=True).fill(new_email("late"))
    await again.get_by_role("checkbox", name=re.compile("^Email me if a place comes up")).check()
    await again.get_by_role("button", name="Join the waiting list").click()
    await expect(late).to_have_url(re.compile(rf"/events/{world.slug}#tickets$"))
    await expect(late.get_by_role("status").filter(has_text="You are on the waiting list for “Last seat”")) \
        .to_be_visible()


@PHONE
async def test_waiting_list_form_on_the_event_page(page, world, device):
    await page.goto(f"/events/{world.slug}")
    row = type_row(page, "Front row")
    await expect(row.get_by_text("Sold out", exact=True)).to_be_visible()
    await row.get_by_text("Join the waiting list", exact=False).first.click()  # opens the <details>
    await row.get_by_role("button", name="Join the waiting list").click()  # nothing filled in
    row = type_row(page, "Front row")
    await expect(row.locator(".error-summary")).to_contain_text("Enter your name")
    await assert_focus_on_the_errors(page)

    await row.get_by_label("Your name", exact=True).fill("Wafa Waiting")
    await row.get_by_label("Email", exact=True).fill(new_email("wafa"))
    await row.get_by_role("checkbox", name=re.compile("^Email me if a place comes up")).check()
    await row.get_by_role("button", name="Join the waiting list").click()
    await expect(page.get_by_role("status").filter(has_text="You are on the waiting list for “Front row”")) \
        .to_be_visible()


@PHONE
async def test_sign_in_and_sign_out_forms(page, demo_login, device):
    await page.goto("/login")
    await page.get_by_role("button", name="Sign in").click()  # nothing filled in
    await expect(page.locator("#login-error")).to_be_visible()
    await assert_focus_on_the_errors(page)
    await sign_in(page, demo_login)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Manage events")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


@PHONE
async def test_application_form(page, world, device):
    await page.goto(f"/judging/apply/{world.competition_id}")
    await page.get_by_role("button", name="Send my application").click()  # nothing filled in
    await expect(page.locator(".error-summary")).to_contain_text("Please correct")
    await assert_focus_on_the_errors(page)

    await page.get_by_label("Name of the person pitching", exact=True).fill("Hawa Ahmed")
    await page.get_by_label("Enterprise", exact=True).fill("Stitch Together")
    await page.get_by_label("Your idea in one line", exact=True).fill("Sewing work for refugee women.")
    await page.get_by_label("Social mission", exact=True).fill("Paid work and a shared workshop.")
    await page.get_by_label("Contact email", exact=True).fill(new_email("hawa"))
    await page.get_by_role("checkbox", name=re.compile("^You may keep these details")).check()
    await page.get_by_role("button", name="Send my application").click()
    await expect(page.get_by_role("status").filter(has_text="your application for “Stitch Together” has arrived")) \
        .to_be_visible()


@PHONE
async def test_audience_vote_form(page, world, device):
    await page.goto(f"/judging/vote/{world.competition_id}")
    await page.get_by_role("button", name="Cast my vote").click()  # nothing filled in
    await expect(page.locator("#vote-error")).to_be_visible()
    await assert_focus_on_the_errors(page)

    await page.get_by_label("Your ticket code").fill(world.voter_code)
    await page.get_by_label(re.compile(f"^{world.enterprises[1]}")).check()
    await page.get_by_role("button", name="Cast my vote").click()
    await expect(page).to_have_url(re.compile(rf"/judging/vote/{world.competition_id}/thanks$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for voting")


@PHONE
async def test_booking_page_cancel_forms(page, world, device):
    """From the booking email's link: cancel one ticket on its page, then the whole booking."""
    await page.goto(f"/orders/{world.booking_token}/tickets/{world.booking_codes[0]}")
    await page.get_by_text("Cancel this ticket…").click()
    await page.get_by_role("button", name="Yes, cancel this ticket").click()
    await expect(page.get_by_text(re.compile("cancelled", re.IGNORECASE)).first).to_be_visible()
    await expect(page.get_by_role("button", name="Yes, cancel this ticket")).to_have_count(0)

    await page.goto(f"/orders/{world.booking_token}")
    await page.get_by_text("Cancel the whole booking…").click()
    await page.get_by_role("button", name=re.compile("^Yes, cancel")).click()
    await expect(page.get_by_role("status").filter(has_text=re.compile("cancelled", re.IGNORECASE))).to_be_visible()
    await expect(page.get_by_text("Cancel the whole booking…")).to_have_count(0)


@PHONE
async def test_sign_in_link_forms(page, demo_login, mailbox, device):
    """Locked out or forgotten: ask for an emailed sign-in link (nothing filled in first), open it, confirm."""
    await page.goto("/login")
    await page.get_by_role("link", name=re.compile("sign-in link", re.IGNORECASE)).click()
    await page.get_by_role("button", name="Email me a link").click()  # nothing filled in
    await expect(page.locator("#link-error")).to_have_text("Enter your email address.")
    await assert_focus_on_the_errors(page)

    await page.get_by_label("Email", exact=True).fill(demo_login.email)
    await page.get_by_role("button", name="Email me a link").click()
    await expect(page.get_by_role("status")).to_contain_text("we have emailed it a sign-in link")
    message = await mailbox.wait_for(lambda m: m["To"] == demo_login.email and "/login/link/" in str(
        m.get_body(preferencelist=("plain",)).get_content()))
    link = re.search(r"https?://\S+(/login/link/[A-Za-z0-9_-]+)", message.get_body(
        preferencelist=("plain",)).get_content())[1]
    await page.goto(link)
    await page.get_by_role("button", name=re.compile("^Sign in as ")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Manage events")


@PHONE
async def test_waiting_list_offer_claim_form(page, world, device):
    await page.goto(f"/waitlist/claim/{world.claim_tokens[0]}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("A place has come up")
    await expect(page.get_by_label("Name on the ticket", exact=True)).to_have_value("Olu Offered")
    await page.get_by_role("button", name="Claim my ticket").click()  # without agreeing
    await expect(page.locator(".error-summary")).to_contain_text("Please agree")
    await assert_focus_on_the_errors(page)
    await page.get_by_role("checkbox", name=re.compile("^I agree that the organisers keep")).check()
    await page.get_by_role("button", name="Claim my ticket").click()
    await expect(page).to_have_url(re.compile(r"/orders/[A-Za-z0-9_-]+$"))
    await expect(page.get_by_role("status").filter(has_text="The place is yours")).to_be_visible()


# --- every public form has its test ------------------------------------------------------------------------

# (method, action with its variable parts named) -> the test above that presses its button
FORM_TESTS = {
    ("get", "/events/{slug}/register"): test_booking_form_then_registration_details,
    ("post", "/events/{slug}/register"): test_booking_form_then_registration_details,
    ("post", "/events/{slug}/waitlist"): test_waiting_list_form_on_the_event_page,
    ("post", "/login"): test_sign_in_and_sign_out_forms,
    ("post", "/judging/apply/{n}"): test_application_form,
    ("post", "/judging/vote/{n}"): test_audience_vote_form,
    ("post", "/orders/{code}/tickets/{code}/cancel"): test_booking_page_cancel_forms,
    ("post", "/orders/{code}/cancel"): test_booking_page_cancel_forms,
    ("post", "/login/link"): test_sign_in_link_forms,
    ("post", "/waitlist/claim/{token}"): test_waiting_list_offer_claim_form,
}
PRIVATE = ("/organiser", "/door", "/static", "/documents", "/judging/magic", "/logout", "/healthz")
FILES = (".ics", "/image", ".pdf", ".json", ".js", ".png", ".css")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []  # (method, action)
        self.buttons = 0  # submit buttons, inside a form or pointing at one with form="..."

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self.forms.append(((a.get("method") or "get").lower(), a.get("action", "")))
        elif (tag == "button" and a.get("type", "submit") == "submit") or (tag == "input" and a.get("type") == "submit"):
            self.buttons += 1


def form_kind(method: str, action: str) -> tuple[str, str]:
    path = urlsplit(action).path
    path = re.sub(r"^/events/(?!past$)[^/]+", "/events/{slug}", path)
    path = re.sub(r"^/(orders|tickets)/[A-Za-z0-9_-]+", r"/\1/{code}", path)
    path = re.sub(r"^/orders/\{code\}/tickets/[A-Za-z0-9_-]+", "/orders/{code}/tickets/{code}", path)
    path = re.sub(r"^/waitlist/claim/[^/]+", "/waitlist/claim/{token}", path)
    return method, re.sub(r"/\d+(?=/|$)", "/{n}", path)


async def crawl(context, start: list[str], limit: int = 150) -> dict[tuple[str, str], str]:
    """Every form found on the public pages reachable from `start`, by kind, with a page it is on."""
    found: dict[tuple[str, str], str] = {}
    seen, queue = set(start), list(start)
    while queue:
        url = queue.pop(0)
        assert len(seen) <= limit, f"more than {limit} public pages: is the crawl running away? {sorted(seen)[:20]}"
        response = await context.request.get(url)
        assert response.status < 500, (url, response.status)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        parsed = _Page()
        parsed.feed(await response.text())
        if parsed.forms:
            assert parsed.buttons >= len(parsed.forms), f"a form on {url} has no button to press"
        for method, action in parsed.forms:
            found.setdefault(form_kind(method, urljoin(url, action or url)), url)
        for href in parsed.links:
            target = urljoin(url, href).split("#", 1)[0]
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https") or parts.netloc != urlsplit(url).netloc:
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if local.startswith(PRIVATE) or parts.path.endswith(FILES) or local in seen:
                continue
            seen.add(local)
            queue.append(local)
    return found


@PHONE
async def test_every_public_form_is_submitted_by_a_test(new_context, live_server, world, device):
    context = await new_context()  # signed out: what the public sees
    # The pages reached from outside the site: a booking's details step (and its sold-out answer), the pages
    # an email links to, and the competition's application and vote pages (shared by the organiser and the
    # big screen's QR code).
    start = [
        "/", "/events/past", "/login", f"/events/{world.slug}",
        f"/events/{world.slug}/register?qty_{world.open_seat}=1",
        f"/events/{world.slug}/register?qty_{world.front_row}=1",
        f"/judging/apply/{world.competition_id}", f"/judging/vote/{world.competition_id}",
        f"/tickets/{world.voter_code}", f"/orders/{world.crawl_booking_token}",
        f"/waitlist/claim/{world.claim_tokens[1]}",
    ]
    found = await crawl(context, [f"{live_server}{path}" for path in start])
    untested = {kind: url for kind, url in found.items() if kind not in FORM_TESTS}
    assert not untested, ("forms on public pages that no test submits (add a test that presses their button, "
                          f"and list it in FORM_TESTS): {untested}")
    unseen = set(FORM_TESTS) - set(found)
    assert not unseen, f"FORM_TESTS lists forms the crawl did not find on any public page: {unseen}"


# --- wide tables, and what the pages look like on a phone ---------------------------------------------------

SCROLL_REGIONS = """() => [...document.querySelectorAll("body *")]
    .filter(e => ["auto", "scroll"].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
    .map(e => ({cls: e.className, tabindex: e.getAttribute("tabindex"), role: e.getAttribute("role"),
                label: e.getAttribute("aria-label"),
                focusable: !!e.querySelector("a[href], button, input, select, textarea, [tabindex]")}))"""


@PHONE
async def test_wide_tables_scroll_in_a_region_a_keyboard_can_reach(new_context, demo_login, world, device):
    organiser = await (await new_context()).new_page()
    await sign_in(organiser, demo_login)
    await organiser.goto(f"/organiser/competitions/{world.competition_id}/live")
    await expect(organiser.get_by_role("heading", level=1)).to_be_visible()
    checked = 0
    for path in ("/organiser/events", f"/organiser/competitions/{world.competition_id}/live",
                 f"/organiser/competitions/{world.competition_id}/results"):
        await organiser.goto(path)
        for region in await organiser.evaluate(SCROLL_REGIONS):
            checked += 1
            # axe's scrollable-region-focusable: a keyboard user can reach it to scroll it...
            assert region["tabindex"] == "0", (path, region)
            # ...and a screen reader says what it is when it takes the focus
            assert region["role"] == "region" and region["label"], (path, region)
        for wrap in await organiser.locator(".table-wrap:not(:has(.stack-on-phone))").all():
            checked += 1
            assert await wrap.get_attribute("tabindex") == "0" and await wrap.get_attribute("role") == "region"
            assert await wrap.get_attribute("aria-label")
    assert checked, "no wide table was found to check"
    # the live grid (three judges' columns) scrolls sideways on a phone, and the Tab key reaches it
    await organiser.goto(f"/organiser/competitions/{world.competition_id}/live")
    grid = organiser.get_by_role("region", name="Score sheets by entrant and judge")
    assert await grid.evaluate("e => e.scrollWidth > e.clientWidth"), "the live grid fits: nothing to scroll"
    for _ in range(80):
        await organiser.keyboard.press("Tab")
        if await grid.evaluate("e => e === document.activeElement"):
            break
    await expect(grid).to_be_focused()
    await organiser.keyboard.press("ArrowRight")
    await organiser.wait_for_function("e => e.scrollLeft > 0", arg=await grid.element_handle())


@PHONE
async def test_phone_screenshots_of_the_listing_and_manage_events(new_context, demo_login, world, device):
    visitor = await (await new_context()).new_page()
    await visitor.goto("/")
    card = visitor.locator(".event-card").filter(has=visitor.get_by_role("link", name=world.title, exact=True))
    await expect(card.locator(".fact-price")).to_have_text("Free")
    festival = visitor.locator(".event-card").filter(has_text="Bangla Month")
    await expect(festival.locator(".event-when time")).to_have_count(2)  # its first and last day
    await expect(festival.locator(".fact-price")).to_have_text("Free, or from £3.00")
    await assert_fits_width(visitor)
    await screenshot(visitor, "listing-cards", device)

    organiser = await (await new_context()).new_page()
    await sign_in(organiser, demo_login)
    row = organiser.get_by_role("row").filter(has=organiser.get_by_role("link", name=world.title, exact=True))
    await expect(row).to_contain_text("sold (no limit)")
    for label in ("Ticket types", "Attendees", "Door", "Badges"):
        await expect(row.get_by_role("link", name=f"{label} for {world.title}")).to_be_visible()
    await row.get_by_role("link", name=f"Ticket types for {world.title}").click()
    await expect(organiser.get_by_role("navigation", name="This event").get_by_role("link", name="Ticket types")) \
        .to_have_attribute("aria-current", "page")
    await organiser.goto("/organiser/events")
    await assert_fits_width(organiser)
    await screenshot(organiser, "manage-events", device)
    await row.get_by_role("link", name=f"Edit {world.title}").click()
    tabs = organiser.get_by_role("navigation", name="This event")
    await expect(tabs.get_by_role("link", name="Details")).to_have_attribute("aria-current", "page")
    await expect(tabs.get_by_role("link")).to_have_text(
        ["All events", "Details", "Ticket types", "Attendees", "Door", "Badges", "Organisers", "Public page"])
    await assert_fits_width(organiser)
    await screenshot(organiser, "edit-event", device)
