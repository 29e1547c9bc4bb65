"""Roles with least privilege: a hub administrator (everything), event organisers (only the events they are
given or create), a treasurer (money of every event, nothing else), door volunteers (only the door of their
events), judges. Organiser routes are found by walking the app, so a new route is covered as soon as it exists."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update

from events.access import NOT_YOURS, add_organiser
from kernel.accounts import Role, User
from kernel.auth import SAFE_METHODS
from kernel.invitations import Invitation
from kernel.mail.outbox import OutboxMessage
from kernel.migrate import upgrade
from tests.conftest import csrf_for, csrf_from, login
from tests.core.helpers import event_form, new_client, page_text, post_event_form, sign_in
from tests.core.routes import walk
from tests.core.test_permissions import _bare_app
from tests.factories import PASSWORD, make_event, make_user
from tests.judging.factories import make_competition, make_entrant, make_judge
from tests.ticketing.factories import make_order, make_ticket_type
from ticketing.models import DoorAssignment, Order

# Organiser pages that name no one event: each lists or creates only what the person may see (tested below).
UNSCOPED_LISTS = {"/organiser/events", "/organiser/events/new", "/organiser/payments", "/organiser/competitions",
                  "/organiser/competitions/new"}


def _organiser_endpoints(app):
    return [e for e in walk(app.routes)[0] if e.path.startswith(("/organiser/", "/admin/"))]


def test_every_organiser_route_is_event_scoped_or_admin_only(tmp_path):
    endpoints = _organiser_endpoints(_bare_app(tmp_path))
    assert len(endpoints) >= 60
    loose = [e.path for e in endpoints if e.access.scope is None and e.access.roles != {Role.ADMIN.value}
             and e.path not in UNSCOPED_LISTS]
    assert loose == []
    # No organiser route lets in door volunteers or judges, and money is the treasurer's only way in.
    for e in endpoints:
        assert not e.access.roles & {Role.DOOR_STAFF.value, Role.JUDGE.value}, e.path
        if Role.TREASURER.value in e.access.roles:
            assert re.search(r"/(attendees|orders|tickets/\{ticket_id:int\}|payments)", e.path), e.path


async def _event_with_everything(session, title: str) -> dict:
    event = await make_event(session, title=title, category="pitch_night")
    free = await make_ticket_type(session, event)
    paid = await make_ticket_type(session, event, name="Supporter", tier="standard", price_pence=1500)
    order = await make_order(session, event, [(paid.id, "Ada Lovelace")])
    await make_order(session, event, [(free.id, "Grace Hopper")])
    competition = await make_competition(session, event=event)
    entrant = await make_entrant(session, competition)
    judge = await make_judge(session, competition)
    return {"event": event, "values": {
        "event_id": event.id, "type_id": free.id, "order_id": order.id, "ticket_id": order.tickets[0].id,
        "competition_id": competition.id, "entrant_id": entrant.id, "user_id": judge.id, "assignment_id": 1,
        "sheet_id": 1, "link_id": 1}, "competition": competition, "order": order}


async def _world(db):
    async with db.write() as session:
        a = await _event_with_everything(session, "Event A of the organiser")
        b = await _event_with_everything(session, "Event B of someone else")
        organiser = await make_user(session, role=Role.ORGANISER, name="Olu Organiser")
        await add_organiser(session=session, event_id=a["event"].id, user_id=organiser.id)
    return a, b, organiser


async def test_an_event_organiser_is_refused_every_route_of_another_event(app, db):
    a, b, organiser = await _world(db)
    scoped = [e for e in _organiser_endpoints(app) if e.access.scope is not None]
    assert len(scoped) >= 45
    async with new_client(app) as client:
        assert (await login(client, organiser.email, PASSWORD)).status_code == 303
        token = await csrf_for(client)
        problems, checked = [], 0
        for endpoint in scoped:
            for method in endpoint.methods:
                data = {"csrf_token": token} if method not in SAFE_METHODS else None
                response = await client.request(method, endpoint.url(b["values"]), data=data)
                checked += 1
                # Another's event: 403, "not one of yours". One of its rows (an order, a ticket, a competition):
                # the 404 of a row that does not exist, so that which ids exist is not theirs to learn.
                status, says = (403, NOT_YOURS) if "{event_id" in endpoint.path else (404, "with that number.")
                if response.status_code != status or (method != "HEAD" and says not in page_text(response)):
                    problems.append(f"{method} {endpoint.url(b['values'])}: {response.status_code}")
                if method == "GET":  # their own event's pages open
                    own = await client.get(endpoint.url(a["values"]))
                    if own.status_code == 403 or own.status_code >= 500:
                        problems.append(f"GET {endpoint.url(a['values'])} (own event): {own.status_code}")
        assert problems == []
        assert checked >= 60

        # Lists show only their event.
        for path, mine, theirs in (
            ("/organiser/events", a["event"].title, b["event"].title),
            ("/organiser/payments", a["event"].title, b["event"].title),
            ("/organiser/competitions", a["competition"].name, b["competition"].name),
            ("/organiser/competitions/new", a["event"].title, b["event"].title),
            ("/door/", a["event"].title, b["event"].title),
        ):
            text = page_text(await client.get(path))
            assert mine in text and theirs not in text, path
        # Nor can they make a competition for someone else's event.
        response = await client.post("/organiser/competitions/new", data={
            "csrf_token": token, "event_id": str(b["event"].id), "name": "Sneaky", "pitch_minutes": "5"})
        assert response.status_code == 403 and NOT_YOURS in page_text(response)
        # Their own event's door scanner opens; the other's does not.
        assert (await client.get(f"/door/events/{a['event'].id}")).status_code == 200
        assert (await client.get(f"/door/events/{b['event'].id}")).status_code == 403


async def test_another_events_order_or_ticket_looks_to_an_event_organiser_as_one_that_does_not_exist(app, db):
    a, b, organiser = await _world(db)
    async with db.read() as session:
        top = await session.scalar(select(Order.id).order_by(Order.id.desc()))
    missing_order, missing_ticket = top + 1000, b["values"]["ticket_id"] + 1000
    async with new_client(app) as client:
        assert (await login(client, organiser.email, PASSWORD)).status_code == 303
        token = await csrf_for(client)
        for theirs, missing in ((f"/organiser/orders/{b['order'].id}/resend", f"/organiser/orders/{missing_order}/resend"),
                                (f"/organiser/tickets/{b['values']['ticket_id']}/cancel",
                                 f"/organiser/tickets/{missing_ticket}/cancel"),
                                (f"/organiser/ticket-types/{b['values']['type_id']}/edit",
                                 f"/organiser/ticket-types/{b['values']['type_id'] + 1000}/edit")):
            one = await client.post(theirs, data={"csrf_token": token})
            other = await client.post(missing, data={"csrf_token": token})
            assert one.status_code == other.status_code == 404, (theirs, one.status_code, other.status_code)
            assert page_text(one) == page_text(other), theirs
            assert "with that number." in page_text(one)
        # Their own event's rows still open.
        own = await client.post(f"/organiser/orders/{a['order'].id}/resend", data={"csrf_token": token})
        assert own.status_code == 303


async def test_the_hub_administrator_can_open_every_organiser_page_of_any_event(app, db):
    _a, b, _organiser = await _world(db)
    async with new_client(app) as client:
        await sign_in(client, db, Role.ADMIN)
        for endpoint in _organiser_endpoints(app):
            if "GET" in endpoint.methods:
                response = await client.get(endpoint.url(b["values"]))
                assert response.status_code not in (403, 500), (endpoint.path, response.status_code)
        text = page_text(await client.get("/organiser/events"))
        assert b["event"].title in text and _a["event"].title in text


async def test_an_event_organiser_organises_the_events_they_create(app, db, client):
    await sign_in(client, db, Role.ORGANISER)
    response = await post_event_form(client, "/organiser/events/new", event_form(title="My own workshop"))
    assert response.status_code == 303
    assert (await client.get(response.headers["location"])).status_code == 200
    assert "My own workshop" in page_text(await client.get("/organiser/events"))


async def test_treasurer_marks_paid_but_cannot_edit_an_event(app, db, client):
    _a, b, _organiser = await _world(db)
    await sign_in(client, db, Role.TREASURER)
    event_id, order_id = b["event"].id, b["order"].id
    assert (await client.get(f"/organiser/events/{event_id}/attendees")).status_code == 200
    assert (await client.get(f"/organiser/events/{event_id}/attendees.csv")).status_code == 200
    token = await csrf_for(client, f"/organiser/events/{event_id}/attendees")
    response = await client.post(f"/organiser/orders/{order_id}/mark-paid", data={"csrf_token": token})
    assert response.status_code == 303
    async with db.read() as session:
        assert (await session.get(Order, order_id)).paid_at is not None
    for method, path in (("GET", f"/organiser/events/{event_id}/edit"), ("POST", f"/organiser/events/{event_id}/edit"),
                         ("POST", f"/organiser/events/{event_id}/cancel"), ("GET", f"/organiser/events/{event_id}/tickets"),
                         ("GET", f"/organiser/competitions/{b['competition'].id}"), ("GET", "/organiser/events"),
                         ("GET", "/admin/accounts")):
        response = await client.request(method, path, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    home = page_text(await client.get("/organiser/payments"))
    assert b["event"].title in home and _a["event"].title in home


async def test_door_volunteer_cannot_open_attendee_lists(app, db, client):
    _a, b, _organiser = await _world(db)
    user = await sign_in(client, db, Role.DOOR_STAFF)
    async with db.write() as session:
        session.add(DoorAssignment(event_id=b["event"].id, user_id=user.id))
    for path in (f"/organiser/events/{b['event'].id}/attendees", f"/organiser/events/{b['event'].id}/attendees.csv",
                 "/organiser/payments", f"/organiser/events/{b['event'].id}/door"):
        assert (await client.get(path)).status_code == 403, path
    assert (await client.get(f"/door/events/{b['event'].id}")).status_code == 200


def _invitation_link(text: str) -> str:
    match = re.search(r"http://testserver(/account/invitation/[\w-]+)", text)
    assert match, text
    return match.group(1)


async def _outbox_to(db, email: str) -> OutboxMessage:
    async with db.read() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == email)))
    assert len(rows) == 1, rows
    return rows[0]


async def test_an_invitation_email_sets_a_password_and_signs_in_with_the_role(app, db, client):
    await sign_in(client, db, Role.ADMIN)
    token = await csrf_for(client, "/admin/accounts")
    response = await client.post("/admin/accounts/invite", data={
        "csrf_token": token, "email": "Tia.Treasurer@example.org", "name": "Tia", "role": "treasurer"})
    assert response.status_code == 303
    link = _invitation_link((await _outbox_to(db, "tia.treasurer@example.org")).text_body)
    async with db.read() as session:
        stored = await session.scalar(select(Invitation))
    assert link.rsplit("/", 1)[1] not in stored.token_hash  # only the hash is kept

    async with new_client(app) as invited:
        # No password works before the invitation is accepted.
        assert (await login(invited, "tia.treasurer@example.org", "")).status_code == 401
        page = await invited.get(link)
        assert page.status_code == 200 and "Choose your password" in page.text
        short = await invited.post(link, data={"csrf_token": csrf_from(page.text), "password": "short",
                                               "confirm": "short"})
        assert short.status_code == 422 and "at least 10 characters" in page_text(short)
        done = await invited.post(link, data={"csrf_token": csrf_from(page.text), "password": "a fine new password",
                                              "confirm": "a fine new password"})
        assert done.status_code == 303 and done.headers["location"] == "/organiser/payments"
        account = page_text(await invited.get("/account"))
        assert "tia.treasurer@example.org" in account and "Treasurer" in account
        # Single use.
        assert (await invited.get(link)).status_code == 410
    async with new_client(app) as again:
        assert (await login(again, "tia.treasurer@example.org", "a fine new password")).status_code == 303


async def test_an_expired_invitation_no_longer_works(app, db, client):
    await sign_in(client, db, Role.ADMIN)
    token = await csrf_for(client, "/admin/accounts")
    await client.post("/admin/accounts/invite", data={"csrf_token": token, "email": "late@example.org",
                                                      "name": "", "role": "organiser"})
    link = _invitation_link((await _outbox_to(db, "late@example.org")).text_body)
    async with db.write() as session:
        await session.execute(update(Invitation).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    async with new_client(app) as invited:
        response = await invited.get(link)
        assert response.status_code == 410 and "no longer works" in page_text(response)


async def test_the_administrator_changes_roles_switches_off_and_assigns_events(app, db, client):
    _a, b, organiser = await _world(db)
    await sign_in(client, db, Role.ADMIN)
    token = await csrf_for(client, "/admin/accounts")
    async with new_client(app) as other:
        assert (await login(other, organiser.email, PASSWORD)).status_code == 303
        assert (await other.get(f"/organiser/events/{b['event'].id}/edit")).status_code == 403
        response = await client.post(f"/organiser/events/{b['event'].id}/organisers",
                                     data={"csrf_token": token, "user_id": str(organiser.id)})
        assert response.status_code == 303
        assert (await other.get(f"/organiser/events/{b['event'].id}/edit")).status_code == 200
        await client.post(f"/organiser/events/{b['event'].id}/organisers/{organiser.id}/remove",
                          data={"csrf_token": token})
        assert (await other.get(f"/organiser/events/{b['event'].id}/edit")).status_code == 403
        # An organiser cannot give themselves events.
        own = await csrf_for(other, "/organiser/events")
        assert (await other.post(f"/organiser/events/{b['event'].id}/organisers",
                                 data={"csrf_token": own, "user_id": str(organiser.id)})).status_code == 403
        # Switched off: signed out at once.
        await client.post(f"/admin/accounts/{organiser.id}/active", data={"csrf_token": token, "active": "0"})
        assert (await other.get("/organiser/events")).status_code == 303
    response = await client.post(f"/admin/accounts/{organiser.id}/role", data={"csrf_token": token, "role": "judge"})
    assert response.status_code == 303
    async with db.read() as session:
        changed = await session.get(User, organiser.id)
    assert changed.role == "judge" and not changed.is_active
    assert (await client.post(f"/admin/accounts/{organiser.id}/role",
                              data={"csrf_token": token, "role": "emperor"})).status_code == 422


async def test_door_staff_invited_from_the_web_land_on_that_events_scanner_only(app, db):
    a, b, organiser = await _world(db)
    async with new_client(app) as client:
        assert (await login(client, organiser.email, PASSWORD)).status_code == 303
        token = await csrf_for(client, f"/organiser/events/{a['event'].id}/door")
        response = await client.post(f"/organiser/events/{a['event'].id}/door/invite",
                                     data={"csrf_token": token, "email": "dan@example.org", "name": "Dan"})
        assert response.status_code == 303
        assert "Dan" in page_text(await client.get(f"/organiser/events/{a['event'].id}/door"))
        # Someone with another kind of account is not turned into door staff.
        response = await client.post(f"/organiser/events/{a['event'].id}/door/invite",
                                     data={"csrf_token": token, "email": organiser.email})
        assert response.status_code == 422 and "another kind" in page_text(response)
    message = await _outbox_to(db, "dan@example.org")
    link = _invitation_link(message.text_body)
    async with new_client(app) as volunteer:
        page = await volunteer.get(link)
        done = await volunteer.post(link, data={"csrf_token": csrf_from(page.text), "password": "door password 1",
                                                "confirm": "door password 1"})
        assert done.status_code == 303 and done.headers["location"] == f"/door/events/{a['event'].id}"
        assert (await volunteer.get(done.headers["location"])).status_code == 200
        assert (await volunteer.get(f"/door/events/{b['event'].id}")).status_code == 403
        home = page_text(await volunteer.get("/door/"))
        assert a["event"].title in home and b["event"].title not in home
        assert (await volunteer.get(f"/organiser/events/{a['event'].id}/attendees")).status_code == 403
    async with db.read() as session:
        dan = await session.scalar(select(User).where(User.email == "dan@example.org"))
    assert dan.role == Role.DOOR_STAFF


def test_existing_organisers_become_hub_administrators(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "5d2e8a1c7b40")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO user_account (email, name, role, password_hash, is_active, session_version, "
                     "created_at) VALUES ('old@example.org', 'Old', 'organiser', 'x', 1, 1, '2026-01-01 00:00:00')")
    upgrade(url)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT role FROM user_account").fetchall() == [("admin",)]


async def test_each_role_sees_its_own_menu_and_home(app, db):
    menus = {
        Role.ADMIN: ({"Manage events", "Competitions", "Orders and payments", "Accounts"}, "/organiser/events"),
        Role.ORGANISER: ({"Manage events", "Competitions"}, "/organiser/events"),
        Role.TREASURER: ({"Orders and payments"}, "/organiser/payments"),
    }
    every = set().union(*(labels for labels, _ in menus.values()))
    for role, (labels, home) in menus.items():
        async with new_client(app) as client:
            async with db.write() as session:
                user = await make_user(session, role=role)
            response = await login(client, user.email, PASSWORD)
            assert response.headers["location"] == home, role
            nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', (await client.get(home)).text, re.DOTALL)[1]
            shown = {label for label in every if f">{label}<" in nav}
            assert shown == labels, (role, shown)


async def test_inviting_door_staff_reuses_their_account_without_a_new_email(app, db):
    a, _b, organiser = await _world(db)
    async with db.write() as session:
        volunteer = await make_user(session, role=Role.DOOR_STAFF, email="ready@example.org")
    async with new_client(app) as client:
        assert (await login(client, organiser.email, PASSWORD)).status_code == 303
        token = await csrf_for(client, f"/organiser/events/{a['event'].id}/door")
        response = await client.post(f"/organiser/events/{a['event'].id}/door/invite",
                                     data={"csrf_token": token, "email": "READY@example.org"})
        assert response.status_code == 303
    async with db.read() as session:
        assert await session.scalar(select(DoorAssignment.id).where(
            DoorAssignment.event_id == a["event"].id, DoorAssignment.user_id == volunteer.id))
        assert await session.scalar(select(OutboxMessage.id)) is None
        assert await session.scalar(select(User.id).where(User.email == "ready@example.org")) == volunteer.id


async def test_the_demo_has_an_administrator_an_event_organiser_of_some_events_and_a_treasurer(db):
    from denhub import demo
    from events.models import EventOrganiser
    from kernel.db import utcnow

    async with db.write() as session:
        created = await demo.load(session=session, now=utcnow(), organiser_password=PASSWORD)
    async with db.read() as session:
        roles = dict((await session.execute(select(User.email, User.role))).all())
        given = set(await session.scalars(select(EventOrganiser.event_id)))
    assert roles[demo.DEMO_ORGANISER_EMAIL] == "admin"
    assert roles[demo.DEMO_EVENT_ORGANISER_EMAIL] == "organiser"
    assert roles[demo.DEMO_TREASURER_EMAIL] == "treasurer"
    assert 0 < len(given) < len(created["events"])
