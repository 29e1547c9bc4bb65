"""What a visitor sees: the listing, the category filters, an event page, its .ics file, the 404 page;
on a phone and on a desktop, with and without JavaScript."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from icalendar import Calendar
from playwright.async_api import expect

from denhub import demo
from kernel.web import LONDON
from tests.e2e.conftest import assert_fits_width, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

NOW = dt.datetime.now(dt.UTC)
PROGRAMME = demo.programme(NOW)
UPCOMING = [spec for spec in PROGRAMME if spec["ends_at"] >= NOW]
PAST = [spec for spec in PROGRAMME if spec["ends_at"] < NOW]
BANGLA = next(spec["title"] for spec in PROGRAMME if spec["slug"].startswith("bangla-month-"))
CINEMA = "Outdoor cinema in the Soho House gardens"
CINEMA_SPEC = next(spec for spec in PROGRAMME if spec["title"] == CINEMA)


def filter_link(page, label: str):
    return page.get_by_role("navigation", name="Filter by category").get_by_role("link", name=label)


def cards(page):
    return page.locator(".event-list .event-card")


def card_titles(page):
    return page.locator(".event-list .event-title")


async def test_listing_shows_the_upcoming_demo_events(page, device):
    response = await page.goto("/")
    assert response.status == 200
    await expect(page).to_have_title("What’s on · denhub")
    await expect(page.get_by_role("heading", level=1)).to_have_text("What’s on")
    for title in (BANGLA, CINEMA):
        await expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    titles = await card_titles(page).all_inner_texts()
    for spec in UPCOMING:
        assert spec["title"] in titles
    for spec in PAST:  # the demo clinic ended a month ago: past events stay off the listing
        assert spec["title"] not in titles
    # soonest first
    datetimes = [await t.get_attribute("datetime") for t in await page.locator(".event-when time:not(.event-ends)").all()]
    assert datetimes == sorted(datetimes)
    await assert_fits_width(page)
    await screenshot(page, "listing", device)


async def test_category_filters_narrow_the_listing(page, device):
    await page.goto("/")
    filters = page.get_by_role("navigation", name="Filter by category")
    await expect(filters.get_by_role("link", name="Everything")).to_have_attribute("aria-current", "page")

    await filters.get_by_role("link", name="Screening").click()
    await expect(page).to_have_url(re.compile(r"/\?category=screening$"))
    await expect(filters.get_by_role("link", name="Screening")).to_have_attribute("aria-current", "page")
    await expect(filters.get_by_role("link", name="Everything")).not_to_have_attribute("aria-current", "page")
    await expect(page.get_by_role("link", name=CINEMA, exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name=BANGLA, exact=True)).to_have_count(0)
    await expect(cards(page).locator(".tag").filter(has_not_text="Screening")).to_have_count(0)

    await filters.get_by_role("link", name="Festival").click()
    await expect(page).to_have_url(re.compile(r"/\?category=festival$"))
    await expect(page.get_by_role("link", name=BANGLA, exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name=CINEMA, exact=True)).to_have_count(0)
    await expect(cards(page).locator(".tag").filter(has_not_text="Festival")).to_have_count(0)

    await filters.get_by_role("link", name="Everything").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    assert await card_titles(page).count() >= len(UPCOMING)
    await expect(page.get_by_role("link", name=BANGLA, exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name=CINEMA, exact=True)).to_be_visible()


async def test_filter_tap_targets_are_large_enough(page, device):
    await page.goto("/")
    for link in await page.get_by_role("navigation", name="Filter by category").get_by_role("link").all():
        box = await link.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, f"{await link.inner_text()}: {box}"


async def test_event_page_from_the_listing(page, device):
    await page.goto("/")
    await page.get_by_role("link", name=CINEMA, exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/events/{CINEMA_SPEC['slug']}$"))
    await expect(page).to_have_title(f"{CINEMA} · denhub")
    await expect(page.get_by_role("heading", level=1)).to_have_text(CINEMA)
    facts = page.locator("dl.facts")
    await expect(facts.locator("dt")).to_contain_text(["When", "Where"])
    when = CINEMA_SPEC["starts_at"].astimezone(LONDON)
    await expect(facts.locator("dd").first).to_contain_text(when.strftime("%a %-d %b %Y, %H:%M"))
    await expect(facts.locator("dd").nth(1)).to_contain_text(CINEMA_SPEC["venue_name"])
    await expect(facts.locator("dd").nth(1)).to_contain_text(CINEMA_SPEC["venue_address"])
    access = page.get_by_role("region", name="Access")
    await expect(access.get_by_role("heading", name="Access")).to_be_visible()
    await expect(access.get_by_role("listitem")).to_contain_text(
        ["Step-free access", "Captions or subtitles"]
    )
    await expect(access).to_contain_text(CINEMA_SPEC["accessibility_notes"])
    await assert_fits_width(page)
    await screenshot(page, "event", device)


async def test_add_to_calendar_downloads_an_ics_file(page, device):
    await page.goto(f"/events/{CINEMA_SPEC['slug']}")
    link = page.get_by_role("link", name="Add to calendar (.ics)")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == f"{CINEMA_SPEC['slug']}.ics"
    body = (await download.path()).read_bytes()

    calendar = Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == CINEMA
    assert events[0].decoded("DTSTART") == CINEMA_SPEC["starts_at"]
    assert b"BEGIN:VEVENT" in body

    response = await page.request.get(await link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/calendar")
    fetched = await response.body()
    assert b"BEGIN:VEVENT" in fetched and f"SUMMARY:{CINEMA}".encode() in fetched


async def test_listing_and_event_page_work_without_javascript(new_context, device):
    context = await new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto("/")
    await expect(page.get_by_role("link", name=BANGLA, exact=True)).to_be_visible()
    await filter_link(page, "Screening").click()
    await expect(page).to_have_url(re.compile(r"category=screening$"))
    await expect(page.get_by_role("link", name=BANGLA, exact=True)).to_have_count(0)
    await page.get_by_role("link", name=CINEMA, exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(CINEMA)
    await expect(page.get_by_role("heading", name="Access")).to_be_visible()
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Add to calendar (.ics)").click()
    download = await download_info.value
    assert b"BEGIN:VEVENT" in (await download.path()).read_bytes()


@pytest.mark.parametrize("path", ["/events/no-such-event", "/no-such-page"])
async def test_unknown_pages_get_a_helpful_404(page, device, path):
    response = await page.goto(path)
    assert response.status == 404
    await expect(page).to_have_title("Page not found · denhub")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    await expect(page.get_by_role("link", name="See what’s on")).to_have_attribute("href", "/")
    await assert_fits_width(page)
    if path == "/events/no-such-event":
        await expect(page.locator(".error-page")).to_contain_text("We could not find that event")
        await screenshot(page, "404", device)


async def test_keyboard_users_get_a_skip_link_and_a_visible_focus_ring(page, device):
    await page.goto("/")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    await expect(skip).to_be_focused()
    box = await skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the skip link stays off-screen when focused"
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    # The next Tab lands on the first filter: it must carry a clearly visible outline.
    await page.keyboard.press("Tab")
    everything = filter_link(page, "Everything")
    await expect(everything).to_be_focused()
    outline = await everything.evaluate(
        "e => { const s = getComputedStyle(e); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert outline[0] == "solid" and outline[1] >= 2, outline
    await screenshot(page, "focus", device)
