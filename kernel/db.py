"""Database plumbing shared by every domain: the declarative base, the engine factory and sessions.

SQLite: WAL, foreign keys, and write transactions that start with BEGIN IMMEDIATE so concurrent writers
queue for the write lock instead of failing half-way with "database is locked". Writers in one process
queue in order (an asyncio lock) before they ask SQLite; statements run at once on the event loop's
thread (see _InlineSQLite), and a lock held by another process is waited for without blocking the loop;
long reads (Database.slow_read) run on aiosqlite's own thread instead.
PostgreSQL: asyncpg, READ COMMITTED; row locks and atomic conditional UPDATEs where it matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_OPTION = "denhub_write"
SQLITE_BUSY_TIMEOUT_MS = 15_000


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no time zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    # On SQLite the value is text: SQLAlchemy's DATETIME writes "YYYY-MM-DD HH:MM:SS.ffffff" with %-formatting
    # and reads it with a regular expression; every request that books or reads the clock pays for a few of
    # them. The same text, written and read by datetime's own C code (SQLAlchemy's way for anything else).

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        utc = dt.UTC

        def process(value):
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            return value.astimezone(utc).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect, coltype):
        fallback = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return fallback
        utc, parse = dt.UTC, dt.datetime.fromisoformat

        def process(value):
            if value is None:
                return None
            if value.__class__ is str and len(value) == 26:  # the form written above
                try:
                    return parse(value).replace(tzinfo=utc)
                except ValueError:
                    pass
            return fallback(value) if fallback is not None else value

        return process


class _InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection, but each call runs at once on the calling (event loop) thread.

    aiosqlite queues every call (cursor, execute, fetch, close: three or four per statement) for the
    connection's own thread and wakes the loop for the answer. Each hop costs far more than the statement,
    and under load every hop also waits for the GIL held by the busy loop: a booking rush ran at a few
    dozen requests/s, mostly waiting. SQLite statements here take microseconds, so running them in place
    is faster. SQLite's own busy handler would sleep on the loop's thread, so the busy timeout is 0 and a
    statement that finds the database locked by another process is retried after an asyncio sleep, for
    up to SQLITE_BUSY_TIMEOUT_MS (writers of this process never meet: they queue in Database.write).
    """

    _RETRYABLE = frozenset({"execute", "executemany", "executescript", "commit"})

    async def _execute(self, fn, *args, **kwargs):
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        deadline, pause = None, 0.001
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                # Plain SQLITE_BUSY (a lock held elsewhere) leaves the statement undone: safe to run again.
                # BUSY_SNAPSHOT (a stale read transaction wanting to write) never clears by waiting.
                code = getattr(exc, "sqlite_errorcode", None)
                if (code is None or code & 0xFF != sqlite3.SQLITE_BUSY or code == sqlite3.SQLITE_BUSY_SNAPSHOT
                        or getattr(fn, "__name__", "") not in self._RETRYABLE):
                    raise
                now = time.monotonic()
                deadline = deadline or now + SQLITE_BUSY_TIMEOUT_MS / 1000
                if now >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)


def _inline_sqlite_creator(engine: Callable[[], AsyncEngine]):
    async def connect() -> _InlineSQLite:
        # The URL's arguments, as the aiosqlite dialect would pass them. The sqlite3 connection is opened
        # on aiosqlite's thread and used from the loop's thread, hence check_same_thread=False.
        args, kwargs = engine().dialect.create_connect_args(engine().url)
        kwargs["check_same_thread"] = False
        return await _InlineSQLite(lambda: sqlite3.connect(*args, **kwargs), 64)

    return connect


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # 0: SQLite must not sleep on the event loop's thread; _InlineSQLite waits for locks instead.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        # A write transaction takes the write lock up front: writers queue on busy_timeout instead of
        # upgrading a read lock later and failing with SQLITE_BUSY.
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
        # Straight on sqlite3 first: a statement through SQLAlchemy costs more than the BEGIN itself, and
        # every request that writes begins a transaction. Refused (the write lock held by another process,
        # SQLITE_BUSY at once: busy_timeout 0), it runs through SQLAlchemy, which waits for the lock without
        # blocking the loop (_InlineSQLite) and raises SQLAlchemy's errors.
        raw = raw_sqlite(conn)
        if raw is not None:
            try:
                raw.execute(statement)
                return
            except sqlite3.Error:
                pass
        conn.exec_driver_sql(statement)


