"""Sign-in limits under a burst, the owner's ways in while others guess, and emailed one-time sign-in links."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from sqlalchemy import func, select

from kernel.accounts import Role
from kernel.db import utcnow
from kernel.mail import OutboxMessage
from kernel.ratelimit import RateEvent
from kernel.signin_links import SignInLink, email_link
from kernel.tokens import hash_token
from tests.conftest import csrf_for, login
from tests.core.helpers import new_client, page_text, running_app
from tests.factories import PASSWORD, make_user

WRONG = "not the right password"
LINK_RE = re.compile(r"http://testserver/login/link/([A-Za-z0-9_-]+)")


async def _user(db, **overrides):
    async with db.write() as session:
        return await make_user(session, role=Role.ORGANISER, **overrides)


async def _signed_in(client) -> bool:
    return (await client.get("/organiser/events")).status_code == 200


async def test_a_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit(settings, db):
    """40 wrong passwords for one account at once: each attempt is claimed before the password is checked, so
    only the limit's worth are checked (401) and the rest refused (429), on SQLite and PostgreSQL alike."""
    user = await _user(db)
    async with running_app(settings) as app, new_client(app) as client:
        token = await csrf_for(client)
        form = {"email": user.email, "password": WRONG, "csrf_token": token}
        responses = await asyncio.gather(*(client.post("/login", data=form) for _ in range(40)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(401) == settings.login_max_failures, statuses
    assert statuses.count(429) == 40 - settings.login_max_failures, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert "Too many failed sign-in attempts. Wait 15 minutes and try again" in page_text(refused)
    assert refused.headers["retry-after"] == str(settings.login_window_seconds)
    async with db.read() as session:  # one claim per checked attempt, none for the refused ones
        claims = await session.scalar(select(func.count()).select_from(RateEvent)
                                      .where(RateEvent.bucket == "login-account-address"))
    assert claims == settings.login_max_failures


async def _request_link(client, email: str):
    token = await csrf_for(client, "/login/link")
    return await client.post("/login/link", data={"email": email, "csrf_token": token})


async def _emailed_link(db, email: str) -> str:
    async with db.read() as session:
        messages = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == email)
                                              .order_by(OutboxMessage.id)))
    assert messages, "no sign-in link was emailed"
    assert messages[-1].subject == "Your sign-in link"
    return LINK_RE.search(messages[-1].text_body).group(1)


async def test_a_locked_out_owner_signs_in_from_elsewhere_and_by_an_emailed_link(settings, db):
    owner = await _user(db)
    async with running_app(settings) as app:
        async with new_client(app, address="192.0.2.10") as attacker:
            for _ in range(5):
                assert (await login(attacker, owner.email, WRONG)).status_code == 401
            assert (await login(attacker, owner.email, PASSWORD)).status_code == 429
        async with new_client(app, address="198.51.100.30") as owner_elsewhere:
            assert (await login(owner_elsewhere, owner.email, PASSWORD)).status_code == 303
            assert await _signed_in(owner_elsewhere)

        async with new_client(app, address="192.0.2.10") as owner_same_address:
            assert (await login(owner_same_address, owner.email, PASSWORD)).status_code == 429
            asked = await _request_link(owner_same_address, owner.email.upper())
            assert asked.status_code == 200
            assert f"If an account has the address {owner.email.upper()}, we have emailed it a sign-in link" \
                in page_text(asked)
            token = await _emailed_link(db, owner.email)
            confirm = await owner_same_address.get(f"/login/link/{token}")  # opening it does not use it up
            assert confirm.status_code == 200 and f"This link signs in <strong>{owner.name}</strong>" in confirm.text
            assert not await _signed_in(owner_same_address)
            used = await owner_same_address.post(f"/login/link/{token}",
                                                 data={"csrf_token": await csrf_for(owner_same_address)})
            assert used.status_code == 303 and used.headers["location"] == "/organiser/events"
            assert await _signed_in(owner_same_address)

        async with new_client(app, address="192.0.2.11") as again:  # single use
            second = await again.post(f"/login/link/{token}", data={"csrf_token": await csrf_for(again)})
            assert second.status_code == 410
            assert "This sign-in link has already been used." in page_text(second)
            assert not await _signed_in(again)
    async with db.read() as session:  # hashed at rest
        stored = await session.scalar(select(SignInLink.token_hash).where(SignInLink.user_id == owner.id))
    assert stored == hash_token(token) and token not in stored


async def test_guesses_from_everywhere_stop_password_sign_in_but_not_the_emailed_link(settings, db):
    owner = await _user(db)
    async with running_app(settings, login_max_failures=2) as app:
        for n in range(20):  # 10 x login_max_failures, each from its own address
            async with new_client(app, address=f"192.0.2.{n + 1}") as guesser:
                assert (await login(guesser, owner.email, WRONG)).status_code == 401, n
        async with new_client(app, address="198.51.100.30") as owner_client:
            assert (await login(owner_client, owner.email, PASSWORD)).status_code == 429
            assert (await _request_link(owner_client, owner.email)).status_code == 200
            token = await _emailed_link(db, owner.email)
            used = await owner_client.post(f"/login/link/{token}", data={"csrf_token": await csrf_for(owner_client)})
            assert used.status_code == 303 and await _signed_in(owner_client)


async def test_sign_in_links_expire_and_say_nothing_about_unknown_addresses(settings, db):
    owner = await _user(db)
    async with running_app(settings) as app, new_client(app) as client:
        async with db.write() as session:
            assert await email_link(session=session, email=owner.email, base_url="http://testserver",
                                    now=utcnow() - dt.timedelta(minutes=16))
        token = await _emailed_link(db, owner.email)
        expired = await client.get(f"/login/link/{token}")
        assert expired.status_code == 410 and "This sign-in link has expired." in page_text(expired)
        post = await client.post(f"/login/link/{token}", data={"csrf_token": await csrf_for(client)})
        assert post.status_code == 410 and not await _signed_in(client)
        assert (await client.get("/login/link/not-a-real-token")).status_code == 404

        unknown = await _request_link(client, "nobody@example.org")
        assert unknown.status_code == 200
        assert "If an account has the address nobody@example.org, we have emailed it" in page_text(unknown)
        async with db.read() as session:
            assert await session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.to_addr == "nobody@example.org")) == 0
        assert (await _request_link(client, "not an address")).status_code == 422


async def test_sign_in_links_asked_for_one_account_are_limited(settings, db):
    owner = await _user(db)
    async with running_app(settings) as app, new_client(app) as client:
        for _ in range(3):
            assert (await _request_link(client, owner.email)).status_code == 200
        flooded = await _request_link(client, owner.email)
        assert flooded.status_code == 429 and "Too many sign-in links asked for." in page_text(flooded)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)
                                    .where(OutboxMessage.to_addr == owner.email)) == 3
