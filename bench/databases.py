"""Throwaway databases for a benchmark: SQLite in a temporary directory (with the demo programme unless
asked not to), or a new database on a PostgreSQL server, dropped afterwards. Either comes migrated, with the
environment a server and the `denhub` commands need to use it: production mode (a random secret key), no
inherited DENHUB_* setting, and the extra settings the benchmark asks for."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.common import log
from bench.servers import clean_env, denhub


@dataclasses.dataclass(frozen=True)
class BenchDatabase:
    url: str
    env: dict[str, str]  # pass to serve() and to any `denhub` command that should use this database
    label: str  # for notes: "SQLite" or "PostgreSQL"


def _env(url: str, var_dir: Path, base_url: str, settings: dict[str, object]) -> dict[str, str]:
    """Keyword `settings` become DENHUB_* settings, e.g. listing_cache_seconds="0". This process then seals and
    opens events' signing keys with the key file the server will use (kernel.keyring), as a benchmark that
    books tickets itself must."""
    from kernel import keyring

    keyring.use_file(var_dir / "signing-keys")
    return clean_env(
        DENHUB_DATABASE_URL=url,
        DENHUB_VAR_DIR=str(var_dir),
        DENHUB_ENV="production",
        DENHUB_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        DENHUB_BASE_URL=base_url,
        **{f"DENHUB_{k.upper()}": str(v) for k, v in settings.items()},
    )


@contextlib.contextmanager
def demo_database(*, base_url: str = "http://127.0.0.1:8000", demo: bool = True,
                  **settings: str) -> Iterator[BenchDatabase]:
    """A fresh SQLite database in a temporary directory: migrated, with the demo programme loaded."""
    with tempfile.TemporaryDirectory(prefix="denhub-bench-") as tmp:
        directory = Path(tmp)
        url = f"sqlite+aiosqlite:///{directory / 'denhub.sqlite3'}"
        env = _env(url, directory / "var", base_url, settings)
        denhub(["db", "upgrade"], env=env)
        if demo:
            denhub(["demo"], env=env)
        yield BenchDatabase(url, env, "SQLite")


@contextlib.contextmanager
def postgres_database(server_url: str, *, base_url: str, **settings: str) -> Iterator[BenchDatabase]:
    """A new database on the server, migrated, dropped at the end (also when the benchmark fails)."""
    name = f"denhub_bench_{secrets.token_hex(6)}"
    admin = _admin_url(server_url)
    asyncio.run(_pg_admin(admin, f'CREATE DATABASE "{name}"'))
    log(f"created PostgreSQL database {name}")
    try:
        with tempfile.TemporaryDirectory(prefix="denhub-bench-pg-") as tmp:
            url = _database_url(server_url, name)
            env = _env(url, Path(tmp) / "var", base_url, settings)
            denhub(["db", "upgrade"], env=env)
            yield BenchDatabase(url, env, "PostgreSQL")
    finally:
        asyncio.run(_pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        log(f"dropped PostgreSQL database {name}")


def postgres_reachable(server_url: str) -> str | None:
    """None when PostgreSQL answers at `server_url`, else why not."""
    try:
        asyncio.run(_pg_admin(_admin_url(server_url), "SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "skip", with the reason shown
        return f"{type(exc).__name__}: {exc}"
    return None


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    url = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _database_url(server_url: str, database: str) -> str:
    """`server_url` (with or without a database in it) pointing at `database`."""
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _admin_url(server_url: str) -> str:
    return _database_url(server_url, "postgres")
