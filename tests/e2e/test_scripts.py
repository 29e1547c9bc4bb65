"""Names in every local script on the organiser's attendee list, in Chromium with no system font for
Bengali, Gurmukhi, Devanagari or Arabic script: the page's own vendored fonts (static/css/fonts.css) draw
them, and an Urdu or Arabic name reads right to left in its own cell."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_organiser import sign_in
from tests.e2e.test_ticketing import BANGLA_SLUG, book_supper
from tests.ticketing.test_scripts_fonts import NAMES

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
# script -> the family in fonts.css that must have been loaded to draw its name
WEB_FAMILIES = {"bengali": "Denhub Bengali", "gurmukhi": "Denhub Gurmukhi", "devanagari": "Denhub Devanagari",
                "urdu": "Denhub Naskh", "arabic": "Denhub Naskh"}


@pytest.mark.parametrize("device", ["desktop"])
async def test_attendee_list_draws_every_script_with_our_fonts(new_context, demo_login, device):
    visitor = await (await new_context()).new_page()
    emails = {}
    for script, (name, _) in NAMES.items():
        _, emails[script] = await book_supper(visitor, name=name)

    organiser = await (await new_context()).new_page()
    await sign_in(organiser, demo_login)
    event_id = (await (await organiser.request.get(f"/events/{BANGLA_SLUG}/ticket-key")).json())["event_id"]
    await organiser.goto(f"/organiser/events/{event_id}/attendees")
    for script, (name, _) in NAMES.items():
        cell = organiser.get_by_role("row").filter(has_text=emails[script]).get_by_role("rowheader")
        await expect(cell).to_contain_text(name)
        rtl = script in ("urdu", "arabic")
        assert await cell.evaluate("c => getComputedStyle(c).direction") == ("rtl" if rtl else "ltr"), script
    loaded = await organiser.evaluate(
        "document.fonts.ready.then(() => [...document.fonts].filter(f => f.status === 'loaded')"
        ".map(f => f.family.replaceAll('\"', '')))")
    assert set(WEB_FAMILIES.values()) <= set(loaded), loaded
    await screenshot(organiser, "scripts-attendees", device)
