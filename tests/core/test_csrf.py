"""Every POST form needs the CSRF token of its own session; without it nothing happens."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from events.models import Event
from kernel.accounts import Role
from kernel.auth import MAX_FORM_FIELDS, PUBLIC, FormRequest, urlencoded_form
from kernel.ratelimit import RateEvent
from tests.conftest import csrf_for
from tests.core.helpers import assert_error_page, event_form, new_client, sign_in
from tests.core.routes import walk
from tests.factories import make_event, make_user

CSRF_MESSAGE = "This form has expired or did not come from this site. Go back, reload the page and try again."


async def _state(db) -> tuple[int, list[str]]:
    async with db.read() as session:
        count = await session.scalar(select(func.count(Event.id)))
        statuses = list(await session.scalars(select(Event.status).order_by(Event.id)))
    return count, statuses


def _post_routes(app):
    endpoints, _ = walk(app.routes)
    posts = [e for e in endpoints if "POST" in e.methods]
    assert {e.path for e in posts} >= {
        "/login",
        "/logout",
        "/organiser/events/new",
        "/organiser/events/{event_id:int}/publish",
    }
    return posts


async def test_every_post_route_refuses_a_missing_or_wrong_token(app, db):
    async with db.write() as session:
        event = await make_event(session, status="draft")
    values = {"slug": event.slug, "event_id": event.id}
    async with new_client(app) as stranger:
        other_token = await csrf_for(stranger)
    sessions: dict = {}  # role -> (own token, cookies): one sign-in per role, reused by every request

    async def session_for(access):
        role = None
        if access is not PUBLIC:  # sign in with a role the route lets in, so only CSRF can refuse
            role = next(r for r in (Role.ADMIN, Role.DOOR_STAFF, Role.JUDGE) if r.value in access.roles)
        if role not in sessions:
            async with new_client(app) as client:
                if role is not None:
                    await sign_in(client, db, role)
                sessions[role] = (await csrf_for(client), httpx.Cookies(client.cookies))
        return sessions[role]

    before = await _state(db)
    checked = 0
    for endpoint in _post_routes(app):
        own_token, cookies = await session_for(endpoint.access)
        bad_tokens = {
            "missing": None,
            "wrong": own_token[:-2] + "xx",
            "other session": other_token,
            "empty": "",
        }
        for kind, sent in bad_tokens.items():
            assert sent != own_token
            data = {"email": "nobody@example.org", "password": "whatever it is", "title": "Sneaky"}
            if sent is not None:
                data["csrf_token"] = sent
            async with new_client(app, cookies=cookies) as client:
                response = await client.post(endpoint.url(values), data=data)
                assert response.status_code == 403, (endpoint.path, kind)
                assert_error_page(response, 403, CSRF_MESSAGE)
                if endpoint.access is not PUBLIC:  # still signed in: e.g. a refused logout did not log out
                    assert (await client.get("/account")).status_code == 200, (endpoint.path, kind)
            checked += 1
    assert checked == 4 * len(_post_routes(app))
    assert await _state(db) == before  # nothing created, published or cancelled


async def test_multipart_form_without_token_is_refused(app, db, client):
    await sign_in(client, db)
    response = await client.post(
        "/organiser/events/new",
        data={"title": "No token"},
        files={"image": ("", b"", "application/octet-stream")},
    )
    assert_error_page(response, 403, CSRF_MESSAGE)
    assert (await _state(db))[0] == 0


async def test_token_in_header_is_accepted_and_checked(app, db, client):
    async with db.write() as session:
        event = await make_event(session, status="draft")
    await sign_in(client, db)
    token = await csrf_for(client)
    refused = await client.post(
        f"/organiser/events/{event.id}/publish", headers={"x-csrf-token": "nope"}, data={"csrf_token": token}
    )  # the header, when sent, is what counts
    assert_error_page(refused, 403, CSRF_MESSAGE)
    accepted = await client.post(f"/organiser/events/{event.id}/publish", headers={"x-csrf-token": token})
    assert accepted.status_code == 303
    assert (await _state(db))[1] == ["published"]


async def test_a_new_token_after_signing_in(app, db, client):
    """Signing in starts a fresh session, so a token seen before login (e.g. planted) stops working."""
    before = await csrf_for(client)
    await sign_in(client, db)
    after = await csrf_for(client)
    assert after != before
    response = await client.post("/logout", data={"csrf_token": before})
    assert_error_page(response, 403, CSRF_MESSAGE)
    assert (await client.post("/logout", data={"csrf_token": after})).status_code == 303


async def test_head_requests_change_nothing(app, db, client):
    """HEAD is not CSRF-checked (it is a safe method), so no endpoint may act on one, whatever its body."""
    async with db.write() as session:
        event = await make_event(session, status="draft", slug="head-target")
        victim = await make_user(session)
    await sign_in(client, db)
    before = await _state(db)
    endpoints, _ = walk(app.routes)
    heads = [e for e in endpoints if "HEAD" in e.methods]
    assert {"/login", "/organiser/events/new", "/organiser/events/{event_id:int}/edit"} <= {
        e.path for e in heads
    }
    body = {
        **event_form(title="Made by HEAD", slug="made-by-head"),
        "email": victim.email,
        "password": "wrong",
    }
    for endpoint in heads:
        response = await client.request(
            "HEAD", endpoint.url({"slug": event.slug, "event_id": event.id}), data=body
        )
        assert response.status_code < 500, endpoint.path
        assert response.status_code not in (401, 422), endpoint.path  # the form was not processed
    assert await _state(db) == before
    async with db.read() as session:
        assert await session.scalar(select(func.count(RateEvent.id))) == 0  # no failed login was counted


# --- the form body, parsed for the token (kernel.auth.urlencoded_form) ----------------------------------

def _request(body: bytes, chunk: int = 7) -> Request:
    parts = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]

    async def receive():
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"),
                         (b"content-length", str(len(body)).encode())]}
    return Request(scope, receive)


async def test_urlencoded_form_reads_fields_as_starlettes_parser_does():
    body = (b"name_0=%E0%A6%86%E0%A6%AE%E0%A6%BF%E0%A6%A8%E0%A6%BE+Khatun&email=a%2Bb%40example.org&empty="
            b"&type_0=3&type_0=4&note=50%25+off+%26+more&bare&csrf_token=abc-_123") + b"&raw=caf\xe9"
    ours = await urlencoded_form(_request(body), limit=10_000)
    starlettes = await _request(body).form()
    assert list(ours.multi_items()) == list(starlettes.multi_items())
    assert ours["name_0"] == "আমিনা Khatun" and ours["email"] == "a+b@example.org" and ours.getlist("type_0") == ["3", "4"]
    assert ours["note"] == "50% off & more" and ours["empty"] == "" and ours["raw"] == "café"
    # parsed once: the endpoint's request.form() gets the same form without reading the body again
    request = FormRequest(_request(body), ours)
    assert await urlencoded_form(request, limit=10_000) is ours and await request.form() is ours

    with pytest.raises(HTTPException) as too_large:
        await urlencoded_form(_request(b"a=" + b"x" * 200), limit=100)
    assert too_large.value.status_code == 413
    with pytest.raises(HTTPException) as too_many:
        await urlencoded_form(_request("&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1)).encode()),
                              limit=1_000_000)
    assert too_many.value.status_code == 400
