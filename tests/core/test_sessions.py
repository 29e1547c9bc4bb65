"""kernel.sessions.Sessions: signed-cookie sessions with a memory of cookies already checked. The memory must
never let an expired, forged or changed cookie through, nor one request's changes into another's; the cookie
and its headers are those of Starlette's SessionMiddleware, so sessions survive a switch either way."""

from __future__ import annotations

import httpx
import itsdangerous
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, Router

from kernel.sessions import Sessions
from tests.clock import ManualClock

SECRET = "test-secret-for-sessions"
HOUR = 60 * 60


async def show(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def untouched(request: Request) -> JSONResponse:
    return JSONResponse({"session": "not read"})


async def sign_in(request: Request) -> JSONResponse:
    request.session["uid"] = 7
    request.session["flashes"] = ["Welcome"]
    return JSONResponse({})


async def scribble(request: Request) -> JSONResponse:
    """Changes the session in place without saving it (nested list), as a careless endpoint might."""
    request.session.get("flashes", []).append("scribbled")
    request.session["scratch"] = "only in this response's cookie"
    return JSONResponse(dict(request.session))


async def forget_uid(request: Request) -> JSONResponse:
    request.session.pop("uid", None)
    return JSONResponse(dict(request.session))


async def sign_out(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({})


ROUTES = [Route("/", show), Route("/untouched", untouched), Route("/in", sign_in),
          Route("/scribble", scribble), Route("/forget", forget_uid), Route("/out", sign_out)]


def make_app(max_age: int = 12 * HOUR, clock: ManualClock | None = None, **options) -> Starlette:
    clock_option = {"clock": clock} if clock is not None else {}
    return Starlette(routes=ROUTES, middleware=[Middleware(
        Sessions, secret_key=SECRET, session_cookie="s", max_age=max_age, **clock_option, **options)])


def client(app, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def test_a_remembered_cookie_gives_its_own_data_to_every_request():
    app = make_app()
    async with client(app) as browser:
        await browser.get("/in")
        cookie = browser.cookies["s"]
        assert (await browser.get("/")).json() == {"uid": 7, "flashes": ["Welcome"]}
        scribbled = await browser.get("/scribble")
        assert scribbled.json()["flashes"] == ["Welcome", "scribbled"]
    # the same (remembered) cookie again: the scribbling was that request's own
    async with client(app) as other:
        other.cookies.set("s", cookie)
        assert (await other.get("/")).json() == {"uid": 7, "flashes": ["Welcome"]}
        assert (await other.get("/")).headers.get("set-cookie") is None  # read, not changed: no new cookie


async def test_a_forged_or_changed_cookie_is_an_empty_session():
    app = make_app()
    async with client(app) as browser:
        await browser.get("/in")
        good = browser.cookies["s"]
    forged = itsdangerous.TimestampSigner("another secret").sign(b"eyJ1aWQiOiAxfQ==").decode()
    for bad in (forged, good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "garbage", ""):
        async with client(app) as browser:
            browser.cookies.set("s", bad)
            assert (await browser.get("/")).json() == {}


@pytest.mark.parametrize("checked_before", [True, False], ids=["remembered", "first-seen"])
async def test_a_cookie_lasts_max_age_seconds_and_not_one_more(checked_before):
    clock = ManualClock()
    app = make_app(max_age=12 * HOUR, clock=clock)
    async with client(app) as browser:
        await browser.get("/in")
        cookie = browser.cookies["s"]
        if checked_before:
            assert (await browser.get("/")).json()["uid"] == 7  # checked once, now remembered
    clock.advance(12 * HOUR)
    async with client(app) as browser:
        browser.cookies.set("s", cookie)
        assert (await browser.get("/")).json()["uid"] == 7
    clock.advance(1)
    async with client(app) as browser:
        browser.cookies.set("s", cookie)
        assert (await browser.get("/")).json() == {}
        assert (await browser.get("/")).json() == {}  # and it stays refused once forgotten


async def test_a_cookie_signed_in_the_future_is_refused():
    """A cookie stamped later than this process's clock (another worker's clock far ahead) is not trusted."""
    clock = ManualClock()
    app = make_app(clock=clock)
    async with client(app) as browser:
        await browser.get("/in")
        cookie = browser.cookies["s"]
    clock.advance(-60)
    async with client(app) as browser:
        browser.cookies.set("s", cookie)
        assert (await browser.get("/")).json() == {}


async def test_signing_in_sets_the_cookie_with_its_attributes():
    async with client(make_app(max_age=3600)) as browser:
        response = await browser.get("/in")
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith("s=")
    attributes = [part.strip() for part in set_cookie.split(";")[1:]]
    assert attributes == ["path=/", "Max-Age=3600", "httponly", "samesite=lax"]
    assert response.headers["vary"] == "Cookie"


async def test_behind_https_the_cookie_is_secure():
    async with client(make_app(https_only=True, same_site="strict"), "https://testserver") as browser:
        response = await browser.get("/in")
        assert response.headers["set-cookie"].endswith("; httponly; samesite=strict; secure")
        assert (await browser.get("/")).json()["uid"] == 7


async def test_a_page_that_does_not_use_the_session_gets_no_session_headers():
    app = make_app()
    async with client(app) as browser:
        response = await browser.get("/untouched")
        assert "set-cookie" not in response.headers and "vary" not in response.headers
        await browser.get("/in")
        response = await browser.get("/untouched")
        assert "set-cookie" not in response.headers and "vary" not in response.headers
        read = await browser.get("/")  # read without a change: Vary, but no new cookie
        assert read.headers["vary"] == "Cookie" and "set-cookie" not in read.headers


async def test_removing_a_key_saves_the_rest():
    async with client(make_app()) as browser:
        await browser.get("/in")
        response = await browser.get("/forget")
        assert "set-cookie" in response.headers
        assert (await browser.get("/")).json() == {"flashes": ["Welcome"]}


async def test_signing_out_drops_the_cookie():
    app = make_app()
    async with client(app) as browser:
        await browser.get("/in")
        response = await browser.get("/out")
        assert response.headers["set-cookie"] == (
            "s=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax")
        assert (await browser.get("/")).json() == {}
    async with client(app) as stranger:  # nothing to drop for someone who had no session
        assert "set-cookie" not in (await stranger.get("/out")).headers


async def test_other_cookies_beside_it_do_no_harm():
    async with client(make_app()) as browser:
        await browser.get("/in")
        cookie = browser.cookies["s"]
    headers = {"cookie": f'theme="dark; broken; =odd; s={cookie}; _ga=GA1.2.3'}
    async with client(make_app()) as other:
        assert (await other.get("/", headers=headers)).json()["uid"] == 7


@pytest.mark.parametrize("writer, reader", [(Sessions, SessionMiddleware), (SessionMiddleware, Sessions)],
                         ids=["ours-read-by-starlette", "starlettes-read-by-ours"])
async def test_the_cookie_is_the_one_starlettes_session_middleware_writes(writer, reader):
    def app(middleware):
        return Starlette(routes=ROUTES, middleware=[
            Middleware(middleware, secret_key=SECRET, session_cookie="s", max_age=HOUR)])

    async with client(app(writer)) as browser:
        written = await browser.get("/in")
        cookie = browser.cookies["s"]
    async with client(app(reader)) as browser:
        browser.cookies.set("s", cookie)
        assert (await browser.get("/")).json() == {"uid": 7, "flashes": ["Welcome"]}
        cleared = await browser.get("/out")
    async with client(app(SessionMiddleware)) as browser:  # the same headers, bar the cookie's own value
        browser.cookies.set("s", cookie)
        starlettes_in, starlettes_out = await browser.get("/in"), await browser.get("/out")
    assert written.headers["set-cookie"].split(";")[1:] == starlettes_in.headers["set-cookie"].split(";")[1:]
    assert cleared.headers["set-cookie"] == starlettes_out.headers["set-cookie"]


async def test_the_memory_of_checked_cookies_is_bounded_and_forgetting_changes_nothing():
    class Small(Sessions):
        MAX_REMEMBERED = 3

    clock = ManualClock()
    middleware = Small(Router(ROUTES), secret_key=SECRET, session_cookie="s", max_age=HOUR, clock=clock)
    cookies = []
    for _ in range(10):
        clock.advance(1)  # signed a second apart: ten different cookies
        async with client(middleware) as browser:
            await browser.get("/in")
            assert (await browser.get("/")).json()["uid"] == 7
            cookies.append(browser.cookies["s"])
    assert len(set(cookies)) == 10
    for cookie in cookies:  # each checked again once forgotten: still good
        async with client(middleware) as browser:
            browser.cookies.set("s", cookie)
            assert (await browser.get("/")).json()["uid"] == 7
    assert len(middleware._checked) <= Small.MAX_REMEMBERED
