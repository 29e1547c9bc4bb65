"""Pitch judging in a browser on a phone, as the issue's "Done when" says.

1. A judge signs in by magic link, scores two entrants, loses the network, scores a third (kept on the
   phone: "saved on this phone — not synced"), gets the network back, the scores sync by themselves, and
   the organiser's live view shows all three submitted. (A competition of its own, made directly in the e2e
   server's database, so the demo's stays untouched for 2.)
2. The demo pitch night, tried as a new user would: the organiser signs in on a desktop, opens the demo's
   competition, invites a judge (the link arrives by email) and makes sign-in links for the other two; the
   three judges, each on their own phone, sign in and score the five demo entrants as the host screen
   starts each pitch, one declaring a conflict instead; audience members book tickets on their phones, are
   checked in on the door scanner, and vote from the big screen's vote page and their ticket pages; the
   organiser releases the results, and the public results page shows both rankings, the tie-break used,
   Kendall's W, the recusal and the audience vote, with the values worked out by hand from the marks.

Screenshots of the scoring page, host screen, vote page and results go to tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass

import pytest
from playwright.async_api import expect
from sqlalchemy import func, select

from events.models import Event
from judging import demo as judging_demo
from judging import judges
from judging import night as judging_night
from judging.competitions import create_competition
from judging.entrants import EntrantInput, add_entrant
from judging.models import Competition, JudgeAssignment, ScoreSheet
from kernel.accounts import Role, create_user
from kernel.db import Database
from tests.e2e.conftest import DEVICES, PageProblems, Server, assert_fits_width, screenshot
from tests.e2e.test_door import expect_verdict, type_scan
from tests.e2e.test_organiser import sign_in as organiser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DRAGONS_SLUG = judging_demo.DEMO_EVENT_SLUG
ENTRANTS = [
    ("Handsworth Community Pantry", "Amina Begum", "A pay-as-you-feel food pantry and cookery club on Soho Road."),
    ("Lozells Bike Co-op", "Tomasz Nowak", "Refurbished bikes and repair lessons for young people in Lozells."),
    ("Bangla Tutors CIC", "Rahima Khatun", "Bengali-language tutoring that helps parents support homework."),
    ("Aston Repair Café", "Delroy Campbell", "Monthly repair cafés that keep appliances out of landfill."),
    ("Stitch Together", "Hawa Ahmed", "A sewing social enterprise run by and for refugee women."),
]


@dataclass
class Night:
    competition_id: int
    entrant_ids: list[int]
    judges: list[tuple[str, str, int]]  # (name, magic-link token, user id)


async def _night(server: Server, *, judges_count: int, entrants=ENTRANTS, open_scoring: bool = False,
                 judge_names=("Judge Nia", "Judge Bilal", "Judge Grace"), title: str = "Phone night") -> Night:
    """A competition of its own on the demo pitch night: entrants (five, unless given) waiting for their pitch
    (or with scoring open for all), and judges with one-time sign-in links, the first the chair."""
    db = Database(server.database_url)
    suffix = uuid.uuid4().hex[:6]
    try:
        async with db.write() as session:
            event_id = await session.scalar(select(Event.id).where(Event.slug == DRAGONS_SLUG))
            competition = await create_competition(session=session, event_id=event_id,
                                                   name=f"{title} {suffix}", actor_id=None)
            entrant_ids = []
            for enterprise, name, pitch in entrants:
                entrant = await add_entrant(session=session, competition=competition, actor_id=None,
                                            data=EntrantInput(
                                                name=name, enterprise=enterprise, pitch=pitch,
                                                social_mission=f"{pitch} Run in Birmingham.",
                                                contact_email=f"{suffix}.{len(entrant_ids)}@example.org"))
                entrant_ids.append(entrant.id)
            if open_scoring:
                await session.flush()
                for entrant_id in entrant_ids:
                    await judging_night.open_scoring(session=session, competition=competition, entrant_id=entrant_id,
                                                     actor_id=None)
            panel = []
            for n, name in enumerate(list(judge_names)[:judges_count]):
                user = await create_user(session=session, email=f"judge.{suffix}.{n}@example.org", name=name,
                                         role=Role.JUDGE, password=secrets.token_urlsafe(16))
                session.add(JudgeAssignment(competition_id=competition.id, user_id=user.id, is_chair=n == 0))
                token, _ = await judges.new_magic_link(session=session, user=user, competition=competition,
                                                       base_url=server.url)
                panel.append((name, token, user.id))
            return Night(competition.id, entrant_ids, panel)
    finally:
        await db.dispose()


async def _sheets(server: Server, competition_id: int, judge_id: int) -> dict[int, str]:
    db = Database(server.database_url)
    try:
        async with db.read() as session:
            rows = await session.scalars(select(ScoreSheet).where(ScoreSheet.competition_id == competition_id,
                                                                  ScoreSheet.judge_id == judge_id))
            return {s.entrant_id: s.status for s in rows}
    finally:
        await db.dispose()


async def _phone(browser, server: Server, problems: PageProblems):
    context = await browser.new_context(base_url=server.url, locale="en-GB", timezone_id="Europe/London",
                                        **DEVICES["phone"])
    context.set_default_timeout(10_000)
    context.on("page", problems.watch)
    return context


async def _judge_signs_in(context, name: str, token: str, competition_id: int):
    page = await context.new_page()
    await page.goto(f"/judging/magic/{token}")
    await page.get_by_role("button", name=f"Sign in as {name}").click()
    await expect(page).to_have_url(re.compile(rf"/judging/{competition_id}$"))
    await expect(page.get_by_role("status").filter(has_text=f"Signed in as {name}")).to_be_visible()
    return page


async def _host(page, competition_id: int, action: str) -> None:
    """Press a host-screen button (the page reloads after each)."""
    await page.goto(f"/organiser/competitions/{competition_id}/host")
    # The button's POST redirects back to this same address, so the address alone cannot tell the new page
    # from the old: wait for the new page's load event, its deferred script included (moving on sooner
    # cancels that script's download, a failed request).
    async with page.expect_navigation(wait_until="load"):
        await page.get_by_role("button", name=re.compile(action)).click()
    await expect(page).to_have_url(re.compile(rf"/organiser/competitions/{competition_id}/host$"))


async def _score(page, entrant_id: int, marks: list[int]) -> None:
    """Tap one big button per criterion on the script's form (ids e<entrant>c<criterion>-<value>)."""
    fieldsets = page.locator("#judge-app fieldset.criterion")
    await expect(fieldsets).to_have_count(len(marks))
    for i, mark in enumerate(marks):
        await fieldsets.nth(i).locator(f'label[for^="e{entrant_id}c"][for$="-{mark}"]').click()


