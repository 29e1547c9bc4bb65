"""Write jobs sent together share one SQLite transaction, each in its own savepoint (kernel.group_commit)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select

from kernel import group_commit
from kernel.ratelimit import RateEvent


def _job(key: str, *, fail: bool = False, ran: list | None = None, transactions: list | None = None):
    async def job(session):
        if ran is not None:
            ran.append(key)
        if transactions is not None:
            transactions.append(session.sync_session.get_transaction())  # kept: ids stay unique
        await session.execute(insert(RateEvent).values(bucket="group-test", key=key))
        if fail:
            raise ValueError(f"{key} refused")
        return await session.scalar(select(func.count(RateEvent.id)).where(RateEvent.bucket == "group-test"))

    return job


async def _keys(db) -> list[str]:
    async with db.read() as session:
        return sorted(await session.scalars(select(RateEvent.key).where(RateEvent.bucket == "group-test")))


async def test_jobs_sent_together_commit_together_and_a_failing_job_alone_is_undone(db):
    seen: list = []  # the write transactions the jobs ran in
    outcomes = await asyncio.gather(
        group_commit.run(db, _job("a", transactions=seen)), group_commit.run(db, _job("b", transactions=seen)),
        group_commit.run(db, _job("c", fail=True, transactions=seen)),
        group_commit.run(db, _job("d", transactions=seen)), return_exceptions=True,
    )
    writes = len({id(t) for t in seen})
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "c refused"
    assert await _keys(db) == ["a", "b", "d"]  # c's row went with its savepoint; the others are committed
    if db.is_sqlite:
        # In arrival order, each seeing what the earlier ones wrote (c's row gone before d ran), in one transaction.
        assert [o for i, o in enumerate(outcomes) if i != 2] == [1, 2, 3]
        assert writes == 1
    else:
        # PostgreSQL: a transaction each (row locks order the workers, not a process-wide lock).
        assert max(o for i, o in enumerate(outcomes) if i != 2) <= 3
        assert writes == 4


async def test_a_group_that_fails_runs_each_job_again_on_its_own(sqlite_db):
    """Groups are SQLite's (on PostgreSQL each job runs alone already)."""
    db = sqlite_db

    async def breaks_the_transaction(session):
        # Ends the group's transaction under it: its savepoint's release, and the group's commit, then fail.
        await session.execute(insert(RateEvent).values(bucket="group-test", key="breaker"))
        await session.connection()
        raw = (await session.connection()).sync_connection.connection.driver_connection.sqlite
        raw.execute("ROLLBACK")
        return "broke it"

    seen: list = []
    outcomes = await asyncio.gather(
        group_commit.run(db, _job("a", transactions=seen)), group_commit.run(db, breaks_the_transaction),
        group_commit.run(db, _job("b", transactions=seen)), return_exceptions=True,
    )
    writes = len({id(t) for t in seen})
    # The group noticed its transaction was gone (a's row with it) and ran each job again alone: a and b
    # committed, in order; the breaker's row went with its own transaction's ROLLBACK.
    assert outcomes == [1, "broke it", 2]
    assert await _keys(db) == ["a", "b"]
    assert writes == 1 + 2  # the group's, then a's and b's own


async def test_a_request_gone_before_its_group_runs_is_not_run(db):
    ran: list[str] = []
    first = asyncio.create_task(group_commit.run(db, _job("a", ran=ran)))
    gone = asyncio.create_task(group_commit.run(db, _job("b", ran=ran)))
    await asyncio.sleep(0)  # both are queued (SQLite) or started (PostgreSQL)
    gone.cancel()
    assert await first == 1
    with pytest.raises(asyncio.CancelledError):
        await gone
    if db.is_sqlite:
        assert ran == ["a"] and await _keys(db) == ["a"]


async def test_objects_a_job_added_are_written_with_it_or_undone_with_it(db):
    """A job's ORM objects: flushed inside its own savepoint when it succeeds (even if it never flushed), and
    forgotten with its savepoint when it fails, so a later job of the group does not write them."""
    def adds(key: str, *, fail: bool = False):
        async def job(session):
            session.add(RateEvent(bucket="group-test", key=key))  # not flushed by the job
            if fail:
                await session.flush()  # written, then undone with the savepoint
                raise ValueError(f"{key} refused")
            return key
        return job

    async def pending_then_fails(session):
        session.add(RateEvent(bucket="group-test", key="never"))  # pending, never flushed: must not leak
        raise ValueError("refused before any flush")

    outcomes = await asyncio.gather(
        group_commit.run(db, adds("a")), group_commit.run(db, adds("b", fail=True)),
        group_commit.run(db, pending_then_fails), group_commit.run(db, _job("c")), group_commit.run(db, adds("d")),
        return_exceptions=True,
    )
    assert outcomes[0] == "a" and outcomes[4] == "d"
    assert isinstance(outcomes[1], ValueError) and isinstance(outcomes[2], ValueError)
    assert outcomes[3] == (2 if db.is_sqlite else outcomes[3])  # c sees a (and neither b nor "never")
    assert await _keys(db) == ["a", "c", "d"]
