"""HTTP helpers shared by tests/core and tests/events: sign in as a role, check error pages, read forms."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx

from denhub.app import create_app
from kernel.accounts import Role, User
from kernel.settings import Settings
from kernel.web import LONDON
from tests.conftest import csrf_for, login
from tests.factories import PASSWORD, make_user

CLIENT_ADDRESS = "203.0.113.7"  # the address the conftest `client` fixture uses


def new_client(
    app,
    *,
    address: str = CLIENT_ADDRESS,
    base_url: str = "http://testserver",
    cookies: httpx.Cookies | None = None,
) -> httpx.AsyncClient:
    """Another browser (own cookie jar), optionally from another address; use with `async with`."""
    transport = httpx.ASGITransport(app=app, client=(address, 5555))
    return httpx.AsyncClient(transport=transport, base_url=base_url, cookies=cookies)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, **changes) -> AsyncIterator:
    """An app (own process state: listing cache, settings) over the same database as `settings`; without
    its outbox sender, as the `app` fixture."""
    app = create_app(dataclasses.replace(settings, **changes).validated())
    async with app.router.lifespan_context(app):
        await app.state.mail_sender.stop()
        yield app


async def sign_in(client: httpx.AsyncClient, db, role: Role | str = Role.ADMIN, **overrides) -> User:
    """Create a user with `role` and sign `client` in as them through the login form."""
    async with db.write() as session:
        user = await make_user(session, role=role, **overrides)
    response = await login(client, user.email, overrides.get("password", PASSWORD))
    assert response.status_code == 303, response.text
    return user


def page_text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def assert_in_layout(response: httpx.Response) -> None:
    """The page is a full page of the site (header, navigation, footer), not a bare error string."""
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    assert '<header class="site-header">' in response.text
    assert '<nav aria-label="Main">' in response.text
    assert '<footer class="site-footer">' in response.text


def assert_error_page(response: httpx.Response, status: int, message: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert_in_layout(response)
    assert f"Error {status}" in response.text
    if message is not None:
        assert message in page_text(response), page_text(response)[:2000]


FIELD_RE = r'<div class="field[^"]*">\s*<label for="{name}">.*?</div>'


def field_block(page: str, name: str) -> str:
    """The HTML of one form field (label, hint, error and input) on a rendered form."""
    match = re.search(FIELD_RE.format(name=re.escape(name)), page, re.DOTALL)
    assert match, f"no field {name!r} on the page"
    return html.unescape(match.group(0))


def input_value(page: str, name: str) -> str:
    """The value a text input or textarea shows."""
    block = field_block(page, name)
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", block, re.DOTALL)
    if textarea:
        return textarea.group(1)
    match = re.search(rf'<input id="{re.escape(name)}"[^>]* value="([^"]*)"', block)
    assert match, block
    return match.group(1)


def local_input(value: dt.datetime) -> str:
    """A datetime as a browser's datetime-local field sends it (Birmingham time, no zone)."""
    return value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def event_form(**overrides) -> dict[str, str]:
    """A valid organiser event form; override any field."""
    now = dt.datetime.now(dt.UTC)
    values = {
        "title": "Outdoor cinema in the gardens",
        "slug": "",
        "summary": "A family film under the trees.",
        "description": "Bring a **blanket**.",
        "category": "screening",
        "venue_name": "Soho House gardens",
        "venue_address": "Soho Avenue, Handsworth, Birmingham B18 5LB",
        "starts_at": local_input(now + dt.timedelta(days=20)),
        "ends_at": local_input(now + dt.timedelta(days=20, hours=2)),
        "capacity": "150",
        "accessibility_notes": "",
        "image_alt": "",
    }
    values.update(overrides)
    return values


NO_FILE = ("", b"", "application/octet-stream")  # what a browser sends for an empty file input


async def post_event_form(
    client: httpx.AsyncClient, path: str, data: dict, *, image=NO_FILE, csrf: str | None = None
) -> httpx.Response:
    """Submit the event form as a browser does: multipart, with the CSRF token and the file input."""
    token = csrf if csrf is not None else await csrf_for(client, "/organiser/events/new")
    return await client.post(path, data={**data, "csrf_token": token}, files={"image": image})


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag


def elements(page: str) -> list[tuple[str, dict[str, str]]]:
    """Every element (tag, attributes) on a page, as a browser's parser sees them."""
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser.elements


def assert_no_active_content(page: str) -> None:
    """Nothing on the page can run script: no script tags, no on* handlers, no javascript: URLs."""
    for tag, attrs in elements(page):
        assert tag not in {"script", "iframe", "object", "embed"}, (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            if name in {"href", "src", "action", "formaction"}:
                cleaned = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                assert not cleaned.startswith(("javascript:", "vbscript:", "data:text")), (tag, attrs)