def _real(problems: PageProblems) -> list[str]:
    """What went wrong in the browser, less what these tests cause on purpose: requests cut off by going
    offline, and the pages' polls (host.json, state.json) cut short when the test moves to another page."""
    return [p for p in problems.items if "ERR_INTERNET_DISCONNECTED" not in p
            and not (p.endswith("net::ERR_ABORTED") and re.search(r"/(host|state)\.json ", p))]


def _badge(page, entrant_id: int):
    return page.locator(f'.judging-list [data-entrant="{entrant_id}"]')


# --- 1. offline scoring -----------------------------------------------------------------------------

async def test_a_judge_scores_offline_on_a_phone_and_the_organiser_sees_all_three(browser, server, demo_login):
    night = await _night(server, judges_count=1)
    cid, (first, second, third, *_) = night.competition_id, night.entrant_ids
    name, token, judge_id = night.judges[0]
    problems = PageProblems()
    organiser_context = await _phone(browser, server, problems)
    judge_context = await _phone(browser, server, problems)
    try:
        organiser = await organiser_context.new_page()
        await organiser_sign_in(organiser, demo_login)
        for action in ("Next entrant", "Start pitch", "Next entrant", "Start pitch"):
            await _host(organiser, cid, action)
        await expect(organiser.locator("#countdown")).to_have_text(re.compile(r"^[0-5]:\d\d$"))  # the script counts
        await assert_fits_width(organiser)
        await screenshot(organiser, "judging-host-screen", "phone")

        page = await _judge_signs_in(judge_context, name, token, cid)
        # The main button opens the entrant on stage (Lozells Bike Co-op); this judge starts with the first.
        await expect(page.locator("#judge-main")).to_have_text("On stage now · Score: Lozells Bike Co-op")
        await page.locator(".judging-list").get_by_role("link", name=re.compile("^Handsworth Community Pantry")).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Handsworth Community Pantry")
        await expect(_badge(page, first)).to_have_text("Not scored yet")
        await _score(page, first, [9, 8, 7, 8, 9])
        # Each tap is kept on the phone at once and sent as a draft a moment later, with no button pressed.
        await expect(_badge(page, first)).to_have_text(
            re.compile("^(Draft saved on this phone — not synced|Draft — synced)$"))
        await expect(_badge(page, first)).to_have_text("Draft — synced")
        assert await _sheets(server, cid, judge_id) == {first: "draft"}
        await assert_fits_width(page)
        await screenshot(page, "judging-scoring-page", "phone")
        await page.get_by_role("button", name="Submit scores").click()
        # The script moves on to the next entrant and sends the scores in the background.
        await expect(page.get_by_role("heading", level=1)).to_have_text("Lozells Bike Co-op")
        await expect(page).to_have_url(re.compile(rf"/judging/{cid}/entrants/{second}$"))
        await expect(_badge(page, first)).to_have_text("Submitted — synced")
        await _score(page, second, [6, 7, 6, 6, 7])
        await page.get_by_role("button", name="Submit scores").click()
        await expect(_badge(page, second)).to_have_text("Submitted — synced")
        # The third pitch has not started: the form waits for it.
        await expect(page.get_by_role("heading", level=1)).to_have_text("Bangla Tutors CIC")
        await expect(page.get_by_text("Scoring opens when the pitch starts")).to_be_visible()
        await expect(page.locator("#judge-app fieldset.criterion input").first).to_be_disabled()
        assert await _sheets(server, cid, judge_id) == {first: "submitted", second: "submitted"}

        # The pitch starts, and the venue Wi-Fi drops before the phone hears about it.
        await _host(organiser, cid, "Next entrant")
        await _host(organiser, cid, "Start pitch")
        await judge_context.set_offline(True)
        await expect(page.locator("#net")).to_be_visible()
        await expect(page.get_by_text("Offline: if the pitch has started, score now")).to_be_visible()
        # Moving between entrants works offline.
        await page.locator(".judging-list").get_by_role("link", name=re.compile("^Handsworth Community Pantry")).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Handsworth Community Pantry")
        await expect(page.get_by_text("your scores are locked")).to_be_visible()
        await page.locator(".judging-list").get_by_role("link", name=re.compile("^Bangla Tutors CIC")).click()
        await _score(page, third, [7, 7, 8, 6, 8])
        await page.get_by_label("Feedback for the entrant (optional)").fill("Clear plan for year one.")
        await page.get_by_role("button", name="Submit scores").click()
        await expect(_badge(page, third)).to_have_text("Submitted, saved on this phone — not synced")
        stored = await page.evaluate(f"localStorage.getItem('denhub:judge:{judge_id}:{cid}:{third}')")
        assert json.loads(stored)["action"] == "submit"
        await page.locator(".judging-list").get_by_role("link", name=re.compile("^Bangla Tutors CIC")).click()
        await screenshot(page, "judging-scoring-offline", "phone")
        assert await _sheets(server, cid, judge_id) == {first: "submitted", second: "submitted"}

        # Back online: the phone sends what it kept, by itself.
        await judge_context.set_offline(False)
        await expect(_badge(page, third)).to_have_text("Submitted — synced", timeout=20_000)
        await expect(page.locator("#net")).to_be_hidden()
        assert await page.evaluate(f"localStorage.getItem('denhub:judge:{judge_id}:{cid}:{third}')") is None
        assert await _sheets(server, cid, judge_id) == {first: "submitted", second: "submitted", third: "submitted"}

        await organiser.goto(f"/organiser/competitions/{cid}/live")
        await expect(organiser.locator(".live-summary")).to_contain_text("3 of 5 sheets submitted")
        await expect(organiser.locator("td.cell-submitted")).to_have_count(3)
    finally:
        await judge_context.close()
        await organiser_context.close()
    assert not _real(problems), problems.items


