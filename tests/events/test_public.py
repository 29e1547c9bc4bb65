"""What the public sees: the listing, past events, event pages, calendar files and the listing cache."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
from sqlalchemy import update

from events.models import Event
from tests.conftest import csrf_for
from tests.core.helpers import (
    assert_error_page,
    assert_in_layout,
    assert_no_active_content,
    elements,
    event_form,
    new_client,
    page_text,
    post_event_form,
    running_app,
    sign_in,
)
from tests.factories import make_event

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


def _titles(page: str) -> list[str]:
    """Event titles in the order the cards appear."""
    return re.findall(r'<h2 class="event-title"><a href="/events/[^"]+">([^<]+)</a></h2>', page)


async def test_listing_shows_upcoming_public_events_soonest_first(db, client):
    async with db.write() as session:
        await make_event(session, title="In ten days", starts_at=NOW + 10 * DAY)
        await make_event(session, title="In three days", starts_at=NOW + 3 * DAY)
        await make_event(session, title="Cancelled in five days", starts_at=NOW + 5 * DAY, status="cancelled")
        await make_event(session, title="Draft tomorrow", starts_at=NOW + DAY, status="draft")
        await make_event(session, title="Ended yesterday", starts_at=NOW - DAY - dt.timedelta(hours=3))
        await make_event(session, title="On now", starts_at=NOW - DAY, ends_at=NOW + DAY)
    response = await client.get("/")
    assert response.status_code == 200
    assert _titles(response.text) == ["On now", "In three days", "Cancelled in five days", "In ten days"]


async def test_empty_listing_says_so(client):
    response = await client.get("/")
    assert "Nothing coming up yet." in page_text(response)
    assert 'href="/events/past"' in response.text


async def test_category_filter(db, client):
    async with db.write() as session:
        await make_event(session, title="Alpana workshop", category="workshop", starts_at=NOW + 2 * DAY)
        await make_event(session, title="Film night", category="screening", starts_at=NOW + DAY)
        await make_event(
            session, title="Business plan workshop", category="workshop", starts_at=NOW + 4 * DAY
        )
    response = await client.get("/?category=workshop")
    assert response.status_code == 200
    assert _titles(response.text) == ["Alpana workshop", "Business plan workshop"]
    assert '<a href="/?category=workshop" aria-current="page">' in response.text
    assert _titles((await client.get("/?category=screening")).text) == ["Film night"]
    assert "Nothing coming up in this category yet." in page_text(await client.get("/?category=festival"))
    assert _titles((await client.get("/")).text) == [
        "Film night",
        "Alpana workshop",
        "Business plan workshop",
    ]


async def test_unknown_category_is_a_400_page(client):
    response = await client.get("/?category=raves")
    assert_error_page(response, 400, "There is no category called “raves”. Choose one from the list.")
    long = await client.get("/?category=" + "x" * 5000)
    assert long.status_code == 400 and "x" * 41 not in long.text  # not echoed back in full


async def test_past_events_newest_first_and_paginated(db, client):
    async with db.write() as session:
        for n in range(1, 22):  # 21 ended events: n days ago
            await make_event(session, title=f"Past {n:02d}", starts_at=NOW - n * DAY)
        await make_event(session, title="Past draft", starts_at=NOW - 2 * DAY, status="draft")
        await make_event(session, title="Still to come", starts_at=NOW + DAY)
    first = await client.get("/events/past")
    assert first.status_code == 200
    assert _titles(first.text) == [f"Past {n:02d}" for n in range(1, 21)]
    assert '<a href="/events/past?page=2" rel="next">Older</a>' in first.text
    assert 'rel="prev"' not in first.text
    second = await client.get("/events/past?page=2")
    assert _titles(second.text) == ["Past 21"]
    assert '<a href="/events/past?page=1" rel="prev">Newer</a>' in second.text
    assert 'rel="next"' not in second.text
    beyond = await client.get("/events/past?page=3")
    assert _titles(beyond.text) == [] and "No past events to show on this page." in beyond.text
    assert _titles((await client.get("/events/past?page=0")).text) == _titles(first.text)
    assert_error_page(
        await client.get("/events/past?page=two"), 400, "The page number must be a whole number."
    )


async def test_past_cancelled_events_are_listed_as_cancelled(db, client):
    async with db.write() as session:
        await make_event(session, title="Rained off", starts_at=NOW - 3 * DAY, status="cancelled")
    page = (await client.get("/events/past")).text
    assert _titles(page) == ["Rained off"]
    assert '<strong class="tag tag-cancelled">Cancelled</strong>' in page


async def test_unknown_event_is_a_404_page_in_the_layout(client):
    response = await client.get("/events/no-such-event")
    assert_error_page(response, 404, "We could not find that event.")
    assert '<h1 id="error-title">Page not found</h1>' in response.text
    assert_error_page(await client.get("/no/such/page"), 404, "We could not find that page.")


async def test_event_page_shows_the_facts(db, client):
    async with db.write() as session:
        event = await make_event(
            session,
            title="Nazrul songs",
            summary="An afternoon of songs",
            venue_name="Soho House",
            venue_address="Soho Avenue, Handsworth",
            capacity=80,
            step_free=True,
            bsl=True,
            accessibility_notes="Ask for the hearing loop.",
            starts_at=dt.datetime(2027, 3, 6, 14, 0, tzinfo=dt.UTC),
            ends_at=dt.datetime(2027, 3, 6, 16, 30, tzinfo=dt.UTC),
        )
    response = await client.get(f"/events/{event.slug}")
    assert response.status_code == 200
    assert_in_layout(response)
    text = page_text(response)
    assert '<h1 id="event-title">Nazrul songs</h1>' in text
    assert "<title>Nazrul songs · denhub</title>" in text
    assert "Sat 6 Mar 2027, 14:00" in text and ">16:30</time>" in text
    assert "Soho Avenue, Handsworth" in text and "80 people" in text
    assert "<li>Step-free access</li>" in text and "<li>British Sign Language interpretation</li>" in text
    assert "<li>Hearing loop</li>" not in text
    assert "Ask for the hearing loop." in text
    assert f'href="/events/{event.slug}/calendar.ics"' in text


async def test_description_markdown_is_rendered(db, client):
    description = (
        "Come for **Baul songs** and *poetry*.\n\n"
        "- Alpana workshop\n- Shared supper\n\n"
        "1. First\n2. Second\n\n"
        'More at [Legacy WM](https://legacywm.org/events "Legacy").\n\n'
        "# A heading the author wrote"
    )
    async with db.write() as session:
        event = await make_event(session, description=description)
    page = (await client.get(f"/events/{event.slug}")).text
    prose = page.split('<section class="prose" aria-label="About this event">', 1)[1].split("</section>", 1)[
        0
    ]
    assert "<strong>Baul songs</strong>" in prose and "<em>poetry</em>" in prose
    assert "<ul>\n<li>Alpana workshop</li>\n<li>Shared supper</li>\n</ul>" in prose
    assert "<ol>\n<li>First</li>" in prose
    assert "<h2>A heading the author wrote</h2>" in prose and "<h1>" not in prose  # one h1 per page
    links = [attrs for tag, attrs in elements(prose) if tag == "a"]
    assert len(links) == 1
    assert links[0]["href"] == "https://legacywm.org/events"
    assert {"noopener", "noreferrer", "nofollow"} <= set(links[0]["rel"].split())


SCRIPTY = [
    "<script>alert('script')</script>",
    "[click me](javascript:alert('link'))",
    "[click me](JaVaScRiPt:alert('mixed'))",
    "[tab](java\tscript:alert('tab'))",
    "<javascript:alert('autolink')>",
    "<a href=\"javascript:alert('raw')\">raw link</a>",
    "<img src=x onerror=alert('img')>",
    '![pic](x.png "t" onerror="alert(\'md\')")',
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert('svg')>",
]


async def test_description_is_sanitised(db, client):
    async with db.write() as session:
        event = await make_event(
            session,
            title="<script>alert('title')</script>",
            summary="<img src=x onerror=alert('summary')>",
            description="\n\n".join(SCRIPTY),
            accessibility_notes="<b onmouseover=alert('notes')>hi</b>",
        )
    response = await client.get(f"/events/{event.slug}")
    assert response.status_code == 200
    assert_no_active_content(response.text)
    assert "&lt;script&gt;alert(" in response.text  # the title is shown as text, escaped
    # and the listing, where the title and summary appear on a card
    assert_no_active_content((await client.get("/")).text)


async def test_calendar_file(db, client):
    async with db.write() as session:
        event = await make_event(
            session,
            slug="outdoor-cinema",
            title="Outdoor cinema",
            venue_name="Soho House gardens",
            venue_address="Soho Avenue, Birmingham B18 5LB",
            summary="A film under the trees",
            starts_at=dt.datetime(2027, 7, 3, 18, 0, tzinfo=dt.UTC),
            ends_at=dt.datetime(2027, 7, 3, 20, 30, tzinfo=dt.UTC),
        )
    response = await client.get("/events/outdoor-cinema/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["content-disposition"] == 'attachment; filename="outdoor-cinema.ics"'
    unfolded = response.text.replace("\r\n ", "")
    # 19:00 in Birmingham (BST) is 18:00 UTC; written in UTC so every calendar agrees.
    assert "DTSTART:20270703T180000Z\r\n" in unfolded
    assert "DTEND:20270703T203000Z\r\n" in unfolded
    calendar = icalendar.Calendar.from_ical(response.content)
    (vevent,) = calendar.walk("VEVENT")
    assert vevent.decoded("DTSTART") == event.starts_at
    assert str(vevent["SUMMARY"]) == "Outdoor cinema"
    assert str(vevent["LOCATION"]) == "Soho House gardens, Soho Avenue, Birmingham B18 5LB"
    assert str(vevent["URL"]) == "http://testserver/events/outdoor-cinema"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["UID"]) == f"event-{event.id}@testserver"


async def test_calendar_file_for_unknown_or_draft_event_is_404(db, client):
    async with db.write() as session:
        draft = await make_event(session, status="draft")
    assert_error_page(await client.get(f"/events/{draft.slug}/calendar.ics"), 404)
    assert_error_page(await client.get("/events/nope/calendar.ics"), 404)
    assert_error_page(await client.get(f"/events/{draft.slug}/image"), 404)


async def _rename_behind_the_apps_back(db, event_id: int, title: str) -> None:
    """A change this worker does not hear about (e.g. made by another worker)."""
    async with db.write() as session:
        await session.execute(update(Event).where(Event.id == event_id).values(title=title))


async def test_anonymous_visitor_sees_an_organisers_edit_at_once(settings, db):
    async with db.write() as session:
        event = await make_event(session, title="Original title", starts_at=NOW + 3 * DAY)
    async with (
        running_app(settings, listing_cache_seconds=300) as app,
        new_client(app) as visitor,
        new_client(app) as organiser,
    ):
        assert _titles((await visitor.get("/")).text) == ["Original title"]
        await _rename_behind_the_apps_back(db, event.id, "Changed elsewhere")
        # The listing is cached (this is what the organiser's edit must get past) ...
        assert _titles((await visitor.get("/")).text) == ["Original title"]
        # ... but the organiser's own view is never the cached one.
        await sign_in(organiser, db)
        assert _titles((await organiser.get("/")).text) == ["Changed elsewhere"]
        form = event_form(title="Edited by the organiser", slug=event.slug)
        response = await post_event_form(organiser, f"/organiser/events/{event.id}/edit", form)
        assert response.status_code == 303
        assert _titles((await visitor.get("/")).text) == ["Edited by the organiser"]


async def test_publishing_and_cancelling_clear_the_cached_listing(settings, db):
    async with db.write() as session:
        draft = await make_event(session, title="Soon to be published", status="draft", starts_at=NOW + DAY)
    async with (
        running_app(settings, listing_cache_seconds=300) as app,
        new_client(app) as visitor,
        new_client(app) as organiser,
    ):
        assert _titles((await visitor.get("/")).text) == []
        await sign_in(organiser, db)
        token = await csrf_for(organiser)
        published = await organiser.post(f"/organiser/events/{draft.id}/publish", data={"csrf_token": token})
        assert published.status_code == 303
        assert _titles((await visitor.get("/")).text) == ["Soon to be published"]
        await organiser.post(f"/organiser/events/{draft.id}/cancel", data={"csrf_token": token})
        assert "tag-cancelled" in (await visitor.get("/")).text


async def test_no_caching_when_the_lifetime_is_zero(settings, db):
    async with db.write() as session:
        event = await make_event(session, title="Original title", starts_at=NOW + 3 * DAY)
    async with running_app(settings, listing_cache_seconds=0) as app, new_client(app) as visitor:
        assert _titles((await visitor.get("/")).text) == ["Original title"]
        await _rename_behind_the_apps_back(db, event.id, "Changed elsewhere")
        assert _titles((await visitor.get("/")).text) == ["Changed elsewhere"]
        assert app.state.listing_cache.get("") is None


async def test_each_category_is_cached_separately(settings, db):
    async with db.write() as session:
        await make_event(session, title="A workshop", category="workshop", starts_at=NOW + DAY)
        await make_event(session, title="A screening", category="screening", starts_at=NOW + 2 * DAY)
    async with running_app(settings, listing_cache_seconds=300) as app, new_client(app) as visitor:
        assert _titles((await visitor.get("/?category=workshop")).text) == ["A workshop"]
        assert _titles((await visitor.get("/?category=screening")).text) == ["A screening"]
        assert _titles((await visitor.get("/")).text) == ["A workshop", "A screening"]
        assert _titles((await visitor.get("/?category=workshop")).text) == ["A workshop"]
