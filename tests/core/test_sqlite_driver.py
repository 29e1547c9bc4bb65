"""kernel.sqlite_driver: SQLAlchemy runs SQLite on a driver connection of our own, every statement in place on
the event loop's thread; the door's and booking's fast paths reach its sqlite3 connection through public API
only, and a test fails if they ever fall back to the slow path without saying so."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from kernel import sqlite_driver
from kernel.db import raw_sqlite
from kernel.ratelimit import RateEvent


async def test_the_fast_paths_reach_sqlite3_on_sqlite_and_nothing_elsewhere(db):
    """raw_sqlite is what every fast path starts from (sqlite_direct, BEGIN, group commit's savepoints): on
    SQLite it must be the sqlite3 connection of the very transaction SQLAlchemy runs, never None."""
    for session_of in (db.read, db.write):
        async with session_of() as session:
            conn = (await session.connection()).sync_connection
            raw = raw_sqlite(conn)
            if not db.is_sqlite:
                assert raw is None
                continue
            assert isinstance(conn.connection.driver_connection, sqlite_driver.InlineConnection)
            assert isinstance(raw, sqlite3.Connection) and raw.in_transaction
            await session.execute(insert(RateEvent).values(bucket="driver-test", key="through sqlalchemy"))
            # The same transaction: sqlite3 sees SQLAlchemy's uncommitted row.
            assert raw.execute("SELECT count(*) FROM rate_event WHERE bucket = 'driver-test'").fetchone() == (1,)
            await session.rollback()


async def test_statements_run_on_the_event_loops_thread(sqlite_db):
    async with sqlite_db.read() as session:
        raw = raw_sqlite((await session.connection()).sync_connection)
        raw.create_function("denhub_thread", 0, threading.get_ident)
        assert await session.scalar(text("SELECT denhub_thread()")) == threading.get_ident()


async def test_a_connection_closed_under_sqlalchemy_is_replaced(sqlite_db):
    """Our connection says "no active connection" as aiosqlite does: SQLAlchemy takes it for a lost connection,
    raises, and the pool opens a fresh one for the next use."""
    async with sqlite_db.read() as session:
        driver = (await session.connection()).sync_connection.connection.driver_connection
        driver.stop()
        with pytest.raises(DBAPIError) as caught:
            await session.execute(text("SELECT 1"))
        assert caught.value.connection_invalidated
    async with sqlite_db.read() as session:
        assert await session.scalar(text("SELECT 1")) == 1


async def test_streamed_results_read_every_row(sqlite_db):
    """A server-side cursor (session.stream) fetches through the driver's cursor as it goes."""
    async with sqlite_db.write() as session:
        await session.execute(insert(RateEvent), [{"bucket": "driver-test", "key": str(n)} for n in range(250)])
    async with sqlite_db.read() as session:
        streamed = await session.stream_scalars(select(RateEvent.key).where(RateEvent.bucket == "driver-test")
                                                .order_by(RateEvent.id).execution_options(yield_per=100))
        assert [key async for key in streamed] == [str(n) for n in range(250)]
        assert await session.scalar(select(func.count()).select_from(RateEvent)) == 250


async def test_a_savepoint_keeps_its_block_or_undoes_it(sqlite_db):
    def add(raw, key):
        raw.execute("INSERT INTO rate_event (bucket, key, at) VALUES ('driver-test', ?, '2026-12-01')", (key,))

    async with sqlite_db.write() as session:
        raw = raw_sqlite((await session.connection()).sync_connection)
        add(raw, "before")
        async with sqlite_driver.savepoint(raw):
            add(raw, "kept")
        with pytest.raises(LookupError):
            async with sqlite_driver.savepoint(raw):
                add(raw, "undone")
                raise LookupError
        add(raw, "after")
    async with sqlite_db.read() as session:
        assert list(await session.scalars(select(RateEvent.key).order_by(RateEvent.id))) == ["before", "kept", "after"]

    async with sqlite_db.write() as session:
        raw = raw_sqlite((await session.connection()).sync_connection)
        with pytest.raises(LookupError):  # the whole transaction ended inside: nothing left to roll back to
            async with sqlite_driver.savepoint(raw):
                add(raw, "gone with the transaction")
                raw.execute("ROLLBACK")
                raise LookupError
        assert not raw.in_transaction
    async with sqlite_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(RateEvent)) == 3