# --- 2. the demo pitch night, as a new organiser runs it --------------------------------------------

DEMO_NAME = judging_demo.COMPETITION_NAME
EVENT_TITLE = "Dragons’ Den pitch night: social entrepreneurs"
PANTRY, BIKES, TUTORS, REPAIR, STITCH = (enterprise for _, enterprise, _, _ in judging_demo.ENTRANTS)
NIA, BILAL, GRACE = (name for _, name, _ in judging_demo.JUDGES)
BILAL_EMAIL = judging_demo.JUDGES[1][0]
POLL_MS = 15_000  # a waiting judge's phone asks this often whether the pitch has started (static/js/judge.js)


def _flat(mark: int) -> list[int]:
    return [mark] * 5


def _social(mark: int) -> list[int]:
    """The same weighted total as _flat(mark) (weights 30/25/15/15/15), one more on social impact."""
    return [mark + 1, mark, mark - 1, mark - 1, mark]


# Each judge's marks per criterion (social impact, viability, innovation, team, pitch; 1 to 10). Nia marks
# generously and declares a conflict with Stitch Together; Bilal and Grace mark strictly. So Stitch
# Together, which only the strict judges score, is only 4th on the raw mean but 1st once each judge's marks
# are normalised. The Bike Kitchen and Bangla Tutors get equal totals from every judge: the first tie-break
# rule (the higher mean social-impact score) puts the Bike Kitchen first in both rankings.
NIGHT = {
    NIA: {PANTRY: _flat(9), BIKES: _social(8), TUTORS: _flat(8), REPAIR: _flat(7), STITCH: None},
    BILAL: {PANTRY: _flat(5), BIKES: _social(6), TUTORS: _flat(6), REPAIR: _flat(3), STITCH: _flat(6)},
    GRACE: {PANTRY: _flat(6), BIKES: _social(5), TUTORS: _flat(5), REPAIR: _flat(4), STITCH: _flat(6)},
}
# Worked out by hand from NIGHT and the votes cast below (Aston 2, the Pantry 1, Bangla Tutors 1), with the
# audience share at 20 %. Per row: place, entrant, raw mean, raw-mean place, normalised score (mean z),
# normalised place, audience votes, combined (80 % raw mean + 20 % of votes as a share of the most votes).
# Raw means: Pantry (88.9+44.4+55.6)/3 = 63.0; Bike Kitchen and Tutors (77.8+55.6+44.4)/3 = 59.3; Stitch
# (55.6+55.6)/2 = 55.6; Aston (66.7+22.2+33.3)/3 = 40.7.
RESULTS_TABLE = [
    ["1", PANTRY, "63.0", "1", "+0.77", "2", "1", "60.4"],
    ["2", TUTORS, "59.3", "3", "+0.14", "4", "1", "57.4"],
    ["3", REPAIR, "40.7", "5", "-1.63", "5", "2", "52.6"],
    ["4", BIKES, "59.3", "2", "+0.14", "3", "0", "47.4"],
    ["5", STITCH, "55.6", "4", "+0.88", "1", "0", "44.4"],
]
# Kendall's W over the four entrants all three judges scored. Ranks (ties averaged), worst = 1:
# Nia Aston 1, Bike/Tutors 2.5, Pantry 4; Bilal Aston 1, Pantry 2, Bike/Tutors 3.5; Grace Aston 1,
# Bike/Tutors 2.5, Pantry 4. Rank sums 3, 8.5, 8.5, 10: S = 28.5, and with a tied pair per judge
# W = 12 S / (3² (4³ - 4) - 3 (6 + 6 + 6)) = 342 / 486 = 0.70.
KENDALL = "W = 0.70, very strong: the judges ranked the entrants in nearly the same order."
SEPARATED = f"Separated by higher mean “Social impact” score: {BIKES}, then {TUTORS}."


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _said(page, text: str):
    """A flash message (role status) containing `text`."""
    return page.get_by_role("status").filter(has_text=text)


