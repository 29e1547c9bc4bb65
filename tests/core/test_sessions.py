"""kernel.sessions.Sessions: Starlette's signed-cookie sessions with a memory of cookies already checked. The
memory must never let an expired, forged or changed cookie through, nor one request's changes into another's."""

from __future__ import annotations

import time

import httpx
import itsdangerous
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kernel.sessions import Sessions

SECRET = "test-secret-for-sessions"


async def show(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def sign_in(request: Request) -> JSONResponse:
    request.session["uid"] = 7
    request.session["flashes"] = ["Welcome"]
    return JSONResponse({})


async def scribble(request: Request) -> JSONResponse:
    """Changes the session in place without saving it (nested list), as a careless endpoint might."""
    request.session.get("flashes", []).append("scribbled")
    request.session["scratch"] = "only in this response's cookie"
    return JSONResponse(dict(request.session))


async def sign_out(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({})


def make_app(max_age: int = 3600) -> Starlette:
    return Starlette(routes=[Route("/", show), Route("/in", sign_in), Route("/scribble", scribble),
                             Route("/out", sign_out)],
                     middleware=[Middleware(Sessions, secret_key=SECRET, session_cookie="s", max_age=max_age)])


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


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


async def test_a_remembered_cookie_still_expires():
    app = make_app(max_age=2)
    async with client(app) as browser:
        await browser.get("/in")
        cookie = browser.cookies["s"]
        assert (await browser.get("/")).json()["uid"] == 7  # checked once, now remembered
    time.sleep(3.1)
    async with client(app) as browser:
        browser.cookies.set("s", cookie)
        assert (await browser.get("/")).json() == {}


async def test_signing_out_drops_the_cookie():
    app = make_app()
    async with client(app) as browser:
        await browser.get("/in")
        response = await browser.get("/out")
        assert 's=null' in response.headers["set-cookie"] and "1970" in response.headers["set-cookie"]
        assert (await browser.get("/")).json() == {}
