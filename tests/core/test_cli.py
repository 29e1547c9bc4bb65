"""The `denhub` command. `main()` runs asyncio.run itself, so these tests are plain (sync) functions."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select

from denhub.cli import main
from events import services
from events.models import Event
from kernel.accounts import User, UserSession, authenticate, open_session
from kernel.db import Database
from tests.conftest import TEST_SECRET


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    """Point the command at a database through the environment, as an operator would."""

    def point_at(url: str) -> str:
        monkeypatch.setenv("DENHUB_ENV", "test")
        monkeypatch.setenv("DENHUB_SECRET_KEY", TEST_SECRET)
        monkeypatch.setenv("DENHUB_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("DENHUB_DATABASE_URL", url)
        return url

    return point_at


def query(url: str, fn):
    """Run `fn(session)` against the database in a fresh event loop; returns its result."""

    async def run():
        db = Database(url)
        try:
            async with db.write() as session:
                return await fn(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


async def _users(session) -> list[tuple[str, str, str]]:
    rows = await session.execute(select(User.email, User.role, User.name).order_by(User.id))
    return [tuple(row) for row in rows]


def test_db_upgrade_then_user_add_on_a_fresh_database(cli_env, tmp_path, capsys):
    url = cli_env(f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'denhub.sqlite3'}")
    main(["db", "upgrade"])
    assert "database is at revision heads" in capsys.readouterr().out
    main(
        [
            "user",
            "add",
            " Ann.Organiser@Example.ORG ",
            "--role",
            "organiser",
            "--name",
            "Ann",
            "--password",
            "a long enough password",
        ]
    )
    assert "added organiser" in capsys.readouterr().out
    assert query(url, _users) == [("ann.organiser@example.org", "organiser", "Ann")]

    async def check(session):
        return await authenticate(
            session=session, email="ann.organiser@example.org", password="a long enough password"
        )

    assert query(url, check) is not None


def test_user_add_and_duplicate_email(cli_env, db_url, capsys):
    url = cli_env(db_url)
    main(["user", "add", "judge@example.org", "--role", "judge", "--password", "a long enough password"])
    assert "added judge judge@example.org" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(
            ["user", "add", "JUDGE@example.org", "--role", "organiser", "--password", "another long password"]
        )
    assert exited.value.code == "denhub: An account with that email already exists."
    assert query(url, _users) == [("judge@example.org", "judge", "judge@example.org")]


def test_user_password_and_deactivate_end_the_accounts_sessions(cli_env, db_url, capsys):
    url = cli_env(db_url)
    main(["user", "add", "door@example.org", "--role", "door_staff", "--password", "a long enough password"])

    async def open_one(session):
        user = await session.scalar(select(User).where(User.email == "door@example.org"))
        await open_session(session=session, user=user)

    async def sessions(session):
        return await session.scalar(select(func.count()).select_from(UserSession))

    query(url, open_one)
    main(["user", "password", "DOOR@example.org", "--password", "a brand new password"])
    assert "password changed for DOOR@example.org" in capsys.readouterr().out
    assert query(url, sessions) == 0
    assert query(url, lambda s: authenticate(session=s, email="door@example.org", password="a brand new password"))

    query(url, open_one)
    main(["user", "deactivate", "door@example.org"])
    assert "deactivated door@example.org" in capsys.readouterr().out
    assert query(url, sessions) == 0
    assert query(url, lambda s: authenticate(session=s, email="door@example.org",
                                             password="a brand new password")) is None
    with pytest.raises(SystemExit) as exited:
        main(["user", "deactivate", "nobody@example.org"])
    assert exited.value.code == "denhub: no account has the email nobody@example.org"
    with pytest.raises(SystemExit) as exited:
        main(["user", "password", "door@example.org", "--password", "short"])
    assert exited.value.code == "denhub: Passwords need at least 10 characters."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "organiser", "--password", "short"], "denhub: Passwords need at least 10 characters."),
        (["--role", "organiser", "--password", "a long enough password", "--email-typo"], None),
        (["--role", "superuser", "--password", "a long enough password"], None),
    ],
)
def test_user_add_refuses_bad_input(cli_env, db_url, capsys, args, message):
    url = cli_env(db_url)
    with pytest.raises(SystemExit) as exited:
        main(["user", "add", "someone@example.org", *args])
    if message:
        assert exited.value.code == message
    else:  # argparse: usage error, exit status 2, the reason on stderr
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "invalid choice" in err or "unrecognized arguments" in err
    assert query(url, _users) == []


def test_user_add_refuses_an_invalid_email(cli_env, db_url):
    url = cli_env(db_url)
    with pytest.raises(SystemExit) as exited:
        main(["user", "add", "not-an-email", "--role", "judge", "--password", "a long enough password"])
    assert exited.value.code == "denhub: Enter a valid email address."
    assert query(url, _users) == []


def test_demo_if_empty_loads_once(cli_env, db_url, capsys):
    url = cli_env(db_url)
    main(["demo", "--if-empty"])
    out = capsys.readouterr().out
    assert "demo programme: 5 events added" in out

    async def counts(session):
        upcoming = await services.list_upcoming(session=session)
        past, _ = await services.list_past(session=session)
        total = await session.scalar(select(func.count(Event.id)))
        return len(upcoming), len(past), total, {e.status for e in upcoming + past}

    assert query(url, counts) == (4, 1, 5, {"published"})
    # Outside development the organiser gets a random password, printed once.
    printed = re.search(r"demo organiser login: (\S+) / (\S+)", out)
    assert printed and printed.group(2) != "soho-house-demo"

    async def demo_login(session):
        return await authenticate(session=session, email=printed.group(1), password=printed.group(2))

    assert query(url, demo_login) is not None

    main(["demo", "--if-empty"])
    second = capsys.readouterr().out
    assert "nothing added" in second
    assert "demo organiser login" not in second  # not in development: the password is not shown again
    assert query(url, counts) == (4, 1, 5, {"published"})
    roles = [role for _email, role, _name in query(url, _users)]
    assert roles.count("admin") == 1  # loading twice made no second demo administrator
    assert roles.count("judge") == 3  # the demo pitch night's panel, also made once


def test_bad_settings_stop_the_command_with_the_variable_named(cli_env, tmp_path, monkeypatch):
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("DENHUB_ENV", "staging")
    with pytest.raises(SystemExit) as exited:
        main(["settings"])
    assert str(exited.value.code).startswith("denhub: DENHUB_ENV must be one of")


def test_several_workers_need_postgresql(cli_env, tmp_path):
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", "2"])
    assert "several workers need PostgreSQL" in str(exited.value.code)


def test_settings_command_lists_every_variable_and_hides_the_secret(cli_env, tmp_path, capsys):
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    main(["settings"])
    out = capsys.readouterr().out
    assert "DENHUB_DATABASE_URL" in out and "DENHUB_LOGIN_MAX_FAILURES" in out
    assert TEST_SECRET not in out
