"""#16 point 14 in a browser: the judge's phone shows two boxes, each saying who reads it, and what the judge
types in each reaches its own column; the host's "Next entrant" pressed again from a screen that is out of
date moves nothing,
"Back to previous entrant" undoes it, and the judge's main button follows the entrant on stage.

The competition and judge are made directly in the e2e server's database by test_judging.py's _night.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from judging.models import Competition, ScoreSheet
from kernel.db import Database
from tests.e2e.conftest import DEVICES, PageProblems, Server, assert_fits_width, screenshot
from tests.e2e.test_judging import _judge_signs_in, _night, _real, _score
from tests.e2e.test_organiser import sign_in as organiser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ENTRANTS = [
    ("Sparkbrook Sewing Circle", "Nasreen Akhtar", "Sewing classes that grow into a small alterations business."),
    ("Balsall Heath Bakes", "Chidi Okoro", "A community bakery training people back into work."),
    ("Digbeth Darkroom", "Ruth Ellis", "A shared darkroom and photography courses for young people."),
]
FEEDBACK = "A clear, warm pitch: show us the numbers for year two."
NOTE = "Mentioned she rents from one of our trustees."


async def _db_row(server: Server, stmt):
    db = Database(server.database_url)
    try:
        async with db.read() as session:
            return (await session.execute(stmt)).first()
    finally:
        await db.dispose()


async def _up_now(server: Server, competition_id: int) -> int | None:
    return (await _db_row(server, select(Competition.current_entrant_id)
                          .where(Competition.id == competition_id)))[0]


async def _context(browser, server: Server, problems: PageProblems, device: str):
    context = await browser.new_context(base_url=server.url, locale="en-GB", timezone_id="Europe/London",
                                        **DEVICES[device])
    context.set_default_timeout(10_000)
    context.on("page", problems.watch)
    return context


async def test_two_boxes_on_the_phone_and_the_host_moves_once_per_press(browser, server, demo_login):
    night = await _night(server, judges_count=1, entrants=ENTRANTS, open_scoring=True, title="Two boxes")
    cid, (first, second, _third) = night.competition_id, night.entrant_ids
    name, token, judge_id = night.judges[0]
    problems = PageProblems()
    organiser_context = await _context(browser, server, problems, "desktop")
    judge_context = await _context(browser, server, problems, "phone")
    try:
        host = await organiser_context.new_page()
        await organiser_sign_in(host, demo_login)
        await host.goto(f"/organiser/competitions/{cid}/host")
        async with host.expect_navigation(wait_until="load"):
            await host.get_by_role("button", name="Next entrant: Sparkbrook Sewing Circle").click()
        assert await _up_now(server, cid) == first
        # A second screen (another organiser's laptop, or a tab left open) still shows the first entrant up.
        # Chromium sends one POST for a double click (the second lands on a page already leaving), so the
        # stale second press is made from that second screen: the same form, the same entrant on it.
        stale = await organiser_context.new_page()
        await stale.goto(f"/organiser/competitions/{cid}/host")
        await stale.wait_for_load_state("load")
        await host.wait_for_load_state("load")
        async with host.expect_navigation(wait_until="load"):
            await host.get_by_role("button", name="Next entrant: Balsall Heath Bakes").click()
        await expect(host.locator("#host-title")).to_have_text("Balsall Heath Bakes")
        async with stale.expect_navigation(wait_until="load"):
            await stale.get_by_role("button", name="Next entrant: Balsall Heath Bakes").click()
        await expect(stale.locator(".host-flash")).to_have_text(
            "The stage had already moved on, so that press changed nothing: Balsall Heath Bakes is up.")
        await expect(stale.locator("#host-title")).to_have_text("Balsall Heath Bakes")
        assert await _up_now(server, cid) == second
        await expect(stale.get_by_role("button", name="Next entrant: Digbeth Darkroom")).to_be_visible()
        await screenshot(stale, "judging-host-stale-press", "desktop")
        await stale.close()

        # The judge's main button opens the entrant on stage.
        page = await _judge_signs_in(judge_context, name, token, cid)
        await expect(page.locator("#judge-main")).to_have_text("On stage now · Score: Balsall Heath Bakes")

        # The host takes it back: the first entrant is up again, and the judge's button follows.
        async with host.expect_navigation(wait_until="load"):
            await host.get_by_role("button", name="Back to previous entrant: Sparkbrook Sewing Circle").click()
        await expect(host.locator(".host-flash")).to_have_text("Back to Sparkbrook Sewing Circle: they are up again.")
        assert await _up_now(server, cid) == first
        await page.reload()
        await expect(page.locator("#judge-main")).to_have_text("On stage now · Score: Sparkbrook Sewing Circle")
        await page.locator("#judge-main").tap()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Sparkbrook Sewing Circle")

        # Two boxes, each saying who reads it.
        feedback = page.get_by_label("Feedback for the entrant (optional)")
        note = page.get_by_label("Private note for the organisers (optional)")
        await expect(feedback).to_have_accessible_description(
            "The entrant sees this: it is printed in their feedback pack, without your name.")
        await expect(note).to_have_accessible_description(
            "Only the organisers see this. It is never shown or printed for the entrant.")
        await _score(page, first, [8, 7, 7, 8, 9])
        await feedback.fill(FEEDBACK)
        await note.fill(NOTE)
        badge = page.locator(f'.sync-line [data-entrant="{first}"]')
        await expect(badge).to_have_text("Draft — synced", timeout=20_000)
        await assert_fits_width(page)
        await screenshot(page, "judging-score-two-boxes", "phone")
        row = await _db_row(server, select(ScoreSheet.feedback, ScoreSheet.private_note, ScoreSheet.status)
                            .where(ScoreSheet.judge_id == judge_id, ScoreSheet.entrant_id == first))
        assert tuple(row) == (FEEDBACK, NOTE, "draft")
        # Reloaded, the page shows each text back in its own box.
        await page.reload()
        await expect(page.get_by_label("Feedback for the entrant (optional)")).to_have_value(FEEDBACK)
        await expect(page.get_by_label("Private note for the organisers (optional)")).to_have_value(NOTE)
    finally:
        await judge_context.close()
        await organiser_context.close()
    assert not _real(problems), problems.items