async def _context(browser, server: Server, problems: PageProblems, device: str):
    context = await browser.new_context(base_url=server.url, locale="en-GB", timezone_id="Europe/London",
                                        **DEVICES[device])
    context.set_default_timeout(10_000)
    context.on("page", problems.watch)
    return context


def _subnav(page, label: str):
    """A link in the organiser's navigation for this competition."""
    return page.get_by_role("navigation", name="This competition").get_by_role("link", name=label, exact=True)


async def _shown_link(page, name: str) -> str:
    """The one-time sign-in link the judges page shows after an invitation or "New sign-in link"."""
    box = page.get_by_role("region", name=f"Sign-in link for {name}")
    await expect(box).to_be_visible()
    return await box.get_by_label("Sign-in link", exact=True).input_value()


async def _host_press(page, button: str, said: str) -> None:
    """Press a button on the host screen; it reloads, saying what happened."""
    await page.wait_for_load_state("load")  # pressing before its deferred script loads cancels the download
    # It reloads at the same address: wait for the new page's load event, its deferred script included.
    async with page.expect_navigation(wait_until="load"):
        await page.get_by_role("button", name=button).click()
    await expect(page.locator(".host-flash").filter(has_text=said)).to_be_visible()


async def _judge_opens_link(context, link: str, name: str):
    page = await context.new_page()
    await page.goto(link)
    await page.get_by_role("button", name=f"Sign in as {name}").tap()
    await expect(page.get_by_role("status").filter(has_text=f"Signed in as {name}")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_NAME)
    await page.get_by_role("link", name=f"Score: {PANTRY}").tap()
    await expect(page.get_by_role("heading", level=1)).to_have_text(PANTRY)
    return page


