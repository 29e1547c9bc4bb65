"""A judge's phone reloads the scoring page with no network (a discarded tab, a pull to refresh).

The service worker judge.js registers (static/js/judge-sw.js at /judging/sw.js, see judging/score_pages.py)
keeps the scoring page and its assets: offline, the reload opens the kept copy, the judge scores, the entrant
shows "saved on this phone — not synced" (a save is never answered from the cache), and when the network is
back the scores reach the server by themselves. Signing out from the page drops the kept copy.

The competition and judge are made directly in the e2e server's database by test_judging.py's _night.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import DEVICES, PageProblems
from tests.e2e.test_judging import _night, _sheets

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ENTRANTS = [
    ("Soho Road Seed Library", "Priya Sandhu", "Free seeds and growing lessons lent from the library shelf."),
    ("Winson Green Print Shop", "Kwame Mensah", "Screen printing that trains young people leaving care."),
    ("Perry Barr Play Van", "Joanne Price", "A van of toys and play workers for estates with no playground."),
]
CACHE = "denhub-judge"


def _badge(page, entrant_id: int):
    return page.locator(f'.judging-list [data-entrant="{entrant_id}"]')


async def _score(page, entrant_id: int, marks: list[int]) -> None:
    fieldsets = page.locator("#judge-app fieldset.criterion")
    await expect(fieldsets).to_have_count(len(marks))
    for i, mark in enumerate(marks):
        await fieldsets.nth(i).locator(f'label[for^="e{entrant_id}c"][for$="-{mark}"]').click()


def _real(problems: PageProblems) -> list[str]:
    """Browser problems, less the requests this test cuts off on purpose by going offline."""
    return [p for p in problems.items if "ERR_INTERNET_DISCONNECTED" not in p
            and not (p.endswith("net::ERR_ABORTED") and re.search(r"/state\.json ", p))]


async def _cached_paths(page) -> list[str]:
    return await page.evaluate(
        f"""caches.has("{CACHE}").then(has => has ? caches.open("{CACHE}").then(c => c.keys())
              .then(keys => keys.map(k => new URL(k.url).pathname).sort()) : [])""")


async def _wait_for_cached(page, expected: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (found := await _cached_paths(page)) != expected:
        assert time.monotonic() < deadline, f"the worker's cache holds {found}, not {expected}"
        await asyncio.sleep(0.1)


async def test_the_service_worker_script_is_served_for_the_judging_scope(browser, server):
    context = await browser.new_context(base_url=server.url, **DEVICES["phone"])
    try:
        response = await context.request.get("/judging/sw.js")
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["cache-control"] == "no-cache"
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "worker-src" not in csp
        again = await context.request.get("/judging/sw.js", headers={"if-none-match": response.headers["etag"]})
        assert again.status == 304
    finally:
        await context.close()


async def test_a_judge_reloads_the_scoring_page_offline_scores_and_it_syncs_when_back_online(browser, server):
    setup = await _night(server, judges_count=1, entrants=ENTRANTS, open_scoring=True, judge_names=["Judge Ife"],
                         title="Offline night")
    cid, (first, second, _) = setup.competition_id, setup.entrant_ids
    name, token, judge_id = setup.judges[0]
    problems = PageProblems()
    context = await browser.new_context(base_url=server.url, locale="en-GB", timezone_id="Europe/London",
                                        **DEVICES["phone"])
    context.set_default_timeout(10_000)
    context.on("page", problems.watch)
    try:
        page = await context.new_page()
        await page.goto(f"/judging/magic/{token}")
        await page.get_by_role("button", name=f"Sign in as {name}").click()
        await expect(page).to_have_url(re.compile(rf"/judging/{cid}$"))

        # Online: the scoring page registers the worker, which keeps the page and its assets.
        await page.goto(f"/judging/{cid}/entrants/{first}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(ENTRANTS[0][0])
        scope = await page.evaluate("navigator.serviceWorker.ready.then(r => new URL(r.scope).pathname)")
        assert scope == "/judging/"
        await page.wait_for_function("navigator.serviceWorker.controller !== null")
        await _wait_for_cached(page, [f"/judging/{cid}/entrants/", "/static/css/judge.css", "/static/js/judge.js"])
        # The judge moves on (the address changes, no page load): the reload is for an address never loaded.
        await page.locator(".judging-list").get_by_role("link", name=re.compile(f"^{ENTRANTS[1][0]}")).click()
        await expect(page).to_have_url(re.compile(rf"/judging/{cid}/entrants/{second}$"))

        # The Wi-Fi drops and the phone reloads the page: it opens from the worker's cache.
        await context.set_offline(True)
        log_offset = server.log_size()
        response = await page.reload()
        assert response is not None and response.from_service_worker
        await expect(page.get_by_role("heading", level=1)).to_have_text(ENTRANTS[1][0])
        await expect(page.locator("#net")).to_be_visible()
        await expect(_badge(page, second)).to_have_text("Not scored yet")
        await _score(page, second, [8, 7, 9, 6, 8])
        await expect(_badge(page, second)).to_have_text("Draft saved on this phone — not synced")
        # A save is never answered from the cache: offline, a POST fails (and the entrant stays "not synced").
        answer = await page.evaluate(f"""fetch("/judging/{cid}/entrants/{second}", {{method: "POST",
            headers: {{"Content-Type": "application/json"}}, body: "{{}}"}}).then(r => "answered " + r.status,
            () => "failed")""")
        assert answer == "failed"
        await page.get_by_role("button", name="Submit scores").click()
        await expect(_badge(page, second)).to_have_text("Submitted, saved on this phone — not synced")
        assert await _cached_paths(page) == [f"/judging/{cid}/entrants/", "/static/css/judge.css",
                                             "/static/js/judge.js"]
        assert f"/judging/{cid}/entrants/" not in server.log_since(log_offset)  # nothing reached the server
        assert await _sheets(server, cid, judge_id) == {}

        # Back online: the kept scores go through with the page's existing retries.
        await context.set_offline(False)
        await expect(_badge(page, second)).to_have_text("Submitted — synced", timeout=20_000)
        await expect(page.locator("#net")).to_be_hidden()
        assert await _sheets(server, cid, judge_id) == {second: "submitted"}

        # Signing out from the scoring page drops the kept page: nobody else on this phone gets it.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{server.url}/")
        await _wait_for_cached(page, [])
    finally:
        await context.close()
    assert not _real(problems), problems.items
