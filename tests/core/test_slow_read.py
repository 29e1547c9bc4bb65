"""Database.slow_read(): a long read leaves the event loop free (on SQLite its statements run on aiosqlite's
thread, not the loop's as read()'s do), sees what was committed, and cannot write."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError

from kernel.db import utcnow
from kernel.ratelimit import RateEvent

# About a million steps of SQLite's own work in one statement: long enough for the loop to turn many times if
# it is free, and never long enough to hold a test up.
LONG_QUERY = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
                  "SELECT count(*) FROM n")


async def _turns_of_the_loop_during(read) -> int:
    """How many times another task ran on the loop while `read`'s session ran LONG_QUERY."""
    turns = 0
    stop = False

    async def other_task():
        nonlocal turns
        while not stop:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    async with read() as session:
        await session.scalar(text("SELECT 1"))  # the connection opened (aiosqlite opens it on its thread)
        start = turns
        assert await session.scalar(LONG_QUERY) == 300000
        during = turns - start
    stop = True
    await task
    return during


async def test_a_slow_read_leaves_the_event_loop_free(db):
    during_slow_read = await _turns_of_the_loop_during(db.slow_read)
    assert during_slow_read > 50
    if db.is_sqlite:
        # The reason it exists: read()'s statement holds the loop from start to end.
        assert await _turns_of_the_loop_during(db.read) < 5 < during_slow_read


async def test_a_slow_read_sees_committed_rows_and_cannot_write(db):
    async with db.write() as session:
        session.add(RateEvent(bucket="slow-read-test", key="k", at=utcnow()))
    count = select(func.count(RateEvent.id)).where(RateEvent.bucket == "slow-read-test")
    async with db.slow_read() as session:
        assert await session.scalar(count) == 1
    if db.is_sqlite:
        with pytest.raises(OperationalError, match="readonly"):
            async with db.slow_read() as session:
                await session.execute(delete(RateEvent))
    async with db.read() as session:
        assert await session.scalar(count) == 1
