"""Database plumbing shared by every domain: the declarative base, the engine factory and sessions.

SQLite: WAL, foreign keys, and write transactions that start with BEGIN IMMEDIATE so concurrent writers
queue for the write lock instead of failing half-way with "database is locked". Writers in one process
queue in order (an asyncio lock) before they ask SQLite; statements run at once on the event loop's
thread (see kernel.sqlite_driver), and a lock held by another process is waited for without blocking the loop;
long reads (Database.slow_read) run on aiosqlite's own thread instead.
PostgreSQL: asyncpg, READ COMMITTED; row locks and atomic conditional UPDATEs where it matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from kernel import sqlite_driver
from kernel.settings import private_directory

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_OPTION = "denhub_write"
SQLITE_BUSY_TIMEOUT_MS = sqlite_driver.BUSY_TIMEOUT_MS


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


def _inline_sqlite_creator(engine: Callable[[], AsyncEngine]):
    async def connect() -> sqlite_driver.InlineConnection:
        # The URL's arguments, as the aiosqlite dialect would pass them to sqlite3.
        args, kwargs = engine().dialect.create_connect_args(engine().url)
        return await sqlite_driver.connect(*args, **kwargs)

    return connect


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # sqlite_driver.connect opened it with isolation_level None: SQLAlchemy, not sqlite3, decides when a
        # transaction begins (_on_begin).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # 0: SQLite must not sleep on the event loop's thread; sqlite_driver waits for locks instead.
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
        # blocking the loop (kernel.sqlite_driver) and raises SQLAlchemy's errors.
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
    """The sqlite3 connection under a SQLAlchemy Connection on SQLite (the driver connection is ours, see
    kernel.sqlite_driver), or None (PostgreSQL, or an engine not made by create_engine)."""
    if conn.dialect.name != "sqlite":
        return None
    driver = conn.connection.driver_connection
    return driver.sqlite if isinstance(driver, sqlite_driver.InlineConnection) else None


def ensure_sqlite_directory(url: str) -> None:
    """The SQLite file's folder made 0700 and the file (and its -wal and -shm) 0600: people's names, emails
    and orders are in it, readable by the app's user only. SQLite gives -wal and -shm the main file's mode,
    so the file is made 0600 before SQLite first opens it; an older one is set to 0600 here."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return
    path = Path(parsed.database)
    private_directory(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # not there yet, or not ours to change
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


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

        read()'s statements run on the event loop's thread on SQLite (see kernel.sqlite_driver): right for the short
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
        async with self._write_turn(), self._writes() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def _session(self, factory: async_sessionmaker) -> AsyncIterator[AsyncSession]:
        """A session closed at the end of the block.

        AsyncSession's own `async with` closes the session in a new task behind asyncio.shield, so that a
        cancelled request cannot interrupt a close that is waiting on the network (PostgreSQL keeps it).
        On SQLite a close never waits (statements run in place, see kernel.sqlite_driver), and that extra task
        held every connection for one more turn of the loop: under load the pool ran out and opened and
        closed a fresh connection for most requests. So SQLite reads close in place.
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
