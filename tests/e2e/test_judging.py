"""Pitch judging in a browser on a phone, as the issue's "Done when" says.

1. A judge signs in by magic link, scores two entrants, loses the network, scores a third (kept on the
   phone: "saved on this phone — not synced"), gets the network back, the scores sync by themselves, and
   the organiser's live view shows all three submitted.
2. Three judges score five entrants (one declares a conflict), the audience votes with checked-in tickets
   (the public vote page from the big screen's QR, and a ticket's own page), the organiser releases the
   results, and the results page shows both rankings, the tie-break used, Kendall's W and the audience vote.

The competitions, judges and tickets are made directly in the e2e server's database (denhub.db.Database at
its DENHUB_DATABASE_URL); the judges' own sign-in, scoring, the host screen, voting and the release go
through the browser, and the two other judges score over HTTP with the same JSON the phone script sends.
Screenshots of the scoring page, host screen, vote page and results go to tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import func, select

from denhub import demo
from denhub.accounts import Role, create_user
from denhub.db import Database
from events.models import Event
from judging import judges, services
from judging.models import Competition, JudgeAssignment, ScoreSheet
from tests.conftest import csrf_from
from tests.e2e.conftest import DEVICES, PageProblems, Server, assert_fits_width, screenshot
from tests.e2e.test_organiser import sign_in as organiser_sign_in
from tests.judging.factories import make_tickets

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DRAGONS_SLUG = next(s["slug"] for s in demo.programme(dt.datetime.now(dt.UTC)) if s["slug"].startswith("dragons-den"))
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
    ticket_codes: list[str]


async def _night(server: Server, *, judges_count: int, weight: int = 0, tickets: int = 0) -> Night:
    """A competition on the demo pitch night: five entrants waiting for their pitch, judges with one-time
    sign-in links, and checked-in tickets of the event."""
    db = Database(server.database_url)
    suffix = uuid.uuid4().hex[:6]
    try:
        async with db.write() as session:
            event_id = await session.scalar(select(Event.id).where(Event.slug == DRAGONS_SLUG))
            competition = await services.create_competition(session=session, event_id=event_id,
                                                            name=f"Phone night {suffix}", actor_id=None)
            competition.audience_weight_percent = weight
            entrant_ids = []
            for enterprise, name, pitch in ENTRANTS:
                entrant = await services.add_entrant(session=session, competition=competition, actor_id=None,
                                                     data=services.EntrantInput(
                                                         name=name, enterprise=enterprise, pitch=pitch,
                                                         social_mission=f"{pitch} Run in Birmingham.",
                                                         contact_email=f"{suffix}.{len(entrant_ids)}@example.org"))
                entrant_ids.append(entrant.id)
            panel = []
            for n, name in enumerate(["Judge Nia", "Judge Bilal", "Judge Grace"][:judges_count]):
                user = await create_user(session=session, email=f"judge.{suffix}.{n}@example.org", name=name,
                                         role=Role.JUDGE, password=secrets.token_urlsafe(16))
                session.add(JudgeAssignment(competition_id=competition.id, user_id=user.id, is_chair=n == 0))
                token, _ = await judges.new_magic_link(session=session, user=user, competition=competition,
                                                       base_url=server.url)
                panel.append((name, token, user.id))
            codes = [t.code for t in await make_tickets(session, event_id, tickets)] if tickets else []
            return Night(competition.id, entrant_ids, panel, codes)
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
        await page.get_by_role("link", name=re.compile("^Score: Handsworth Community Pantry")).click()
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
        await page.get_by_label("Comment (optional, only the organisers see it)").fill("Clear plan for year one.")
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


# --- 2. the whole night -----------------------------------------------------------------------------

# Marks per criterion (social impact 30, viability 25, innovation 15, team 15, pitch 15). Bike Co-op and
# Bangla Tutors get equal totals from every judge (66.7), but the Co-op scores higher on social impact:
# the declared tie-break (criterion:social_impact first) separates them in both rankings.
MARKS = {  # entrant index -> marks from Nia (the phone), Bilal, Grace; None: Nia declared a conflict
    0: ([9] * 5, [9] * 5, [6] * 5),
    1: ([8, 7, 6, 6, 7], [8, 7, 6, 6, 7], [8, 7, 6, 6, 7]),
    2: ([7] * 5, [7] * 5, [7] * 5),
    3: ([5] * 5, [4] * 5, [6] * 5),
    4: (None, [3] * 5, [4] * 5),
}


async def _judge_over_http(server: Server, night: Night, index: int) -> None:
    """A judge signs in with their link and scores every entrant with the JSON the phone script sends."""
    _, token, _ = night.judges[index]
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        confirm = await client.get(f"/judging/magic/{token}")
        signed_in = await client.post(f"/judging/magic/{token}", data={"csrf_token": csrf_from(confirm.text)})
        assert signed_in.status_code == 303, signed_in.text[:500]
        page = await client.get(f"/judging/{night.competition_id}/entrants/{night.entrant_ids[0]}")
        data = json.loads(re.search(r'id="judge-data">(.*?)</script>', page.text, re.DOTALL).group(1))
        for i, entrant_id in enumerate(night.entrant_ids):
            values = {str(c["id"]): mark for c, mark in zip(data["criteria"], MARKS[i][index], strict=True)}
            response = await client.post(
                f"/judging/{night.competition_id}/entrants/{entrant_id}",
                content=json.dumps({"values": values, "comment": "", "action": "submit"}),
                headers={"Content-Type": "application/json", "X-CSRF-Token": data["csrf"]})
            assert response.status_code == 200 and response.json()["status"] == "submitted", response.text


async def test_three_judges_a_conflict_the_audience_vote_and_released_results(browser, server, demo_login):
    night = await _night(server, judges_count=3, weight=20, tickets=4)
    cid, ids = night.competition_id, night.entrant_ids
    problems = PageProblems()
    contexts = [await _phone(browser, server, problems) for _ in range(3)]
    organiser_context, judge_context, audience_context = contexts
    try:
        organiser = await organiser_context.new_page()
        await organiser_sign_in(organiser, demo_login)
        await _host(organiser, cid, "Open the audience vote")
        await expect(organiser.get_by_role("heading", name="People’s choice: vote now")).to_be_visible()
        await expect(organiser.locator(".host-vote svg")).to_be_visible()
        for _ in ENTRANTS:
            await _host(organiser, cid, "Next entrant")
            await _host(organiser, cid, "Start pitch")
        await assert_fits_width(organiser)
        await screenshot(organiser, "judging-host-screen-vote", "phone")
        await organiser.set_viewport_size({"width": 1280, "height": 720})  # the projector
        await assert_fits_width(organiser)
        await screenshot(organiser, "judging-host-screen-big", "desktop")
        await organiser.set_viewport_size(DEVICES["phone"]["viewport"])

        # Nia scores on her phone and steps back from Stitch Together (she mentors its founder).
        name, token, nia = night.judges[0]
        page = await _judge_signs_in(judge_context, name, token, cid)
        await page.get_by_role("link", name=re.compile("^Score: Handsworth Community Pantry")).click()
        for i, entrant_id in enumerate(ids[:4]):
            await expect(page.get_by_role("heading", level=1)).to_have_text(ENTRANTS[i][0])
            await _score(page, entrant_id, MARKS[i][0])
            await page.get_by_role("button", name="Submit scores").click()
            await expect(_badge(page, entrant_id)).to_have_text("Submitted — synced")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Stitch Together")
        await page.get_by_role("link", name="Declare a conflict of interest").click()
        await page.get_by_label("Why").fill("I mentor the founder")
        await page.get_by_role("button", name="Declare conflict").click()
        await expect(page.get_by_role("status").filter(has_text="Conflict declared")).to_be_visible()
        assert len(await _sheets(server, cid, nia)) == 4

        # Bilal and Grace score over HTTP, as their phones' script would.
        await _judge_over_http(server, night, 1)
        await _judge_over_http(server, night, 2)

        # The audience: two votes in the browser (the big screen's QR page, and a ticket's own page).
        voter = await audience_context.new_page()
        await voter.goto(f"/judging/vote/{cid}")
        await voter.get_by_label("Your ticket code").fill(night.ticket_codes[0])
        await voter.get_by_label(re.compile("^Aston Repair Café")).check()
        await assert_fits_width(voter)
        await screenshot(voter, "judging-vote-page", "phone")
        await voter.get_by_role("button", name="Cast my vote").click()
        await expect(voter.get_by_role("status").filter(has_text="your vote for Aston Repair Café is in")).to_be_visible()
        await voter.goto(f"/tickets/{night.ticket_codes[1]}")
        await voter.get_by_label(re.compile("^Aston Repair Café")).check()
        await screenshot(voter, "judging-ticket-vote", "phone")
        await voter.get_by_role("button", name="Cast my vote").click()
        await expect(voter.get_by_text("You voted for Aston Repair Café")).to_be_visible()
        # The same ticket again, from the public page: refused, and said why.
        await voter.goto(f"/judging/vote/{cid}")
        await voter.get_by_label("Your ticket code").fill(night.ticket_codes[1])
        await voter.get_by_label(re.compile("^Handsworth Community Pantry")).check()
        await voter.get_by_role("button", name="Cast my vote").click()
        await expect(voter.get_by_role("alert")).to_contain_text("This ticket has already voted (for Aston Repair Café")
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            for code, entrant_id in zip(night.ticket_codes[2:], (ids[0], ids[2]), strict=True):
                form = await client.get(f"/judging/vote/{cid}")
                cast = await client.post(f"/judging/vote/{cid}", data={
                    "csrf_token": csrf_from(form.text), "ticket": code, "entrant": str(entrant_id)})
                assert cast.status_code == 303, cast.text[:500]
        await organiser.goto(f"/organiser/competitions/{cid}/host")
        await expect(organiser.locator("#votes-total")).to_have_text("4")

        # The organiser releases the results to everyone.
        await organiser.goto(f"/organiser/competitions/{cid}/results")
        await organiser.get_by_label("I understand released results cannot be changed").check()
        await organiser.get_by_role("button", name="Release results").click()
        await expect(organiser.get_by_role("status").filter(has_text="Results released")).to_be_visible()

        results = await audience_context.new_page()
        await results.goto(f"/judging/results/{cid}")
        text = await results.locator("main").inner_text()
        assert "Raw-mean place" in text and "Normalised place" in text and "Combined" in text
        assert "Separated by higher mean “Social impact” score: Lozells Bike Co-op, then Bangla Tutors CIC." in text
        assert re.search(r"Kendall’s W: W = 0\.\d\d, ", text), text
        assert "Stitch Together (a judge recused)" in text
        assert "A judge declared a conflict of interest with Stitch Together" in text
        assert "People’s choice: the audience vote" in text and "4 votes cast" in text
        assert re.search(r"Aston Repair Café\s+2 votes", text), text
        assert "Judge Bilal" not in text  # judges' names and totals stay with the organisers
        places = await results.locator(".results-table tbody tr").evaluate_all(
            "rows => rows.map(r => [r.cells[0].innerText, r.querySelector('th strong').innerText])")
        assert places[0] == ["1", "Handsworth Community Pantry"] and len(places) == 5
        await assert_fits_width(results)
        await screenshot(results, "judging-results", "phone")
        db = Database(server.database_url)
        try:
            async with db.read() as session:
                competition = await session.get(Competition, cid)
                assert competition.released and not competition.voting_open
                assert await session.scalar(select(func.count(ScoreSheet.id))
                                            .where(ScoreSheet.competition_id == cid)) == 14
        finally:
            await db.dispose()
    finally:
        for context in contexts:
            await context.close()
    assert not _real(problems), problems.items
