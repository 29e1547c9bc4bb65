"""A door link's PIN limit holds under a burst, from any number of addresses, in one worker or several."""

from __future__ import annotations

import asyncio
import re

import httpx

from kernel.accounts import hash_password
from kernel.tokens import hash_token
from tests.conftest import csrf_from
from tests.core.helpers import new_client
from tests.factories import make_event
from tests.live import live_app
from ticketing.door import PIN_MAX_FAILURES
from ticketing.models import DoorLink

PIN = "482193"
TOKEN = "burst-test-door-link-token-0123456789"
GUESSES = 60


async def _door_link(db) -> str:
    async with db.write() as session:
        event = await make_event(session)
        session.add(DoorLink(event_id=event.id, label="Garden gate", token_hash=hash_token(TOKEN),
                             pin_hash=await hash_password(PIN)))
    return f"/door/link/{TOKEN}"


def _guess(n: int) -> str:
    """A different wrong six-digit PIN for each n."""
    return f"{n:06d}"


async def test_a_burst_of_wrong_pins_from_many_addresses_gets_no_more_checks_than_the_limit(app, db):
    path = await _door_link(db)
    clients = [new_client(app, address=f"198.51.{n // 250}.{n % 250 + 1}") for n in range(GUESSES)]
    try:
        tokens = [csrf_from((await c.get(path)).text) for c in clients]
        responses = await asyncio.gather(*(c.post(path, data={"pin": _guess(n), "csrf_token": tokens[n]})
                                           for n, c in enumerate(clients)))
        statuses = [r.status_code for r in responses]
        assert statuses.count(401) == PIN_MAX_FAILURES, statuses
        assert statuses.count(429) == GUESSES - PIN_MAX_FAILURES, statuses
        # The right PIN now waits too (the limit is the link's), from yet another address.
        async with new_client(app, address="203.0.113.200") as volunteer:
            token = csrf_from((await volunteer.get(path)).text)
            assert (await volunteer.post(path, data={"pin": PIN, "csrf_token": token})).status_code == 429
    finally:
        for c in clients:
            await c.aclose()


async def test_the_pin_limit_holds_across_worker_processes(db, settings, tmp_path):
    """The same burst against real uvicorn workers (2 on PostgreSQL, 1 on SQLite) behind a trusted proxy that
    names a different visitor for every guess."""
    path = await _door_link(db)
    var = tmp_path / "live"
    var.mkdir()
    with live_app(settings.database_url, var, workers=1 if db.is_sqlite else 2,
                  extra_env={"DENHUB_TRUSTED_PROXIES": "127.0.0.1"}) as base:
        async def attempt(n: int) -> int:
            headers = {"x-forwarded-for": f"198.51.{n // 250}.{n % 250 + 1}"}
            async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
                token = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(path)).text).group(1)
                return (await client.post(path, data={"pin": _guess(n), "csrf_token": token})).status_code

        statuses = await asyncio.gather(*(attempt(n) for n in range(GUESSES)))
    assert statuses.count(401) == PIN_MAX_FAILURES, statuses
    assert statuses.count(429) == GUESSES - PIN_MAX_FAILURES, statuses
