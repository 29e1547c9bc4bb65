"""What an organiser does: sign in, create an event, publish it, and get told clearly when the form is
wrong."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from playwright.async_api import expect

from kernel.web import LONDON
from tests.e2e.conftest import assert_fits_width, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


def local_input(days_ahead: int, hour: int, minute: int = 0) -> str:
    """A value for a datetime-local input, in Birmingham time."""
    day = dt.datetime.now(LONDON).date() + dt.timedelta(days=days_ahead)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"


async def sign_in(page, login) -> None:
    await page.goto("/login")
    await page.get_by_label("Email", exact=True).fill(login.email)
    await page.get_by_label("Password", exact=True).fill(login.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/organiser/events$"))
    await expect(page.get_by_role("status").filter(has_text="Signed in as")).to_be_visible()


@pytest.mark.parametrize("device", ["desktop"])
async def test_organiser_creates_and_publishes_an_event(new_context, demo_login, device):
    title = f"Handsworth street food night {uuid.uuid4().hex[:6]}"
    slug = title.lower().replace(" ", "-")
    visitor = await (await new_context()).new_page()
    organiser = await (await new_context()).new_page()

    await sign_in(organiser, demo_login)
    await expect(organiser.get_by_role("heading", level=1)).to_have_text("Manage events")
    await organiser.get_by_role("link", name="New event").click()
    await expect(organiser).to_have_url(re.compile(r"/organiser/events/new$"))
    await organiser.get_by_label("Title", exact=True).fill(title)
    await organiser.get_by_label("Category", exact=True).select_option(label="Workshop")
    await organiser.get_by_label("Venue", exact=True).fill("Soho House – Visitor Centre")
    await organiser.get_by_label("Starts", exact=True).fill(local_input(3, 18, 30))
    await organiser.get_by_label("Ends", exact=True).fill(local_input(3, 21))
    await organiser.get_by_label("Step-free access", exact=True).check()
    await organiser.get_by_role("button", name="Save draft").click()

    await expect(organiser).to_have_url(re.compile(r"/organiser/events/\d+/edit$"))
    saved = organiser.get_by_role("status").filter(has_text=f"“{title}” saved as a draft")
    await expect(saved).to_be_visible()
    await expect(organiser.get_by_role("heading", level=1)).to_have_text(f"Edit “{title}”")
    await expect(organiser.get_by_label("Web address (optional)", exact=True)).to_have_value(slug)

    # A draft is invisible to the public, on its own page and in the listing.
    response = await visitor.goto(f"/events/{slug}")
    assert response.status == 404
    # This anonymous visit also fills the listing cache; publishing must clear it.
    await visitor.goto("/")
    await expect(visitor.get_by_role("link", name="Bangla Month", exact=False)).to_be_visible()
    await expect(visitor.get_by_role("link", name=title)).to_have_count(0)

    await organiser.goto("/organiser/events")
    row = organiser.get_by_role("row").filter(has_text=title)
    await expect(row.locator(".tag")).to_have_text("Draft")
    await row.get_by_role("button", name=f"Publish {title}").click()
    await expect(organiser).to_have_url(re.compile(r"/organiser/events$"))
    await expect(organiser.get_by_role("status").filter(has_text=f"“{title}” is published")).to_be_visible()
    await expect(row.locator(".tag")).to_have_text("Published")
    await expect(row.get_by_role("button", name=f"Publish {title}")).to_have_count(0)

    # The organiser sees it at once, and so does an anonymous visitor whose listing was cached.
    await organiser.goto("/")
    await expect(organiser.get_by_role("link", name=title, exact=True)).to_be_visible()
    await visitor.reload()
    card = visitor.locator(".event-card").filter(has=visitor.get_by_role("link", name=title, exact=True))
    await expect(card).to_be_visible()
    await expect(card.locator(".tag")).to_have_text("Workshop")
    await expect(card.locator(".event-access")).to_contain_text("Step-free access")
    await visitor.get_by_role("link", name=title, exact=True).click()
    await expect(visitor.get_by_role("heading", level=1)).to_have_text(title)
    await expect(visitor.locator("dl.facts dd").first).to_contain_text(
        dt.date.fromisoformat(local_input(3, 18, 30)[:10]).strftime("%-d %b %Y") + ", 18:30 to 21:00"
    )


async def test_sign_in_with_a_wrong_password_explains_what_went_wrong(page, demo_login, device):
    await page.goto("/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await assert_fits_width(page)
    await screenshot(page, "login", device)
    await page.get_by_label("Email", exact=True).fill(demo_login.email)
    await page.get_by_label("Password", exact=True).fill("not-the-password")
    is_login_post = lambda r: r.url.endswith("/login") and r.request.method == "POST"
    async with page.expect_response(is_login_post) as info:
        await page.get_by_role("button", name="Sign in").click()
    assert (await info.value).status == 401
    await expect(page.get_by_role("alert")).to_have_text("That email and password do not match an account.")
    await expect(page.get_by_label("Email", exact=True)).to_have_value(demo_login.email)
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")
    await expect(page.get_by_role("link", name="Manage events")).to_have_count(0)


async def test_organiser_pages_need_a_sign_in(page, demo_login, device):
    await page.goto("/organiser/events/new")
    await expect(page).to_have_url(re.compile(r"/login\?next=/organiser/events/new$"))
    await page.get_by_label("Email", exact=True).fill(demo_login.email)
    await page.get_by_label("Password", exact=True).fill(demo_login.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/organiser/events/new$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("New event")


async def test_end_before_start_is_shown_beside_the_field(page, demo_login, device):
    await sign_in(page, demo_login)
    await page.goto("/organiser/events/new")
    title = f"Bengali poetry evening {uuid.uuid4().hex[:6]}"
    await page.get_by_label("Title", exact=True).fill(title)
    await page.get_by_label("Venue", exact=True).fill("Soho House gardens")
    await page.get_by_label("Starts", exact=True).fill(local_input(5, 20))
    await page.get_by_label("Ends", exact=True).fill(local_input(5, 18))
    async with page.expect_response(lambda r: r.request.method == "POST") as info:
        await page.get_by_role("button", name="Save draft").click()
    assert (await info.value).status == 422

    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("Please correct 1 problem")
    await expect(summary.get_by_role("link", name="The event must end after it starts.")).to_have_attribute(
        "href", "#ends_at"
    )
    ends = page.get_by_label("Ends", exact=True)
    error = page.locator(".field", has=page.locator("#ends_at")).locator(".field-error")
    await expect(error).to_have_text("Error: The event must end after it starts.")
    await expect(ends).to_have_attribute("aria-invalid", "true")
    await expect(ends).to_have_attribute("aria-describedby", re.compile(r"\bends_at-error\b"))
    await expect(page.get_by_label("Starts", exact=True)).not_to_have_attribute("aria-invalid", "true")
    # What was typed is kept, so nothing has to be entered twice.
    await expect(page.get_by_label("Title", exact=True)).to_have_value(title)
    await expect(page.get_by_label("Venue", exact=True)).to_have_value("Soho House gardens")
    await expect(page.get_by_label("Starts", exact=True)).to_have_value(local_input(5, 20))
    await expect(ends).to_have_value(local_input(5, 18))

    # "Beside the field": the message sits just above the input, lined up with it.
    error_box, input_box = await error.bounding_box(), await ends.bounding_box()
    assert error_box["y"] + error_box["height"] <= input_box["y"] < error_box["y"] + error_box["height"] + 48
    assert abs(error_box["x"] - input_box["x"]) < 2
    await assert_fits_width(page)
    await screenshot(page, "event-form-errors", device)

    # Correcting the one field is enough to save the draft, which the organiser list then offers to publish.
    await ends.fill(local_input(5, 22))
    await page.get_by_role("button", name="Save draft").click()
    await expect(page).to_have_url(re.compile(r"/organiser/events/\d+/edit$"))
    await expect(page.get_by_role("status").filter(has_text=f"“{title}” saved as a draft")).to_be_visible()
    await page.get_by_role("link", name="Manage events").click()
    row = page.get_by_role("row").filter(has_text=title)
    await expect(row.locator(".tag")).to_have_text("Draft")
    await expect(row.get_by_role("button", name=f"Publish {title}")).to_be_visible()
    await expect(page.get_by_role("table")).to_contain_text("Bangla Month")
    await assert_fits_width(page)
    await screenshot(page, "organiser-events", device)



async def create_draft(page, title: str, *, image_path=None, image_alt: str = "") -> None:
    """Fill in and save the new-event form (as a signed-in organiser), landing on the edit page."""
    await page.goto("/organiser/events/new")
    await page.get_by_label("Title", exact=True).fill(title)
    await page.get_by_label("Venue", exact=True).fill("Soho House – Visitor Centre")
    await page.get_by_label("Starts", exact=True).fill(local_input(6, 14))
    await page.get_by_label("Ends", exact=True).fill(local_input(6, 16))
    if image_path:
        await page.get_by_label("Image (optional)", exact=True).set_input_files(image_path)
        await page.get_by_label("Describe the image (optional)", exact=True).fill(image_alt)
    await page.get_by_role("button", name="Save draft").click()
    await expect(page).to_have_url(re.compile(r"/organiser/events/\d+/edit$"))


def poster(tmp_path):
    from PIL import Image

    path = tmp_path / "poster.png"
    Image.new("RGB", (64, 40), (122, 31, 61)).save(path)
    return path


async def image_width(page, alt: str) -> int:
    """The natural width of the loaded image with this alt text; 0 when it is missing or did not load."""
    return await page.evaluate(
        "alt => { const img = [...document.images].find(i => i.alt === alt);"
        " return img && img.complete ? img.naturalWidth : 0; }",
        alt,
    )


@pytest.mark.parametrize("device", ["desktop"])
async def test_a_published_event_shows_its_image_with_alt_text(new_context, demo_login, device, tmp_path):
    title = f"Alpana workshop {uuid.uuid4().hex[:6]}"
    organiser = await (await new_context()).new_page()
    await sign_in(organiser, demo_login)
    await create_draft(organiser, title, image_path=poster(tmp_path), image_alt="A maroon poster")
    await organiser.goto("/organiser/events")
    row = organiser.get_by_role("row").filter(has_text=title)
    await row.get_by_role("button", name=f"Publish {title}").click()
    await expect(organiser.get_by_role("status").filter(has_text="is published")).to_be_visible()

    visitor = await (await new_context()).new_page()
    await visitor.goto(f"/events/{title.lower().replace(' ', '-')}", wait_until="load")
    await expect(visitor.get_by_role("img", name="A maroon poster")).to_be_visible()
    assert await image_width(visitor, "A maroon poster") == 64


@pytest.mark.parametrize("device", ["desktop"])
async def test_organiser_previews_a_draft_with_its_image(new_context, demo_login, device, tmp_path):
    title = f"Nazrul songs {uuid.uuid4().hex[:6]}"
    page = await (await new_context()).new_page()
    await sign_in(page, demo_login)
    await create_draft(page, title, image_path=poster(tmp_path), image_alt="A maroon poster")
    await page.goto(f"/events/{title.lower().replace(' ', '-')}", wait_until="load")
    await expect(page.get_by_role("status").filter(has_text="Draft: only organisers")).to_be_visible()
    await expect(page.get_by_role("img", name="A maroon poster")).to_be_visible()
    assert await image_width(page, "A maroon poster") == 64
