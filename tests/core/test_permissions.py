"""Every route declares who may use it (kernel.auth.guard), and the guard does exactly that for every role."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from denhub.app import create_app
from events.access import add_organiser
from kernel.accounts import Role
from kernel.auth import PUBLIC, SAFE_METHODS, guard
from kernel.settings import Settings
from tests.conftest import TEST_SECRET, csrf_for
from tests.core.helpers import assert_error_page, new_client, page_text, sign_in
from tests.core.routes import unguarded, walk
from tests.factories import make_event, make_event_image

ANON, ORG, DOOR, JUDGE = None, Role.ADMIN.value, Role.DOOR_STAFF.value, Role.JUDGE.value
EVT, MONEY = Role.ORGANISER.value, Role.TREASURER.value  # an event organiser (of the walk's event), a treasurer
EVERYONE = {ANON, ORG, EVT, MONEY, DOOR, JUDGE}
SIGNED_IN = {ORG, EVT, MONEY, DOOR, JUDGE}

# Written out by hand, not derived from the code: the routes whose permission matters most.
PINNED: dict[tuple[str, str], set[str | None]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/account"): SIGNED_IN,
    ("GET", "/events/past"): EVERYONE,
    ("GET", "/events/{slug}"): EVERYONE,
    ("GET", "/events/{slug}/calendar.ics"): EVERYONE,
    ("GET", "/events/{slug}/image"): EVERYONE,
    ("GET", "/organiser/events"): {ORG, EVT},
    ("GET", "/organiser/events/new"): {ORG, EVT},
    ("POST", "/organiser/events/new"): {ORG, EVT},
    ("GET", "/organiser/events/{event_id:int}/edit"): {ORG, EVT},
    ("POST", "/organiser/events/{event_id:int}/edit"): {ORG, EVT},
    ("POST", "/organiser/events/{event_id:int}/publish"): {ORG, EVT},
    ("POST", "/organiser/events/{event_id:int}/cancel"): {ORG, EVT},
    ("GET", "/organiser/events/{event_id:int}/attendees"): {ORG, EVT, MONEY},
    ("POST", "/organiser/orders/{order_id:int}/mark-paid"): {ORG, EVT, MONEY},
    ("GET", "/organiser/payments"): {ORG, EVT, MONEY},
    ("GET", "/organiser/events/{event_id:int}/organisers"): {ORG},
    ("GET", "/admin/accounts"): {ORG},
    ("POST", "/admin/accounts/invite"): {ORG},
    ("GET", "/account/invitation/{token}"): EVERYONE,
}


GUARD_REFUSALS = {"Please sign in to do this.", "Your account does not have access to this page."}


class FakeUser:
    def __init__(self, role: str):
        self.role = role


def _bare_app(tmp_path) -> Starlette:
    settings = Settings(
        env="test",
        secret_key=TEST_SECRET,
        var_dir=str(tmp_path),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",
    ).validated()
    return create_app(settings)


def test_every_route_declares_who_may_use_it(tmp_path):
    app = _bare_app(tmp_path)
    endpoints, apps = walk(app.routes)
    assert unguarded(app.routes) == []
    # The walk really went inside the mounts (it would pass trivially on an empty list).
    paths = {e.path for e in endpoints}
    assert {"/", "/organiser/events", "/events/{slug}", "/organiser/events/{event_id:int}/edit"} <= paths
    assert [path for path, _ in apps] == ["/static"] and isinstance(apps[0][1], StaticFiles)


def test_the_walk_catches_a_route_without_a_permission():
    async def forgot(request):
        return PlainTextResponse("no guard")

    @guard(PUBLIC)
    async def declared(request):
        return PlainTextResponse("guarded")

    app = Starlette(
        routes=[
            Route("/fine", declared),
            Mount("/deep", routes=[Mount("/er", routes=[Route("/forgot", forgot)])]),
            Mount("/files", app=PlainTextResponse("not static files")),
        ]
    )
    assert unguarded(app.routes) == ["/deep/er/forgot", "/files"]


def test_pinned_routes_have_the_permission_we_expect(tmp_path):
    endpoints, _ = walk(_bare_app(tmp_path).routes)
    declared = {(method, e.path): e.access for e in endpoints for method in e.methods}
    for (method, path), allowed_roles in PINNED.items():
        assert (method, path) in declared, f"{method} {path} is missing"
        access = declared[(method, path)]
        for role in EVERYONE:
            user = None if role is None else FakeUser(role)
            assert access.allows(user) == (role in allowed_roles), (method, path, role, access)
        if method == "GET":  # Starlette answers HEAD for every GET route, under the same guard
            assert ("HEAD", path) in declared


async def _snapshot(app, db, role, event_id: int) -> tuple[object, str, httpx.Cookies]:
    """A signed-in (or anonymous) session: the user, a CSRF token for it and its cookies."""
    async with new_client(app) as client:
        user = await sign_in(client, db, role) if role else None
        if role == EVT:  # the walk's event is theirs: the guard lets them through, as the hub administrator
            async with db.write() as session:
                await add_organiser(session=session, event_id=event_id, user_id=user.id)
        token = await csrf_for(client)
        return user, token, httpx.Cookies(client.cookies)


def _outcome(access, user, method) -> str:
    if access.allows(user):
        return "allowed"
    if user is None and method in SAFE_METHODS:
        return "login"
    return "forbidden"


async def _problem(app, cookies, method, url, path, user, expected, response) -> str | None:
    """What is wrong with `response` to a request that should have had the outcome `expected`, if anything."""
    where = f"{method} {url} as {user.role if user else 'anonymous'}: {response.status_code}"
    location = response.headers.get("location", "")
    if response.status_code >= 500:
        return f"{where} (server error)"
    if expected == "allowed":
        if location.startswith("/login"):
            return f"{where} {location}, expected to be allowed"
        if response.status_code == 403:
            if (method if method != "HEAD" else "GET", path) in PINNED:
                return f"{where}, expected to be allowed"
            # Past the guard an endpoint may still refuse one row (door staff not on this event's team);
            # what must not happen is the guard's own refusal.
            if method == "HEAD":
                async with new_client(app, cookies=cookies) as client:
                    response = await client.get(url)
            if any(refusal in page_text(response) for refusal in GUARD_REFUSALS):
                return f"{where}, refused by the guard but expected to be allowed"
    elif expected == "login":
        if response.status_code != 303 or location != f"/login?next={quote(url)}":
            return f"{where} {location}, expected 303 to /login?next={url}"
    elif response.status_code != 403:
        return f"{where}, expected 403"
    elif method != "HEAD":  # a HEAD response has no page to look at
        assert_error_page(
            response,
            403,
            "Please sign in to do this."
            if user is None
            else "Your account does not have access to this page.",
        )
    return None


async def test_every_route_for_every_role(app, db):
    async with db.write() as session:
        event = await make_event(
            session, slug="walk-event", starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        )
        await make_event_image(session, event)
    values = {"slug": event.slug, "event_id": event.id}
    sessions = {role: await _snapshot(app, db, role, event.id) for role in (ANON, ORG, EVT, MONEY, DOOR, JUDGE)}
    problems: list[str] = []
    checked = 0
    for endpoint in walk(app.routes)[0]:
        url = endpoint.url(values)
        for method in endpoint.methods:
            for role, (user, token, cookies) in sessions.items():
                expected = _outcome(endpoint.access, user, method)
                pinned = PINNED.get((method if method != "HEAD" else "GET", endpoint.path))
                if pinned is not None:  # the declared permission agrees with the hand-written one
                    assert (expected == "allowed") == (role in pinned), (method, url, role)
                # Each request from a copy of the role's cookies.
                async with new_client(app, cookies=cookies) as client:
                    data = {"csrf_token": token} if method not in SAFE_METHODS else None
                    response = await client.request(method, url, data=data)
                if (method, endpoint.path) == ("POST", "/logout") and role is not None:
                    # Logout ends the session on the server, every copy of the cookie with it: sign in again.
                    sessions[role] = await _snapshot(app, db, role, event.id)
                problem = await _problem(app, cookies, method, url, endpoint.path, user, expected, response)
                if problem:
                    problems.append(problem)
                checked += 1
    assert problems == []
    # 6 roles over every method of at least the pinned routes (plus HEAD for each GET).
    assert checked >= 6 * (len(PINNED) + sum(1 for method, _ in PINNED if method == "GET"))


async def test_organiser_pages_are_for_organisers_only(app, db, client):
    response = await client.get("/organiser/events")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/organiser/events"
    for role in (Role.DOOR_STAFF, Role.JUDGE):
        async with new_client(app) as other:
            await sign_in(other, db, role)
            assert_error_page(
                await other.get("/organiser/events"), 403, "Your account does not have access to this page."
            )
            token = await csrf_for(other)
            assert_error_page(await other.post("/organiser/events/new", data={"csrf_token": token}), 403)
    await sign_in(client, db, Role.ADMIN)
    response = await client.get("/organiser/events")
    assert response.status_code == 200
    assert "<h1>Manage events</h1>" in response.text


async def test_anonymous_post_to_an_organiser_route_is_refused(app, db, client):
    async with db.write() as session:
        event = await make_event(session)
    token = await csrf_for(client)
    response = await client.post(f"/organiser/events/{event.id}/cancel", data={"csrf_token": token})
    assert_error_page(response, 403, "Please sign in to do this.")
    assert 'href="/login">sign in</a>' in response.text
    async with db.read() as session:
        assert (await session.get(type(event), event.id)).status == "published"


@pytest.mark.parametrize("path", ["/", "/events/past", "/healthz", "/login", "/static/css/site.css"])
async def test_public_pages_need_no_login(client, path):
    response = await client.get(path)
    assert response.status_code == 200, response.text[:300]


async def test_account_page_is_for_any_signed_in_role(app, db):
    for role in Role:
        async with new_client(app) as client:
            user = await sign_in(client, db, role)
            response = await client.get("/account")
            assert response.status_code == 200
            assert user.email in response.text and role.label in response.text
