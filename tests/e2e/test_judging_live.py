"""The organiser's live view in a browser: the provisional ranking follows the judges' saves without a reload.

A competition of its own on the demo pitch night, made directly in the e2e server's database, with scores
saved there as a judge's phone would; the organiser watches the live view on a phone. Screenshots of the
live view (phone and desktop) go to tests/artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from events.models import Event
from judging import demo as judging_demo
from judging.models import Competition
from kernel.db import Database
from tests.e2e.conftest import DEVICES, PageProblems, Server, assert_fits_width, screenshot
from tests.e2e.test_organiser import sign_in as organiser_sign_in
from tests.judging.factories import make_competition, make_entrant, make_judge, score

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

NAMES = ("Aston Repair Café", "Lozells Bike Co-op", "Bangla Tutors CIC")


async def _write(server: Server, work):
    db = Database(server.database_url)
    try:
        async with db.write() as session:
            return await work(session)
    finally:
        await db.dispose()


async def next_refresh(page) -> None:
    """Move the page's clock on to its next refresh (every 5 s) and wait until the fetched table is in."""
    await page.locator("#live-table > *").first.evaluate("element => element.dataset.beforeRefresh = 'yes'")
    async with page.expect_response(lambda response: "live?fragment=1" in response.url):
        await page.clock.run_for(5_000)
    await expect(page.locator("#live-table [data-before-refresh]")).to_have_count(0)


async def test_the_provisional_ranking_updates_without_a_reload(browser, server, demo_login):
    async def night(session):
        event = await session.scalar(select(Event).where(Event.slug == judging_demo.DEMO_EVENT_SLUG))
        competition = await make_competition(session, event=event)
        entrants = [await make_entrant(session, competition, enterprise=name) for name in NAMES]
        first = await make_judge(session, competition, name="Judge First")
        second = await make_judge(session, competition, name="Judge Second")
        # Marks 1..10 on every criterion. Raw means: Repair Café 44.4, Bike Co-op 55.6, Tutors 16.7.
        for entrant, mark in zip(entrants, (5, 8, 2), strict=True):
            await score(session, competition, first, entrant, mark)
        await score(session, competition, second, entrants[1], 4)
        await score(session, competition, second, entrants[2], 3)
        return competition.id, entrants[0].id, second.id

    cid, cafe_id, second_id = await _write(server, night)
    problems = PageProblems()
    context = await browser.new_context(base_url=server.url, locale="en-GB", timezone_id="Europe/London",
                                        **DEVICES["phone"])
    context.set_default_timeout(10_000)
    context.on("page", problems.watch)
    try:
        page = await context.new_page()
        # The page's clock is Playwright's: it keeps the normal pace until the test moves it on.
        await page.clock.install()
        await organiser_sign_in(page, demo_login)
        await page.goto(f"/organiser/competitions/{cid}/live")
        await expect(page.get_by_role("heading", name="Provisional ranking")).to_be_visible()
        rows = page.locator(".live-ranking .results-table tbody th strong")
        await expect(rows).to_have_text([NAMES[1], NAMES[0], NAMES[2]])
        await expect(page.locator(".live-ranking .results-table .place")).to_have_text(["1", "2", "3"])
        await assert_fits_width(page)
        await page.evaluate("window.notReloaded = true")
        # the table is not read out every 5 s; a short status says when the count of sheets changes
        assert await page.locator("#live-table").get_attribute("aria-live") is None
        await expect(page.locator("#live-status")).to_have_attribute("aria-live", "polite")
        await next_refresh(page)  # a refresh with nothing new
        await expect(page.locator("#live-status")).to_have_text("")

        async def full_marks(session):
            from judging.models import Entrant
            from kernel.accounts import User

            await score(session, await session.get(Competition, cid), await session.get(User, second_id),
                        await session.get(Entrant, cafe_id), 10)

        await _write(server, full_marks)  # raw mean 72.2: the Repair Café now leads
        await next_refresh(page)
        await expect(rows).to_have_text([NAMES[0], NAMES[1], NAMES[2]])
        await expect(page.locator(".live-ranking")).to_contain_text("72.2")
        await expect(page.locator("#live-status")).to_have_text(re.compile(r"^Updated: 6 of 6 sheets submitted"))
        assert await page.evaluate("window.notReloaded === true"), "the page reloaded"
        await screenshot(page, "judging-live-ranking", "phone")
        await page.set_viewport_size(DEVICES["desktop"]["viewport"])
        await assert_fits_width(page)
        await screenshot(page, "judging-live-ranking", "desktop")
    finally:
        await context.close()
    # The page's poll can be cut short when the context closes.
    real = [p for p in problems.items if not (p.endswith("net::ERR_ABORTED") and "live?fragment=1" in p)]
    assert not real, real
