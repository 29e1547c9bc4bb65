"""Ending a session on the server: a copy of the cookie taken before logout, a password change or a
deactivation opens nothing afterwards (in this worker and, tests/core/test_limits_live.py, in others)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from kernel.accounts import (
    SESSION_MAX_AGE_SECONDS,
    User,
    UserSession,
    deactivate_user,
    open_session,
    set_password,
)
from kernel.db import utcnow
from kernel.tokens import hash_token
from tests.conftest import csrf_for, login
from tests.core.helpers import new_client, sign_in
from tests.factories import PASSWORD


async def _opens_organiser_pages(client) -> bool:
    response = await client.get("/organiser/events")
    if response.status_code == 200:
        return True
    assert response.status_code == 303 and response.headers["location"].startswith("/login"), response.status_code
    return False


async def _logout(client, _db, _user) -> None:
    response = await client.post("/logout", data={"csrf_token": await csrf_for(client, "/account")})
    assert response.status_code == 303


async def _change_password(_client, db, user) -> None:
    async with db.write() as session:
        await set_password(session=session, user=await session.get(User, user.id), password="a brand new password")


async def _deactivate(_client, db, user) -> None:
    async with db.write() as session:
        await deactivate_user(session=session, user=await session.get(User, user.id))


@pytest.mark.parametrize("end", [_logout, _change_password, _deactivate])
async def test_a_copied_cookie_stops_working_when_the_session_ends(app, db, client, end):
    user = await sign_in(client, db)
    async with new_client(app, address="192.0.2.99", cookies=client.cookies) as copy:
        assert await _opens_organiser_pages(copy)  # the copy works while the session lasts
        await end(client, db, user)
        assert not await _opens_organiser_pages(copy)
    assert not await _opens_organiser_pages(client)
    async with db.read() as session:  # the server-side record is gone
        assert await session.scalar(select(func.count()).select_from(UserSession)
                                    .where(UserSession.user_id == user.id)) == 0


async def test_logout_ends_only_that_session(app, db, client):
    user = await sign_in(client, db)
    async with new_client(app) as phone:
        assert (await login(phone, user.email, PASSWORD)).status_code == 303
        await _logout(client, db, user)
        assert await _opens_organiser_pages(phone)
    assert not await _opens_organiser_pages(client)


async def test_a_cookie_without_a_server_side_session_signs_no_one_in(app, db, client):
    """A session cookie signed before server-side sessions (uid and sv only) no longer opens anything."""
    user = await sign_in(client, db)
    data = base64.b64encode(json.dumps({"uid": user.id, "sv": user.session_version}).encode())
    old = TimestampSigner(app.state.settings.effective_secret_key()).sign(data).decode()
    async with new_client(app) as legacy:
        legacy.cookies.set("denhub_session", old)
        assert not await _opens_organiser_pages(legacy)


async def test_signing_in_drops_the_accounts_records_older_than_a_cookie_lives(app, db, client):
    user = await sign_in(client, db)
    async with db.write() as session:
        old = await open_session(session=session, user=await session.get(User, user.id))
        (await session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(old)))).created_at = \
            utcnow() - dt.timedelta(seconds=SESSION_MAX_AGE_SECONDS + 1)
    async with new_client(app) as again:
        assert (await login(again, user.email, PASSWORD)).status_code == 303
    async with db.read() as session:
        hashes = set(await session.scalars(select(UserSession.token_hash).where(UserSession.user_id == user.id)))
    assert len(hashes) == 2 and hash_token(old) not in hashes  # the first sign-in's and the new one's
