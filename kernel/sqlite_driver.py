"""Our own asyncio driver connection for SQLite: each call runs at once on the calling (event loop) thread.

aiosqlite queues every call (cursor, execute, fetch, close: three or four per statement) for a thread of its
own and wakes the loop for the answer. Each hop costs far more than the statement, and under load every hop
also waits for the GIL held by the busy loop: a booking rush ran at a few dozen requests/s, mostly waiting.
SQLite statements here take microseconds, so running them in place is faster.

SQLAlchemy takes this connection through create_async_engine's public `async_creator` and drives it with its
aiosqlite dialect, so `InlineConnection` offers the part of aiosqlite's Connection interface that the dialect
uses (cursor, commit, rollback, close, stop, create_function, isolation_level: the driver-level asyncio
connection of its `AsyncIODBAPIConnection` protocol). Our own code reaches the sqlite3 connection underneath as
`InlineConnection.sqlite`, from `Connection.connection.driver_connection` (both public SQLAlchemy API),
without reading any library's internals. Tested with SQLAlchemy 2.0 and 2.1 (pyproject.toml stops below 2.2):
a release that drives its aiosqlite connection differently fails tests/core/test_sqlite_driver.py.

SQLite's own busy handler would sleep on the loop's thread, so the busy timeout is 0 (kernel.db) and a
statement or commit that finds the database locked by another process is tried again after an asyncio sleep,
for up to BUSY_TIMEOUT_MS (writers of this process never meet: they queue in Database.write).

This module also owns the one raw SAVEPOINT of the code base (`savepoint`, used by kernel.group_commit).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Self

BUSY_TIMEOUT_MS = 15_000


async def connect(*args: Any, **kwargs: Any) -> InlineConnection:
    """A connection opened with sqlite3.connect's arguments (as the aiosqlite dialect would pass them).

    SQLAlchemy, not sqlite3, decides when a transaction begins (isolation_level None: sqlite3 never issues
    BEGIN itself; kernel.db's "begin" listener does). check_same_thread is off: a connection the pool drops
    may be closed from the garbage collector's thread."""
    kwargs["check_same_thread"] = False
    kwargs["isolation_level"] = None
    return InlineConnection(sqlite3.connect(*args, **kwargs))


def _retryable(exc: sqlite3.OperationalError) -> bool:
    # Plain SQLITE_BUSY (a lock held elsewhere) leaves the statement undone: safe to run again.
    # BUSY_SNAPSHOT (a stale read transaction wanting to write) never clears by waiting.
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY and code != sqlite3.SQLITE_BUSY_SNAPSHOT


async def _again_while_busy(exc: sqlite3.OperationalError, call: Callable, *args: Any) -> Any:
    """`call(*args)` again until the lock that refused it (`exc`) is free, without blocking the loop."""
    if not _retryable(exc):
        raise exc
    deadline, pause = time.monotonic() + BUSY_TIMEOUT_MS / 1000, 0.001
    while True:
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)
        try:
            return call(*args)
        except sqlite3.OperationalError as again:
            if not _retryable(again) or time.monotonic() >= deadline:
                raise


class InlineConnection:
    """aiosqlite's connection interface over a sqlite3 connection, every call run in place."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.sqlite: sqlite3.Connection | None = connection  # None once closed

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # Read by SQLAlchemy's aiosqlite dialect (aiosqlite's name for the same thing): it commits and rolls
        # back only while the connection is open.
        return self.sqlite

    def _open(self) -> sqlite3.Connection:
        if self.sqlite is None:
            # aiosqlite's words: SQLAlchemy's dialect reads them as a lost connection.
            raise ValueError("no active connection")
        return self.sqlite

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._open().in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        cursor = await self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        connection = self._open()
        try:
            connection.commit()
        except sqlite3.OperationalError as exc:
            await _again_while_busy(exc, connection.commit)

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close now (SQLAlchemy's dialect calls this to terminate a connection it gave up on)."""
        connection, self.sqlite = self.sqlite, None
        if connection is not None:
            connection.close()


class InlineCursor:
    """aiosqlite's cursor interface over a sqlite3 cursor, every call run in place."""

    __slots__ = ("_cursor", "_owner")

    def __init__(self, connection: InlineConnection) -> None:
        self._owner = connection

    async def __aenter__(self) -> Self:
        # Opened here, where SQLAlchemy's dialect (as with aiosqlite) reads a closed connection as a lost one.
        self._cursor = self._owner._open().cursor()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    def __await__(self):
        # SQLAlchemy 2.0's dialect awaits `cursor()` where 2.1's enters it: both get the cursor.
        return self.__aenter__().__await__()

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        try:
            self._cursor.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            await _again_while_busy(exc, self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        # A list, so that a retry runs every row again (an iterator would be spent).
        parameters = list(parameters)
        try:
            self._cursor.executemany(sql, parameters)
        except sqlite3.OperationalError as exc:
            await _again_while_busy(exc, self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self):
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self):
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


# --- a savepoint SQLAlchemy does not know of --------------------------------------------------------------

class savepoint:
    """`async with savepoint(raw):` the block in a SAVEPOINT of SQLite's own on the sqlite3 connection `raw`,
    released when the block ends, rolled back to (and released) when it raises.

    SQLAlchemy's begin_nested() issues the same SAVEPOINT and RELEASE through its whole execution path (and a
    greenlet switch each), which cost a booking rush more than some of its statements. SQLAlchemy does not
    know of this one: whoever uses it keeps the session in step (kernel.group_commit). If SQLite ended the
    whole transaction inside the block (some errors do: disk full, I/O), there is nothing left to roll back
    to; the caller sees `raw.in_transaction` false.
    """

    __slots__ = ("raw",)
    NAME = "denhub_job"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    async def __aenter__(self) -> None:
        self.raw.execute(f"SAVEPOINT {self.NAME}")

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if not self.raw.in_transaction:
                return
            self.raw.execute(f"ROLLBACK TO {self.NAME}")
        self.raw.execute(f"RELEASE {self.NAME}")
