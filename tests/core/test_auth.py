"""Signing in and out: password hashes, session cookies, redirects after login, limits, stale sessions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kernel.accounts import Role, User, authenticate, set_password
from tests.conftest import csrf_for, login
from tests.core.helpers import assert_error_page, new_client, page_text, running_app, sign_in
from tests.factories import PASSWORD, make_user

WRONG = "not the right password"


async def _user(db, role=Role.ADMIN, **overrides) -> User:
    async with db.write() as session:
        return await make_user(session, role=role, **overrides)


async def _signed_in(client) -> bool:
    response = await client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    return False


def _cookie_attributes(response) -> set[str]:
    """The attributes of the session cookie set by `response`, e.g. {"httponly", "samesite=lax", "path=/"}."""
    cookies = [
        v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("denhub_session=")
    ]
    assert len(cookies) == 1, response.headers
    return {part.strip().lower() for part in cookies[0].split(";")[1:]}


async def test_password_is_stored_as_an_argon2id_hash(db):
    user = await _user(db, password="a long enough password")
    async with db.read() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$")
    assert "a long enough password" not in stored
    async with db.write() as session:
        assert await authenticate(
            session=session, email=user.email.upper(), password="a long enough password"
        )
        assert (
            await authenticate(session=session, email=user.email, password="A long enough password") is None
        )


async def test_wrong_password_is_401_with_a_message_and_no_session(db, client):
    user = await _user(db)
    response = await login(client, user.email, WRONG)
    assert response.status_code == 401
    assert "That email and password do not match an account." in page_text(response)
    assert f'value="{user.email}"' in response.text  # the email is kept, the password is not
    assert WRONG not in response.text
    assert not await _signed_in(client)
    unknown = await login(client, "nobody@example.org", WRONG)
    assert unknown.status_code == 401
    assert "That email and password do not match an account." in page_text(unknown)


async def test_inactive_account_cannot_sign_in(db, client):
    user = await _user(db)
    async with db.write() as session:
        (await session.get(User, user.id)).is_active = False
    assert (await login(client, user.email, PASSWORD)).status_code == 401
    assert not await _signed_in(client)


@pytest.mark.parametrize(
    ("role", "home"),
    [(Role.ADMIN, "/organiser/events"), (Role.JUDGE, "/account"), (Role.DOOR_STAFF, "/door/")],
)
async def test_correct_password_signs_in_with_a_safe_cookie(db, client, role, home):
    user = await _user(db, role=role)
    response = await login(client, f"  {user.email.upper()} ", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == home
    attributes = _cookie_attributes(response)
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # Settings(https=False)
    page = await client.get(home)
    assert page.status_code == 200
    assert f"Signed in as {user.name}." in page.text  # the flash, shown once
    assert f"Signed in as {user.name}." not in (await client.get(home)).text


async def test_cookie_is_secure_behind_https(settings, db):
    user = await _user(db)
    async with (
        running_app(settings, https=True) as app,
        new_client(app, base_url="https://testserver") as client,
    ):
        response = await login(client, user.email, PASSWORD)
    assert response.status_code == 303
    assert {"secure", "httponly", "samesite=lax"} <= _cookie_attributes(response)


async def test_logout_ends_the_session(db, client):
    await sign_in(client, db)
    assert await _signed_in(client)
    response = await client.post("/logout", data={"csrf_token": await csrf_for(client)})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert not await _signed_in(client)


async def test_old_session_cookie_stops_working_after_password_change(app, db, client):
    user = await sign_in(client, db)
    assert await _signed_in(client)
    async with db.write() as session:
        await set_password(
            session=session, user=await session.get(User, user.id), password="a brand new password"
        )
    assert not await _signed_in(client)
    assert (await login(client, user.email, PASSWORD)).status_code == 401
    assert (await login(client, user.email, "a brand new password")).status_code == 303
    assert await _signed_in(client)


NEXT_CASES = [  # (next sent with the login form, where the browser is sent after signing in)
    ("/events/past", "/events/past"),
    ("/organiser/events/new?x=1", "/organiser/events/new?x=1"),
    ("//evil.example", "/organiser/events"),
    ("//evil.example/organiser/events", "/organiser/events"),
    ("https://evil.example", "/organiser/events"),
    ("https://evil.example/organiser/events", "/organiser/events"),
    ("/\\evil.example", "/organiser/events"),
    ("/\t/evil.example", "/organiser/events"),
    ("javascript:alert(1)", "/organiser/events"),
    ("evil.example", "/organiser/events"),
    ("", "/organiser/events"),
]


async def test_next_only_follows_same_site_paths(db, client):
    user = await _user(db)  # one account for every case: each sign-in clears its failures anyway
    for next_url, expected in NEXT_CASES:
        token = await csrf_for(client)
        response = await client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "next": next_url, "csrf_token": token}
        )
        assert response.status_code == 303, next_url
        assert response.headers["location"] == expected, next_url


async def test_login_page_carries_next_from_the_redirect(db, client):
    user = await _user(db)
    redirect = await client.get("/organiser/events/new")
    assert redirect.headers["location"] == "/login?next=/organiser/events/new"
    page = await client.get(redirect.headers["location"])
    assert 'name="next" value="/organiser/events/new"' in page.text
    response = await client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "next": "/organiser/events/new",
            "csrf_token": await csrf_for(client),
        },
    )
    assert response.headers["location"] == "/organiser/events/new"
    assert (await client.get("/organiser/events/new")).status_code == 200


async def test_too_many_failures_lock_that_account_from_that_address_only(settings, db):
    victim = await _user(db)
    bystander = await _user(db)
    async with running_app(settings, login_max_failures=3) as app:
        async with new_client(app) as client:
            for _ in range(3):
                assert (await login(client, victim.email, WRONG)).status_code == 401
            locked = await login(client, victim.email.upper(), PASSWORD)  # right password, same account
            assert locked.status_code == 429
            assert ("Too many failed sign-in attempts. Wait 15 minutes and try again, or have a sign-in link "
                    "emailed to you") in page_text(locked)
            assert 'href="/login/link"' in locked.text
            assert locked.headers["retry-after"] == str(settings.login_window_seconds)
            assert not await _signed_in(client)
            assert (await login(client, bystander.email, PASSWORD)).status_code == 303  # per account
        # Per account and address: others' wrong guesses do not lock the owner out from their own address.
        async with new_client(app, address="198.51.100.20") as elsewhere:
            assert (await login(elsewhere, victim.email, PASSWORD)).status_code == 303


async def test_failures_below_the_limit_are_forgiven_by_a_success(settings, db):
    user = await _user(db)
    async with running_app(settings, login_max_failures=3) as app, new_client(app) as client:
        for _ in range(2):
            assert (await login(client, user.email, WRONG)).status_code == 401
        assert (await login(client, user.email, PASSWORD)).status_code == 303
        for _ in range(2):  # the earlier failures no longer count towards the limit
            assert (await login(client, user.email, WRONG)).status_code == 401
        assert (await login(client, user.email, PASSWORD)).status_code == 303


async def test_one_address_trying_many_accounts_is_limited(settings, db):
    target = await _user(db)
    async with running_app(settings, login_max_failures=2) as app:
        async with new_client(app, address="192.0.2.55") as attacker:
            # 8 = 4 x login_max_failures, each account below its own limit of 2.
            for n in range(8):
                response = await login(attacker, f"guess{n % 8}@example.org", WRONG)
                assert response.status_code == 401, n
            blocked = await login(attacker, target.email, PASSWORD)
            assert blocked.status_code == 429
            assert "Too many failed sign-in attempts" in page_text(blocked)
        async with new_client(app, address="192.0.2.56") as neighbour:
            assert (await login(neighbour, target.email, PASSWORD)).status_code == 303


async def test_limits_are_shared_by_every_worker(settings, db):
    """Two app instances (workers) over one database count the same failures."""
    user = await _user(db)
    async with (
        running_app(settings, login_max_failures=2) as worker_a,
        running_app(settings, login_max_failures=2) as worker_b,
    ):
        async with new_client(worker_a) as client:
            assert (await login(client, user.email, WRONG)).status_code == 401
        async with new_client(worker_b) as client:
            assert (await login(client, user.email, WRONG)).status_code == 401
        async with new_client(worker_a) as client:
            assert (await login(client, user.email, PASSWORD)).status_code == 429


async def test_signed_in_user_sees_their_name_and_sign_out(db, client):
    await sign_in(client, db, Role.JUDGE, name="Amina Begum")
    page = await client.get("/account")
    assert "Amina Begum" in page.text and "Judge" in page.text
    assert 'action="/logout"' in page.text
    assert_error_page(await client.get("/organiser/events"), 403)


# --- every request checks the account (no per-worker cache) -------------------------------------------

async def test_deactivating_or_demoting_an_account_applies_at_once_in_this_process(settings, db):
    async with running_app(settings) as app, new_client(app) as client:
        organiser = await sign_in(client, app.state.db)
        assert (await client.get("/organiser/events")).status_code == 200
        async with app.state.db.write() as session:
            (await session.get(User, organiser.id)).role = Role.JUDGE.value
        assert (await client.get("/organiser/events")).status_code == 403
        async with app.state.db.write() as session:
            (await session.get(User, organiser.id)).is_active = False
        assert not await _signed_in(client)


async def test_a_change_from_another_process_is_seen_at_once(settings, db):
    from sqlalchemy import update

    async with running_app(settings) as app, new_client(app) as client:
        user = await sign_in(client, app.state.db)
        assert await _signed_in(client)
        # Core UPDATE, as another worker or the CLI would change it: no ORM flush in this process.
        async with app.state.db.write() as session:
            await session.execute(update(User).where(User.id == user.id).values(is_active=False))
        assert not await _signed_in(client)


async def test_a_session_version_bumped_elsewhere_ends_the_session(settings, db):
    from sqlalchemy import update

    async with running_app(settings) as app, new_client(app) as client:
        user = await sign_in(client, app.state.db)
        assert await _signed_in(client)
        async with app.state.db.write() as session:
            await session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
        assert not await _signed_in(client)
