"""Organisers find their way (#16 point 12): Manage events and the edit page lead to every page of an event (the
tabs of other domains come through kernel.hooks.organiser_event_links), the edit page publishes, and the list
shows seats sold against capacity and which events are over."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from sqlalchemy import select, update

from denhub.app import create_app
from denhub.domains import DOMAINS
from events.access import add_organiser
from events.models import Event
from kernel.accounts import Role
from kernel.db import utcnow
from tests.conftest import csrf_from
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import make_event

PAGES = ("tickets", "attendees", "door", "badges")
LABELS = {"tickets": "Ticket types", "attendees": "Attendees", "door": "Door", "badges": "Badges"}


def _row(page: str, title: str) -> str:
    """The Manage events table row of the event called `title`."""
    for row in re.findall(r"<tr[^>]*>.*?</tr>", page, re.DOTALL):
        if f">{title}</a>" in row:
            return row
    raise AssertionError(f"no row for {title!r}")


def _tabs(page: str) -> list[tuple[str, str]]:
    """(label, href) of the organiser's tab bar."""
    nav = re.search(r'<nav aria-label="This event" class="subnav">(.*?)</nav>', page, re.DOTALL)
    assert nav, "the page has no tab bar for the event"
    return [(re.sub(r"<[^>]+>", "", label).strip(), href)
            for href, label in re.findall(r'<li><a href="([^"]+)"[^>]*>(.*?)</a></li>', nav.group(1))]


async def test_manage_list_links_every_page_of_each_event(db, client):
    async with db.write() as session:
        event = await make_event(session, title="Baul night")
    await sign_in(client, db)
    row = _row((await client.get("/organiser/events")).text, "Baul night")
    for name in PAGES:
        assert f'<a href="/organiser/events/{event.id}/{name}">{LABELS[name]}' in row, row
        assert (await client.get(f"/organiser/events/{event.id}/{name}")).status_code == 200


async def test_edit_page_has_the_tab_bar_with_details_current(db, client):
    async with db.write() as session:
        event = await make_event(session, title="Baul night", slug="baul-night")
    await sign_in(client, db)
    page = await client.get(f"/organiser/events/{event.id}/edit")
    base = f"/organiser/events/{event.id}"
    assert _tabs(page.text) == [
        ("Details", f"{base}/edit"), ("Ticket types", f"{base}/tickets"), ("Attendees", f"{base}/attendees"),
        ("Door", f"{base}/door"), ("Badges", f"{base}/badges"), ("Organisers", f"{base}/organisers"),
        ("Public page", "/events/baul-night"),
    ]
    assert f'<a href="{base}/edit" aria-current="page">Details</a>' in page.text
    # the same tab bar on ticketing's pages, with their own tab current
    tickets = (await client.get(f"{base}/tickets")).text
    assert _tabs(tickets) == _tabs(page.text)
    assert f'<a href="{base}/tickets" aria-current="page">Ticket types</a>' in tickets


async def test_publish_button_on_the_edit_page_publishes_and_stays_there(app, db, client):
    async with db.write() as session:
        event = await make_event(session, title="Draft supper", slug="draft-supper", status="draft")
    await sign_in(client, db)
    page = await client.get(f"/organiser/events/{event.id}/edit")
    form = re.search(rf'<form method="post" action="/organiser/events/{event.id}/publish"[^>]*>(.*?)</form>',
                     page.text, re.DOTALL)
    assert form and ">Publish</button>" in form.group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))
    assert set(fields) == {"csrf_token", "back"}

    response = await client.post(f"/organiser/events/{event.id}/publish", data=fields)
    assert response.status_code == 303 and response.headers["location"] == f"/organiser/events/{event.id}/edit"
    after = await client.get(response.headers["location"])
    assert "“Draft supper” is published." in page_text(after)
    assert "Status: <strong>Published</strong>" in after.text
    assert f'action="/organiser/events/{event.id}/publish"' not in after.text  # nothing left to publish
    async with db.read() as session:
        assert await session.scalar(select(Event.status).where(Event.id == event.id)) == "published"
    async with new_client(app) as anonymous:
        assert (await anonymous.get("/events/draft-supper")).status_code == 200


async def test_manage_list_shows_sold_against_capacity_and_marks_past_events(db, client):
    now = utcnow()
    async with db.write() as session:
        busy = await make_event(session, title="Busy supper", capacity=40)
        open_ended = await make_event(session, title="Open day")
        await make_event(session, title="Last month's clinic", starts_at=now - dt.timedelta(days=30))
        await make_event(session, title="Running now", starts_at=now - dt.timedelta(hours=1))
        await session.execute(update(Event).where(Event.id == busy.id).values(tickets_sold=12))
        await session.execute(update(Event).where(Event.id == open_ended.id).values(tickets_sold=3))
    await sign_in(client, db)
    page = (await client.get("/organiser/events")).text
    assert re.search(r"12 sold of 40", page_text_of(_row(page, "Busy supper")))
    assert "3 sold (no limit)" in page_text_of(_row(page, "Open day"))
    assert ">Past</span>" in _row(page, "Last month&#39;s clinic")
    for title in ("Busy supper", "Open day", "Running now"):  # not over yet (one is on now)
        assert ">Past</span>" not in _row(page, title)


def page_text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment)).strip()


async def test_events_alone_shows_no_other_domains_links(settings):
    """Events does not know ticketing: an app without it has an edit page with only events' own tabs."""
    events_only = [d for d in DOMAINS if d.name == "events"]
    app = create_app(dataclasses.replace(settings), domains=events_only)
    async with app.router.lifespan_context(app), new_client(app) as client:
        await app.state.mail_sender.stop()
        db = app.state.db
        async with db.write() as session:
            event = await make_event(session, title="Alone", slug="alone")
        await sign_in(client, db)
        page = await client.get(f"/organiser/events/{event.id}/edit")
        assert [label for label, _ in _tabs(page.text)] == ["Details", "Organisers", "Public page"]
        assert "/tickets" not in _row((await client.get("/organiser/events")).text, "Alone")
        assert csrf_from(page.text)


async def test_the_tab_bar_shows_each_role_only_the_pages_it_may_open(app, db):
    """An event organiser's tabs have no Organisers (hub administrators give events); a treasurer's have only
    the attendees (and the public page), and 'All events' leads to the payments page they may open."""
    async with db.write() as session:
        event = await make_event(session, title="Baul night", slug="baul-night")
    base = f"/organiser/events/{event.id}"
    async with new_client(app) as client:
        organiser = await sign_in(client, db, Role.ORGANISER)
        async with db.write() as session:
            await add_organiser(session=session, event_id=event.id, user_id=organiser.id)
        labels = [label for label, _ in _tabs((await client.get(f"{base}/edit")).text)]
        assert labels == ["Details", "Ticket types", "Attendees", "Door", "Badges", "Public page"]
    async with new_client(app) as client:
        await sign_in(client, db, Role.TREASURER)
        page = await client.get(f"{base}/attendees")
        assert page.status_code == 200
        assert _tabs(page.text) == [("Attendees", f"{base}/attendees"), ("Public page", "/events/baul-night")]
        assert '<a href="/organiser/payments">All events</a>' in page.text