async def _judge_taps_and_submits(page, enterprise: str, marks: list[int], *, shot: str | None = None):
    """On the judge's phone, waiting on this entrant: the form opens by itself once the pitch has started
    (the phone's clock is moved on to its next question, not waited for); one tap per criterion, then
    "Submit scores"."""
    await expect(page.get_by_role("heading", level=1)).to_have_text(enterprise)
    fieldsets = page.locator("#judge-app fieldset.criterion")
    await expect(fieldsets).to_have_count(len(marks))
    await page.clock.run_for(POLL_MS)
    await expect(fieldsets.first.locator("input").first).to_be_enabled()
    for i, mark in enumerate(marks):
        await fieldsets.nth(i).locator(f'label[for$="-{mark}"]').tap()
        await expect(fieldsets.nth(i).locator("input:checked")).to_have_value(str(mark))
    entrant_id = int(page.url.rsplit("/", 1)[1])
    if shot:
        await assert_fits_width(page)
        await screenshot(page, shot, "phone")
    await page.get_by_role("button", name="Submit scores").tap()
    await expect(_badge(page, entrant_id)).to_have_text("Submitted — synced")


async def _vote_on_the_vote_page(context, vote_url: str, ticket: str, enterprise: str, *, shot: str = ""):
    page = await context.new_page()
    await page.goto(vote_url)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"People’s choice: {DEMO_NAME}")
    await page.get_by_label("Your ticket code").fill(ticket)
    await page.get_by_label(re.compile(f"^{re.escape(enterprise)}")).check()
    if shot:
        await assert_fits_width(page)
        await screenshot(page, shot, "phone")
    await page.get_by_role("button", name="Cast my vote").tap()
    return page


async def _ballot(context, ticket_url: str):
    page = await context.new_page()
    await page.goto(ticket_url)
    return page, page.get_by_role("region", name=f"People’s choice: {DEMO_NAME}")


