"""Sign-in limits and ended sessions across real worker processes (2 uvicorn workers on PostgreSQL, 1 on
SQLite): what one worker claims or ends, every other sees at once."""

from __future__ import annotations

import asyncio
import re

import httpx

from kernel.accounts import Role
from tests.factories import PASSWORD, make_user
from tests.live import live_app

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
BURST = 40
LIMIT = 5  # DENHUB_LOGIN_MAX_FAILURES's default


async def _csrf(client: httpx.AsyncClient, path: str = "/login") -> str:
    return CSRF_RE.search((await client.get(path)).text).group(1)


async def test_login_limit_and_logout_hold_across_worker_processes(db, settings, tmp_path):
    async with db.write() as session:
        target = await make_user(session, role=Role.ORGANISER)
        owner = await make_user(session, role=Role.ORGANISER)
    var = tmp_path / "live"
    var.mkdir()
    with live_app(settings.database_url, var, workers=1 if db.is_sqlite else 2) as base:
        limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            token = await _csrf(client)

            async def wrong() -> int:
                form = {"email": target.email, "password": "not the right password", "csrf_token": token}
                return (await client.post("/login", data=form)).status_code

            statuses = await asyncio.gather(*(wrong() for _ in range(BURST)))
        assert statuses.count(401) == LIMIT, statuses
        assert statuses.count(429) == BURST - LIMIT, statuses

        # A cookie copied before logout opens nothing afterwards, whichever worker answers.
        async with httpx.AsyncClient(base_url=base, timeout=60) as browser:
            signed = await browser.post("/login", data={"email": owner.email, "password": PASSWORD,
                                                        "csrf_token": await _csrf(browser)})
            assert signed.status_code == 303
            copied = dict(browser.cookies)
            async with httpx.AsyncClient(base_url=base, timeout=60, cookies=copied) as copy:
                before = await asyncio.gather(*(copy.get("/organiser/events") for _ in range(10)))
                assert [r.status_code for r in before] == [200] * 10
                out = await browser.post("/logout", data={"csrf_token": await _csrf(browser, "/account")})
                assert out.status_code == 303
                after = await asyncio.gather(*(copy.get("/organiser/events") for _ in range(10)))
                assert [(r.status_code, r.headers.get("location", "")[:6]) for r in after] == [(303, "/login")] * 10


async def test_denhub_serve_believes_no_x_forwarded_for_by_default(sqlite_db, tmp_path):
    """`denhub serve` without DENHUB_TRUSTED_PROXIES: a local process sending X-Forwarded-For is still counted
    as itself (uvicorn alone would believe 127.0.0.1), so forged addresses do not escape the address limit.
    (About the server's options, not the database: SQLite only.)"""
    var = tmp_path / "live"
    var.mkdir()
    with live_app(sqlite_db.url, var, via_cli=True, extra_env={"DENHUB_LOGIN_MAX_FAILURES": "1"}) as base:
        statuses = []
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            token = await _csrf(client)
            for n in range(5):  # 4 wrong sign-ins per address (4 x DENHUB_LOGIN_MAX_FAILURES), each account new
                response = await client.post("/login", headers={"x-forwarded-for": f"198.51.100.{n + 1}"},
                                             data={"email": f"nobody{n}@example.org", "password": "wrong password",
                                                   "csrf_token": token})
                statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 401, 429]
