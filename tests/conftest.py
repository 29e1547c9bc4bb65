"""Test harness: every test gets its own database state, on SQLite always and PostgreSQL when
DENHUB_TEST_POSTGRES_URL is set. With DENHUB_TEST_REQUIRE_ALL=1 (CI) a test that would skip fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from denhub.app import create_app
from denhub.models import metadata
from kernel.accounts import use_password_hasher
from kernel.db import Database
from kernel.migrate import upgrade
from kernel.settings import Settings

REQUIRE_ALL = os.environ.get("DENHUB_TEST_REQUIRE_ALL") == "1"
POSTGRES_URL = os.environ.get("DENHUB_TEST_POSTGRES_URL", "")
TEST_SECRET = "test-secret-key-that-is-long-enough-for-denhub-0123456789"

# Real argon2id hashes, made cheaply: at the production cost (64 MB, 3 passes) the sign-ins of the suite took
# most of its time. Servers the tests start in other processes (e2e, CLI) keep the production cost.
use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


def skip_or_fail(reason: str) -> None:
    """Outside CI a missing service skips the test; in CI it fails it."""
    if REQUIRE_ALL:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_ALL and reporter is not None and reporter.stats.get("skipped"):
        reporter.write_line("DENHUB_TEST_REQUIRE_ALL=1: skipped tests count as failures", red=True)
        session.exitstatus = 1


# --- databases -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once to head; each test copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database():
    """A fresh PostgreSQL database for this test run, migrated to head, dropped at the end."""
    if not POSTGRES_URL:
        yield None
        return
    import asyncio

    name = f"denhub_test_{uuid.uuid4().hex[:10]}"
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        engine = create_async_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - reported as a skip or a CI failure
        yield exc
        return
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Children before parents, so no foreign key is ever left pointing at a deleted row.
_EMPTY_EVERY_TABLE = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables))
# The sequences of id columns (those a table owns), so ids start at 1 again as in a fresh database.
_RESTART_IDS = """SELECT setval(s.oid, 1, false) FROM pg_class s
                  JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') WHERE s.relkind = 'S'"""


async def _empty_postgres(url: str) -> None:
    """Every table emptied and every id sequence restarted, in one transaction. DELETE rather than TRUNCATE:
    on the few rows a test leaves it is ten times faster (TRUNCATE makes new files for every table)."""
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"BEGIN; {_EMPTY_EVERY_TABLE}; {_RESTART_IDS}; COMMIT")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request, tmp_path, sqlite_template, postgres_database) -> str:
    """A database URL with an empty, migrated schema for this one test."""
    if request.param == "sqlite":
        path = tmp_path / "denhub.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if postgres_database is None:
        skip_or_fail("PostgreSQL tests need DENHUB_TEST_POSTGRES_URL")
    if isinstance(postgres_database, Exception):
        skip_or_fail(f"PostgreSQL at DENHUB_TEST_POSTGRES_URL is not usable: {postgres_database}")
    await _empty_postgres(postgres_database)
    return postgres_database


@pytest.fixture
async def sqlite_db(tmp_path, sqlite_template):
    """A Database on a migrated SQLite file of its own, without the app: for tests of SQLite's own machinery."""
    path = tmp_path / "own.sqlite3"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    return Settings(
        env="test", database_url=db_url, secret_key=TEST_SECRET, var_dir=str(tmp_path / "var"),
        base_url="http://testserver",
    ).validated()


@pytest.fixture
async def app(settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Without its outbox sender, which would render the PDF tickets of every booking a test makes (no
        # test reads them) and, in tests that start servers on the same database, race theirs for the
        # emails. Tests of email run a sender of their own (tests/core/test_mail.py, test_ticket_email.py).
        await app.state.mail_sender.stop()
        yield app


@pytest.fixture
def db(app):
    return app.state.db


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# --- helpers shared by tests -----------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text)}
    )


async def csrf_for(client: httpx.AsyncClient, path: str = "/login") -> str:
    """A valid CSRF token for this client's session (any page with a form gives one)."""
    return csrf_from((await client.get(path)).text)