async def test_the_demo_pitch_night_three_phone_judges_a_conflict_the_audience_vote_and_released_results(
        browser, server, demo_login, mailbox):
    problems = PageProblems()
    organiser_context = await _context(browser, server, problems, "desktop")
    contexts = [organiser_context]
    try:
        # The organiser opens the demo's competition and gives the audience vote a 20 % share.
        organiser = await organiser_context.new_page()
        await organiser_sign_in(organiser, demo_login)
        await organiser.get_by_role("link", name="Competitions", exact=True).click()
        await organiser.get_by_role("link", name=DEMO_NAME, exact=True).click()
        await expect(organiser.get_by_role("heading", level=1)).to_have_text(DEMO_NAME)
        cid = int(re.search(r"/organiser/competitions/(\d+)$", organiser.url)[1])
        event_href = await organiser.locator(".subnav p a").nth(1).get_attribute("href")
        event_id = int(re.search(r"/organiser/events/(\d+)/", event_href)[1])
        await organiser.get_by_label("Audience share of the combined result, in per cent").fill("20")
        await organiser.get_by_role("button", name="Save settings").click()
        await expect(organiser.get_by_role("status").filter(has_text="Settings saved.")).to_be_visible()

        # The demo's panel: Bilal is invited from the form (his link comes by email), Nia and Grace get a
        # fresh link each from the page.
        await _subnav(organiser, "Judges").click()
        await expect(organiser.get_by_role("heading", name="The panel (3)")).to_be_visible()
        await organiser.get_by_label("Name", exact=True).fill(BILAL)
        await organiser.get_by_label("Email", exact=True).fill(BILAL_EMAIL)
        await organiser.get_by_role("button", name="Invite and email the link").click()
        shown_to_bilal = await _shown_link(organiser, BILAL)
        email = await mailbox.wait_for(lambda m: m["To"] == BILAL_EMAIL and DEMO_NAME in m["Subject"])
        body = email.get_body(preferencelist=("plain",)).get_content()
        emailed = re.findall(r"http\S+/judging/magic/[\w-]+", body)
        assert emailed == [shown_to_bilal], (emailed, shown_to_bilal)
        links = {BILAL: emailed[0]}
        for name in (NIA, GRACE):
            await organiser.get_by_role("button", name=f"New sign-in link for {name}").click()
            links[name] = await _shown_link(organiser, name)
        await expect(organiser.get_by_role("heading", name="The panel (3)")).to_be_visible()

        # Five friends book free audience tickets on a phone, from the listing.
        booker_context = await _context(browser, server, problems, "phone")
        contexts.append(booker_context)
        booker = await booker_context.new_page()
        await booker.goto("/")
        await booker.get_by_role("link", name=EVENT_TITLE, exact=True).tap()
        tickets_panel = booker.get_by_role("region", name="Tickets")
        await tickets_panel.get_by_label("How many Audience tickets", exact=True).select_option("5")
        await tickets_panel.get_by_role("button", name="Continue to booking").tap()
        friends = ["Shazia Akhtar", "Winston Brown", "Kasia Lewandowska", "Musa Diallo", "Chloe Evans"]
        for n, friend in enumerate(friends, start=1):
            await booker.get_by_label(re.compile(rf"^Ticket {n}: Audience")).fill(friend)
        await booker.get_by_label("Email", exact=True).fill(f"audience.{uuid.uuid4().hex[:8]}@example.org")
        await booker.get_by_role("checkbox", name=re.compile("^I agree that the organisers keep")).check()
        await booker.get_by_role("button", name="Book free tickets").tap()
        await expect(booker.get_by_role("status").filter(has_text="You are booked")).to_be_visible()
        ticket_urls = [server.url + await booker.get_by_role("link", name=f"Show ticket and QR code for {f}")
                       .get_attribute("href") for f in friends]
        codes = [url.rsplit("/", 1)[1] for url in ticket_urls]

        # The big screen (a desktop browser on the projector): the vote opens at the start of the night.
        await _subnav(organiser, "Host screen").click()
        await expect(organiser.get_by_role("heading", level=1)).to_have_text(DEMO_NAME)
        await _host_press(organiser, "Open the audience vote", "The audience vote is open.")
        await expect(organiser.get_by_role("heading", name="People’s choice: vote now")).to_be_visible()
        await expect(organiser.locator(".host-vote svg")).to_be_visible()
        vote_url = await organiser.locator(".host-url").inner_text()
        assert vote_url == f"{server.url}/judging/vote/{cid}"

        # At the door, the organiser's scanner admits four of the five; Chloe has not arrived.
        door = await organiser_context.new_page()
        await door.goto(f"/organiser/events/{event_id}/door")
        await door.get_by_role("link", name="Open the scanner").click()
        await expect(door.locator("#net-status")).to_contain_text("kept for offline use")
        for code in codes[:4]:
            await type_scan(door, code)
            await expect_verdict(door, "Admitted", css="admitted")
        await door.close()

        # The three judges open their links on their own phones and wait on the first entrant.
        panel = {}
        for name in (NIA, BILAL, GRACE):
            context = await _context(browser, server, problems, "phone")
            contexts.append(context)
            await context.clock.install()  # Playwright's: the normal pace until the test moves it on
            panel[name] = await _judge_opens_link(context, links[name], name)
        await expect(panel[NIA].get_by_text("Scoring opens when the pitch starts: this form opens by itself.")
                     ).to_be_visible()
        await expect(panel[NIA].locator("#judge-app fieldset.criterion input").first).to_be_disabled()

        # The night: each entrant comes up on the big screen, pitches, and the judges score them.
        for n, enterprise in enumerate((PANTRY, BIKES, TUTORS, REPAIR, STITCH), start=1):
            await _host_press(organiser, f"Next entrant: {enterprise}", f"{enterprise} is up.")
            await expect(organiser.get_by_role("heading", level=1)).to_have_text(enterprise)
            await _host_press(organiser, "Start pitch", f"{enterprise}’s pitch has started")
            await expect(organiser.locator("#countdown")).to_have_text(re.compile(r"^[0-5]:\d\d$"))
            await expect(organiser.get_by_text(f"Pitch {n} of 5")).to_be_visible()
            for name, page in panel.items():
                marks = NIGHT[name][enterprise]
                if marks is None:  # Nia mentors Stitch Together's founder: she steps back, on her phone
                    await expect(page.get_by_role("heading", level=1)).to_have_text(enterprise)
                    await page.get_by_role("link", name="Declare a conflict of interest").tap()
                    await page.get_by_label("Why").fill("I mentor the founder")
                    await page.get_by_role("button", name="Declare conflict").tap()
                    await expect(_said(page, "Conflict declared")).to_be_visible()
                    continue
                shot = "judging-night-scoring" if (name, enterprise) == (GRACE, BIKES) else None
                await _judge_taps_and_submits(page, enterprise, marks, shot=shot)
        await screenshot(organiser, "judging-night-host-screen", "desktop")

        nia = panel[NIA]
        await expect(nia.get_by_text("You have submitted every sheet. Thank you!")).to_be_visible()
        await expect(nia.locator(".judging-list li").filter(has_text=STITCH)).to_contain_text(
            "Conflict declared")

        # The audience votes, each on their own phone.
        async def phone():
            context = await _context(browser, server, problems, "phone")
            contexts.append(context)
            return context

        shazia = await _vote_on_the_vote_page(await phone(), vote_url, codes[0], REPAIR,
                                              shot="judging-night-vote")
        await expect(_said(shazia, f"your vote for {REPAIR} is in")).to_be_visible()
        await expect(shazia.get_by_role("heading", level=1)).to_have_text("Thank you for voting")
        winston, ballot = await _ballot(await phone(), ticket_urls[1])
        await ballot.get_by_label(re.compile(f"^{re.escape(REPAIR)}")).check()
        await ballot.get_by_role("button", name="Cast my vote").tap()
        await expect(ballot).to_contain_text(f"You voted for {REPAIR}")
        # Kasia pastes her ticket's address instead of the code.
        kasia = await _vote_on_the_vote_page(await phone(), vote_url, ticket_urls[2], PANTRY)
        await expect(_said(kasia, f"your vote for {PANTRY} is in")).to_be_visible()
        _, ballot = await _ballot(await phone(), ticket_urls[3])
        await ballot.get_by_label(re.compile(f"^{re.escape(TUTORS)}")).check()
        await ballot.get_by_role("button", name="Cast my vote").tap()
        await expect(ballot).to_contain_text(f"You voted for {TUTORS}")
        # Winston tries again from the public page: refused, and told why.
        again = await _vote_on_the_vote_page(winston.context, vote_url, codes[1], PANTRY)
        await expect(again.get_by_role("alert")).to_contain_text(
            f"This ticket has already voted (for {REPAIR}")
        # Chloe was not checked in: her ticket page says so instead of a ballot, and so does the vote page.
        chloe_context = await phone()
        _, ballot = await _ballot(chloe_context, ticket_urls[4])
        await expect(ballot).to_contain_text("Only tickets checked in at the door can vote.")
        await expect(ballot.get_by_role("button", name="Cast my vote")).to_have_count(0)
        refused = await _vote_on_the_vote_page(chloe_context, vote_url, codes[4], STITCH)
        await expect(refused.get_by_role("alert")).to_contain_text(
            "Only tickets checked in at the door can vote.")

        # The big screen counts the votes by itself.
        await expect(organiser.locator("#votes-total")).to_have_text("4", timeout=15_000)
        tally = {_words(t) for t in await organiser.locator(".host-tally li").all_inner_texts()}
        assert {f"{REPAIR} 2", f"{PANTRY} 1", f"{TUTORS} 1", f"{BIKES} 0", f"{STITCH} 0"} == tally, tally
        await assert_fits_width(organiser)

        # Every sheet is in; the preview names the judge who stepped back (the public page will not).
        await organiser.get_by_role("link", name="Live scoring").click()
        await expect(organiser.locator(".live-summary")).to_contain_text("14 of 14 sheets submitted")
        await organiser.goto(f"/organiser/competitions/{cid}/results")
        await expect(organiser.get_by_text(f"{NIA} declared a conflict of interest with {STITCH}")
                     ).to_be_visible()
        await organiser.get_by_label("I understand released results cannot be changed").check()
        await organiser.get_by_role("button", name="Release results").click()
        await expect(organiser.get_by_role("status").filter(has_text="Results released")).to_be_visible()

        # The public results page, on a phone, signed in as nobody.
        results = await (await phone()).new_page()
        await results.goto(f"/judging/results/{cid}")
        await expect(results.get_by_role("heading", level=1)).to_have_text(f"Results: {DEMO_NAME}")
        rows = await results.locator(".results-table tbody tr").evaluate_all(
            """rows => rows.map(r => [...r.cells].map(
                   c => c.querySelector('strong') ? c.querySelector('strong').innerText : c.innerText))""")
        table = [[cell.split("\n")[0].strip() for cell in row[:8]] for row in rows]
        assert table == RESULTS_TABLE, table
        judges_column = await results.locator(".results-table tbody td:last-child").all_inner_texts()
        assert [_words(c) for c in judges_column] == ["3", "3", "3", "3", "2 1 recused"], judges_column
        text = _words(await results.locator("main").inner_text())
        for phrase in [
            "Raw-mean place", "Normalised place", "Combined",
            f"Normalised ranking: {BIKES} and {TUTORS} tied on 0.14. {SEPARATED}",
            f"Raw-mean ranking: {BIKES} and {TUTORS} tied on 59.3. {SEPARATED}",
            f"Kendall’s W: {KENDALL}",
            "Worked out over the 4 entrants scored by all 3 judges who submitted.",
            f"Left out of W: {STITCH} (a judge recused).",
            f"A judge declared a conflict of interest with {STITCH} and did not score them.",
            "the vote counts for 20 % of the combined result. Voting is closed. 4 votes cast.",
        ]:
            assert phrase in text, f"{phrase!r} not in the results page:\n{text}"
        peoples = [_words(t) for t in await results.locator(".peoples-choice .tally li").all_inner_texts()]
        assert peoples[0] == f"{REPAIR} 2 votes" and set(peoples[1:]) == {
            f"{PANTRY} 1 vote", f"{TUTORS} 1 vote", f"{BIKES} 0 votes", f"{STITCH} 0 votes"}, peoples
        for name in (NIA, BILAL, GRACE):  # judges' names and totals stay with the organisers
            assert name not in text
        await assert_fits_width(results)
        await screenshot(results, "judging-night-results", "phone")

        # The judges' phones say the night is over and where the results are.
        await nia.goto(f"/judging/{cid}")
        await expect(nia.get_by_text("Scoring has closed.")).to_be_visible()
        await nia.get_by_role("link", name="See the results").tap()
        await expect(nia.get_by_role("heading", level=1)).to_have_text(f"Results: {DEMO_NAME}")

        db = Database(server.database_url)
        try:
            async with db.read() as session:
                competition = await session.get(Competition, cid)
                assert competition.released and not competition.voting_open
                assert competition.audience_weight_percent == 20
                assert await session.scalar(select(func.count(ScoreSheet.id)).where(
                    ScoreSheet.competition_id == cid, ScoreSheet.status == "submitted")) == 14
        finally:
            await db.dispose()
    finally:
        for context in contexts:
            await context.close()
    assert not _real(problems), problems.items

