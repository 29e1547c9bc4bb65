"""Languages on a phone (issue 17): a Bengali phone gets the listing in Bengali; the switch turns the same page
into Urdu, right to left, and back into English. Screenshots in tests/artifacts/ for people to look at."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import DEVICES, assert_fits_width, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.parametrize("device", ["phone"])
async def test_bengali_phone_switches_to_urdu_and_back_on_the_same_page(browser, live_server, device,
                                                                         page_problems):
    context = await browser.new_context(base_url=live_server, locale="bn-BD", timezone_id="Europe/London",
                                        **DEVICES[device])
    context.set_default_timeout(10_000)
    context.on("page", page_problems.watch)
    try:
        page = await context.new_page()
        await page.goto("/?category=festival")
        html = page.locator("html")
        await expect(html).to_have_attribute("lang", "bn")
        await expect(html).to_have_attribute("dir", "ltr")
        await expect(page.get_by_role("heading", level=1)).to_have_text("কী হচ্ছে")
        await assert_fits_width(page)
        # The Bengali really is drawn with Bengali glyphs: the vendored font loaded, both weights.
        await page.evaluate("() => document.fonts.ready")
        faces = await page.evaluate("""() => [...document.fonts].filter(f => f.family.includes('Bengali'))
                                              .map(f => f.weight + ':' + f.status)""")
        assert "400:loaded" in faces and "700:loaded" in faces
        assert await page.evaluate("() => document.fonts.check('16px \"Denhub Bengali\"', 'কী হচ্ছে')")
        await screenshot(page, "languages-bn", device)

        switch = page.get_by_role("navigation", name="ভাষা")
        await switch.get_by_role("link", name="اردو").click()
        await expect(html).to_have_attribute("lang", "ur")
        await expect(html).to_have_attribute("dir", "rtl")
        assert page.url.endswith("/?category=festival&lang=ur")  # the same page, its filter kept
        await expect(page.get_by_role("heading", level=1)).to_have_text("کیا ہو رہا ہے")
        await page.evaluate("() => document.fonts.ready")
        assert await page.evaluate("() => document.fonts.check('16px \"Denhub Naskh\"', 'کیا ہو رہا ہے')")
        # Right to left: the heading starts at the right-hand edge of the page.
        box = await page.get_by_role("heading", level=1).bounding_box()
        width = await page.evaluate("() => document.documentElement.clientWidth")
        assert box["x"] + box["width"] > width - 40
        await assert_fits_width(page)
        await screenshot(page, "languages-ur", device)

        # Remembered: a plain link now opens in Urdu.
        await page.goto("/events/past")
        await expect(html).to_have_attribute("lang", "ur")

        await page.get_by_role("navigation", name="زبان").get_by_role("link", name="English").click()
        await expect(html).to_have_attribute("lang", "en-GB")
        await expect(html).to_have_attribute("dir", "ltr")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Past events")
        assert "/events/past" in page.url
        await screenshot(page, "languages-en", device)
    finally:
        await context.close()
