"""Organisers create, edit, publish and cancel events through the forms."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
import pytest
from sqlalchemy import func, select

from events.models import Event, EventImage
from kernel.accounts import Role
from tests.conftest import csrf_for
from tests.core.helpers import (
    assert_error_page,
    event_form,
    field_block,
    input_value,
    new_client,
    page_text,
    post_event_form,
    running_app,
    sign_in,
)
from tests.factories import make_event, png_bytes

NEW = "/organiser/events/new"


async def _event(db, **where) -> Event | None:
    async with db.read() as session:
        return await session.scalar(select(Event).filter_by(**where))


async def _count(db) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count(Event.id)))


async def _create(client, **overrides) -> tuple[Event, dict]:
    data = event_form(**overrides)
    response = await post_event_form(client, NEW, data)
    assert response.status_code == 303, page_text(response)[:3000]
    match = re.fullmatch(r"/organiser/events/(\d+)/edit", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1)), data


async def _post_action(client, event_id: int, action: str):
    response = await client.post(
        f"/organiser/events/{event_id}/{action}", data={"csrf_token": await csrf_for(client)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/organiser/events"
    return await client.get("/organiser/events")  # where the flash message is shown


async def test_create_publish_cancel(app, db, client):
    await sign_in(client, db)
    event_id, data = await _create(client, title="Baul songs at Soho House", slug="baul-songs")
    saved = await _event(db, id=event_id)
    assert (saved.slug, saved.status, saved.title, saved.capacity) == (
        "baul-songs",
        "draft",
        data["title"],
        150,
    )
    edit_page = await client.get(f"/organiser/events/{event_id}/edit")
    assert "saved as a draft" in page_text(edit_page)

    async with new_client(app) as anonymous:
        assert "Baul songs at Soho House" not in (await anonymous.get("/")).text
        assert_error_page(await anonymous.get("/events/baul-songs"), 404)
        assert (await anonymous.get("/events/baul-songs/calendar.ics")).status_code == 404
    async with new_client(app) as door:  # drafts are for organisers, not every signed-in role
        await sign_in(door, db, Role.DOOR_STAFF)
        assert (await door.get("/events/baul-songs")).status_code == 404
    preview = await client.get("/events/baul-songs")
    assert preview.status_code == 200
    assert "Draft: only organisers can see this page until it is published." in preview.text

    listing = await _post_action(client, event_id, "publish")
    assert "“Baul songs at Soho House” is published." in page_text(listing)
    async with new_client(app) as anonymous:
        assert "Baul songs at Soho House" in (await anonymous.get("/")).text
        page = await anonymous.get("/events/baul-songs")
        assert page.status_code == 200 and "Draft:" not in page.text and "is cancelled" not in page.text

    listing = await _post_action(client, event_id, "cancel")
    assert "“Baul songs at Soho House” is cancelled." in page_text(listing)
    async with new_client(app) as anonymous:
        home = await anonymous.get("/")
        card = re.search(r'<article class="event-card is-cancelled">.*?</article>', home.text, re.DOTALL)
        assert card and "Baul songs at Soho House" in card.group(0) and "Cancelled" in card.group(0)
        page = await anonymous.get("/events/baul-songs")
        assert "This event is cancelled." in page.text
        ics = icalendar.Calendar.from_ical((await anonymous.get("/events/baul-songs/calendar.ics")).content)
        assert [str(v["STATUS"]) for v in ics.walk("VEVENT")] == ["CANCELLED"]

    again = await _post_action(client, event_id, "publish")
    assert "A cancelled event cannot be published again; create a new event instead." in page_text(again)
    assert 'class="flash flash-error" role="alert"' in again.text
    assert (await _event(db, id=event_id)).status == "cancelled"
    twice = await _post_action(client, event_id, "cancel")
    assert "This event is already cancelled." in page_text(twice)


async def test_actions_on_a_missing_event_are_404(db, client):
    await sign_in(client, db)
    token = await csrf_for(client)
    for action in ("publish", "cancel", "edit"):
        response = await client.post(f"/organiser/events/98765/{action}", data={"csrf_token": token})
        assert_error_page(response, 404, "There is no event with that number.")
    assert_error_page(await client.get("/organiser/events/98765/edit"), 404)


async def test_manage_list_shows_every_status_with_actions(db, client):
    async with db.write() as session:
        draft = await make_event(session, title="Draft one", status="draft")
        await make_event(session, title="Published one")
        await make_event(session, title="Cancelled one", status="cancelled")
    await sign_in(client, db)
    page = (await client.get("/organiser/events")).text
    for title in ("Draft one", "Published one", "Cancelled one"):
        assert title in page
    assert page.count('/publish"') == 1 and f'action="/organiser/events/{draft.id}/publish"' in page
    assert page.count('/cancel"') == 2  # no cancel button for the cancelled event
    # The confirmation says what cancelling does to the people who booked or wait (ticketing.event_cancel).
    assert page_text(await client.get("/organiser/events")).count("Every booking is cancelled, and every attendee and everyone on a waiting list "
                                 "is emailed to say so.") == 2


async def test_edit_form_shows_saved_values_and_saves_changes(app, db, client):
    async with db.write() as session:
        event = await make_event(
            session,
            title="Old title",
            slug="old-slug",
            capacity=40,
            step_free=True,
            starts_at=dt.datetime(2027, 7, 10, 17, 30, tzinfo=dt.UTC),
        )
    await sign_in(client, db)
    form = (await client.get(f"/organiser/events/{event.id}/edit")).text
    assert input_value(form, "title") == "Old title"
    assert input_value(form, "capacity") == "40"
    assert input_value(form, "starts_at") == "2027-07-10T18:30"  # shown in London time (BST)
    assert re.search(r'id="step_free" name="step_free" checked', form)
    data = event_form(
        title="New title",
        slug="new-slug",
        capacity="",
        starts_at="2027-07-10T18:30",
        ends_at="2027-07-10T20:00",
        hearing_loop="on",
    )
    response = await post_event_form(client, f"/organiser/events/{event.id}/edit", data)
    assert response.status_code == 303
    saved = await _event(db, id=event.id)
    assert (saved.title, saved.slug, saved.capacity, saved.status) == (
        "New title",
        "new-slug",
        None,
        "published",
    )
    assert (saved.step_free, saved.hearing_loop) == (False, True)  # unticked boxes are saved as unticked
    assert "Changes to “New title” saved." in page_text(await client.get(response.headers["location"]))


async def test_slug_is_made_from_the_title_when_left_empty(db, client):
    await sign_in(client, db)
    event_id, _ = await _create(client, title="Dragons’ Den: Pitch Night 2026!", slug="")
    assert (await _event(db, id=event_id)).slug == "dragons-den-pitch-night-2026"


# --- validation: status 422, the message beside the field, everything typed still in the form -----------

TOO_LONG_TITLE = "T" * 161
INVALID = [
    # (field overrides, field whose error is shown, part of the message)
    (
        {"starts_at": "2026-12-05T19:00", "ends_at": "2026-12-05T18:00"},
        "ends_at",
        "The event must end after it starts.",
    ),
    (
        {"starts_at": "2026-12-05T19:00", "ends_at": "2026-12-05T19:00"},
        "ends_at",
        "The event must end after it starts.",
    ),
    ({"title": ""}, "title", "Give the event a title."),
    ({"title": "   "}, "title", "Give the event a title."),
    ({"venue_name": ""}, "venue_name", "Say where the event is."),
    ({"title": TOO_LONG_TITLE}, "title", "Keep this to 160 characters or fewer (it has 161)."),
    ({"summary": "S" * 301}, "summary", "Keep this to 300 characters or fewer (it has 301)."),
    ({"slug": "Bad Slug!"}, "slug", "Use lower-case letters, numbers and single hyphens only"),
    ({"slug": "double--hyphen"}, "slug", "Use lower-case letters, numbers and single hyphens only"),
    ({"slug": "past"}, "slug", "“past” is reserved; choose another web address."),
    ({"capacity": "0"}, "capacity", "Capacity must be a whole number from 1 to 100000, or left empty."),
    ({"capacity": "-5"}, "capacity", "Capacity must be a whole number from 1 to 100000, or left empty."),
    ({"capacity": "ten"}, "capacity", "Capacity must be a whole number from 1 to 100000, or left empty."),
    ({"capacity": "2.5"}, "capacity", "Capacity must be a whole number from 1 to 100000, or left empty."),
    ({"starts_at": "next tuesday"}, "starts_at", "Enter the start as a date and time"),
    ({"ends_at": ""}, "ends_at", "Enter the end date and time."),
    ({"category": "rave"}, "category", "Choose a category from the list."),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"), INVALID, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(INVALID)]
)
async def test_invalid_input_is_explained_and_kept(db, client, overrides, field, message):
    await sign_in(client, db)
    data = event_form(
        **{
            "title": "Alpana workshop",
            "slug": "alpana-workshop",
            "venue_name": "Soho House",
            "summary": "Floor art for families",
            "capacity": "30",
            **overrides,
        }
    )
    response = await post_event_form(client, NEW, data)
    assert response.status_code == 422
    assert await _count(db) == 0
    block = field_block(response.text, field)
    assert message in block  # beside the field, not only in the summary at the top
    assert 'aria-invalid="true"' in block
    assert message in page_text(response).split('<div class="error-summary"', 1)[1].split("</div>", 1)[0]
    for name in (
        "title",
        "slug",
        "summary",
        "venue_name",
        "venue_address",
        "starts_at",
        "ends_at",
        "capacity",
    ):
        assert input_value(response.text, name) == data[name].strip(), name


async def test_several_errors_are_shown_together(db, client):
    await sign_in(client, db)
    data = event_form(title="", venue_name="", capacity="0")
    response = await post_event_form(client, NEW, data)
    assert response.status_code == 422
    assert "Please correct 3 problems" in response.text
    for field in ("title", "venue_name", "capacity"):
        assert 'aria-invalid="true"' in field_block(response.text, field)


async def test_ticked_boxes_are_kept_when_the_form_has_errors(db, client):
    await sign_in(client, db)
    response = await post_event_form(client, NEW, event_form(title="", bsl="on", quiet_space="on"))
    assert response.status_code == 422
    assert re.search(r'id="bsl" name="bsl" checked', response.text)
    assert re.search(r'id="quiet_space" name="quiet_space" checked', response.text)
    assert not re.search(r'id="step_free" name="step_free" checked', response.text)


async def test_duplicate_slug_is_refused_on_create_and_edit(db, client):
    async with db.write() as session:
        await make_event(session, slug="bangla-month-2026", title="The first one")
        mine = await make_event(session, slug="my-event")
    await sign_in(client, db)
    message = "Another event already uses the web address “bangla-month-2026”. Choose another."
    response = await post_event_form(client, NEW, event_form(title="Second", slug="bangla-month-2026"))
    assert response.status_code == 422
    assert message in field_block(response.text, "slug")
    assert input_value(response.text, "title") == "Second"
    # Left empty, the slug made from the title is checked too.
    response = await post_event_form(client, NEW, event_form(title="Bangla Month 2026", slug=""))
    assert response.status_code == 422 and message in field_block(response.text, "slug")
    response = await post_event_form(
        client, f"/organiser/events/{mine.id}/edit", event_form(title="Renamed", slug="bangla-month-2026")
    )
    assert response.status_code == 422
    assert message in field_block(response.text, "slug")
    assert input_value(response.text, "title") == "Renamed"
    saved = await _event(db, id=mine.id)
    assert (saved.slug, saved.title) == ("my-event", mine.title)
    # Keeping its own slug is not a duplicate.
    response = await post_event_form(
        client, f"/organiser/events/{mine.id}/edit", event_form(title="Renamed", slug="my-event")
    )
    assert response.status_code == 303
    assert await _count(db) == 2


async def test_invalid_edit_changes_nothing(db, client):
    async with db.write() as session:
        event = await make_event(session, title="Keep me")
    await sign_in(client, db)
    response = await post_event_form(
        client, f"/organiser/events/{event.id}/edit", event_form(title="Changed", capacity="-1")
    )
    assert response.status_code == 422
    assert f'action="/organiser/events/{event.id}/edit"' in response.text  # still editing, not creating
    assert (await _event(db, id=event.id)).title == "Keep me"


# --- images ---------------------------------------------------------------------------------------------


async def test_a_text_file_named_jpg_is_refused(db, client):
    await sign_in(client, db)
    data = event_form(title="With a fake photo")
    response = await post_event_form(
        client, NEW, data, image=("photo.jpg", b"just some text, not a JPEG\n" * 20, "image/jpeg")
    )
    assert response.status_code == 422
    block = field_block(response.text, "image")
    assert "That file is not an image we can show. Use a JPEG, PNG, WebP or GIF." in block
    assert "If you chose an image, choose it again." in block
    assert input_value(response.text, "title") == "With a fake photo"
    assert await _count(db) == 0


async def test_an_image_over_the_limit_is_refused(settings, db):
    big = png_bytes(120, 120, noise=True)
    assert len(big) > 40 * 1024
    async with running_app(settings, max_image_bytes=8 * 1024) as app, new_client(app) as client:
        await sign_in(client, db)
        response = await post_event_form(
            client, NEW, event_form(title="Big picture"), image=("big.png", big, "image/png")
        )
    assert response.status_code == 422
    block = field_block(response.text, "image")
    assert f"The image is {len(big) // 1024} KB; the largest allowed is 8 KB." in block
    assert input_value(response.text, "title") == "Big picture"
    assert await _count(db) == 0


async def test_a_real_png_is_stored_and_served(app, db, client):
    await sign_in(client, db)
    image = png_bytes(12, 8)
    event_id, _ = await _create_with_image(client, image, slug="with-image", image_alt="Red square")
    async with db.read() as session:
        stored = await session.scalar(select(EventImage).where(EventImage.event_id == event_id))
    assert (stored.content_type, stored.width, stored.height, stored.data) == ("image/png", 12, 8, image)
    await _post_action(client, event_id, "publish")
    async with new_client(app) as anonymous:
        page = await anonymous.get("/events/with-image")
        match = re.search(
            r'<img class="event-image" src="(/events/with-image/image\?v=\w+)" alt="Red square">', page.text
        )
        assert match, page.text
        served = await anonymous.get(match.group(1))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.content == image


async def test_the_served_type_comes_from_the_file_not_the_upload(app, db, client):
    """A GIF uploaded as photo.png with Content-Type image/png is served as what it is."""
    await sign_in(client, db)
    gif = png_bytes(5, 5, fmt="GIF")
    event_id, _ = await _create_with_image(client, gif, slug="gif-image", filename="photo.png")
    await _post_action(client, event_id, "publish")
    served = await client.get("/events/gif-image/image")
    assert served.headers["content-type"] == "image/gif" and served.content == gif


async def test_organiser_previewing_a_draft_sees_its_image_and_the_public_does_not(app, db, client):
    await sign_in(client, db)
    image = png_bytes()
    await _create_with_image(client, image, slug="draft-image")
    preview = await client.get("/events/draft-image/image")
    assert preview.status_code == 200 and preview.content == image
    assert "public" not in preview.headers.get("cache-control", "")  # never kept by a shared cache
    async with new_client(app) as anonymous:
        assert (await anonymous.get("/events/draft-image/image")).status_code == 404


async def test_image_can_be_removed(db, client):
    await sign_in(client, db)
    event_id, data = await _create_with_image(client, png_bytes(), slug="remove-me")
    assert "Remove the current image" in (await client.get(f"/organiser/events/{event_id}/edit")).text
    response = await post_event_form(
        client, f"/organiser/events/{event_id}/edit", {**data, "remove_image": "on"}
    )
    assert response.status_code == 303
    assert (await _event(db, id=event_id)).image_version is None
    async with db.read() as session:
        assert await session.scalar(select(func.count(EventImage.id))) == 0


async def _create_with_image(client, image: bytes, *, filename="photo.png", **overrides):
    data = event_form(**overrides)
    response = await post_event_form(client, NEW, data, image=(filename, image, "image/png"))
    assert response.status_code == 303, page_text(response)[:3000]
    return int(response.headers["location"].split("/")[3]), data


# --- times: typed in Birmingham time, stored in UTC ----------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "utc", "shown"),
    [
        ("2026-07-01T19:00", dt.datetime(2026, 7, 1, 18, 0, tzinfo=dt.UTC), "Wed 1 Jul 2026, 19:00"),  # BST
        ("2026-12-01T19:00", dt.datetime(2026, 12, 1, 19, 0, tzinfo=dt.UTC), "Tue 1 Dec 2026, 19:00"),  # GMT
    ],
)
async def test_local_times_are_stored_in_utc_and_shown_in_london_time(db, client, typed, utc, shown):
    await sign_in(client, db)
    ends = typed[:-5] + "21:30"
    event_id, _ = await _create(client, slug="timed", starts_at=typed, ends_at=ends)
    saved = await _event(db, id=event_id)
    assert saved.starts_at == utc
    assert saved.ends_at == utc + dt.timedelta(hours=2, minutes=30)
    page = await client.get("/events/timed")
    assert shown in page.text
    assert f'<time datetime="{utc.isoformat()}">{shown}</time>' in page.text
    assert ">21:30</time>" in page.text  # the same day's end time, in London time
    form = (await client.get(f"/organiser/events/{event_id}/edit")).text
    assert input_value(form, "starts_at") == typed
    assert input_value(form, "ends_at") == ends