def _configure_threaded_sqlite_reads(engine: AsyncEngine) -> None:
    """Connections for Database.slow_read(): aiosqlite as it comes, each statement on the connection's own
    thread (sqlite3 lets go of the GIL while SQLite works), so a long read leaves the event loop free."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions begin in _on_begin, as on the main engine
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")  # these sessions only read
        # SQLite's busy handler may sleep here: on aiosqlite's thread, not the loop's.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        # One snapshot for the session's statements (a page of rows and what the ORM loads with it).
        conn.exec_driver_sql("BEGIN")


def raw_sqlite(conn) -> sqlite3.Connection | None:
    """The sqlite3 connection under a SQLAlchemy Connection on SQLite (aiosqlite keeps it as `_connection`),
    or None (PostgreSQL, or aiosqlite changed)."""
    if conn.dialect.name != "sqlite":
        return None
    raw = getattr(conn.connection.driver_connection, "_connection", None)
    return raw if isinstance(raw, sqlite3.Connection) else None


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_directory(url)
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=20, pool_timeout=30,
                                     async_creator=_inline_sqlite_creator(lambda: engine))
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True, pool_timeout=30)


class Database:
    """The engine plus two session factories: reads, and writes that take the write lock first."""

    def __init__(self, url: str, *, pool_size: int = 10):
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writes = async_sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        # SQLite: one asyncio lock per event loop, taken before BEGIN IMMEDIATE (see _write_turn).
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._on_dispose: list[Callable[[], None]] = []
        self._slow_engine: AsyncEngine | None = None  # SQLite: made by the first slow_read()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; rolled back at the end."""
        async with self._session(self._reads) as session:
            yield session

    @contextlib.asynccontextmanager
    async def slow_read(self) -> AsyncIterator[AsyncSession]:
        """A session for a read that may take long (an organiser's export or search); rolled back at the end.

        read()'s statements run on the event loop's thread on SQLite (see _InlineSQLite): right for the short
        statements of a request, but one that scans thousands of rows holds up every request meanwhile, the
        door's scans among them. These run on aiosqlite's thread instead, on connections of their own (read
        only), and the loop serves the others while SQLite works. PostgreSQL (asyncpg never blocks the loop)
        and an in-memory SQLite (a second engine would see another database): the same as read().
        """
        database = make_url(self.url).database
        if not self.is_sqlite or not database or database == ":memory:":
            async with self.read() as session:
                yield session
            return
        if self._slow_engine is None:
            self._slow_engine = create_async_engine(self.url, pool_size=2, max_overflow=3, pool_timeout=30)
            _configure_threaded_sqlite_reads(self._slow_engine)
        async with AsyncSession(self._slow_engine, expire_on_commit=False) as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed if the block ends normally, rolled back on any exception."""
        # Closed by AsyncSession itself (see _session): that close, in a task of its own, is a turn of the
        # loop taken while the write lock is still held, in which the requests already running reach the
        # lock and queue in order. Without it, saves under load were answered less evenly (score_save p99
        # 70 ms instead of 45 ms with 20 judges saving at once).
        async with self._write_turn(), self._writes() as session:
            async with session.begin():
                yield session

    @contextlib.asynccontextmanager
    async def _session(self, factory: async_sessionmaker) -> AsyncIterator[AsyncSession]:
        """A session closed at the end of the block.

        AsyncSession's own `async with` closes the session in a new task behind asyncio.shield, so that a
        cancelled request cannot interrupt a close that is waiting on the network (PostgreSQL keeps it).
        On SQLite a close never waits (statements run in place, see _InlineSQLite), and that extra task
        held every connection for one more turn of the loop: under load the pool ran out and opened and
        closed a fresh connection (and aiosqlite thread) for most requests. So SQLite reads close in place.
        """
        if not self.is_sqlite:
            async with factory() as session:
                yield session
            return
        session = factory()
        try:
            yield session
        finally:
            await session.close()

    @contextlib.asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """On SQLite, wait in line (first come, first served) for this process's one writer at a time.

        SQLite has one write lock per file. Writers of one process that all asked SQLite for it would
        poll its busy handler (sleeping up to 100 ms a try, so the lock sits idle while they sleep, and
        an unlucky writer can lose for longer than the busy timeout); queued here they take it in turn,
        and only writers in other processes (the CLI, the door's thread) meet at SQLite's lock.
        """
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await lock.acquire()
        except TimeoutError:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", (), locked) from None
        try:
            yield
        finally:
            lock.release()

    def on_dispose(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the database is disposed (connections opened beside the engine's pool)."""
        self._on_dispose.append(callback)

    async def dispose(self) -> None:
        for callback in self._on_dispose:
            callback()
        self._on_dispose.clear()
        if self._slow_engine is not None:
            await self._slow_engine.dispose()
            self._slow_engine = None
        await self.engine.dispose()
