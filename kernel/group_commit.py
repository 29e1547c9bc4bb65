"""Write transactions that wait for SQLite's write lock together, committed together (group commit).

SQLite has one write lock per file, so this process's writers take turns anyway (Database.write). In a rush
(a flash sale: dozens of bookings at once) each turn costs a BEGIN IMMEDIATE, a session and a WAL commit
that writes every page it touched, and most of a booking's time went there. Here the jobs that arrive while
a transaction is being written wait for the next one; it runs them in arrival order, each in a SAVEPOINT of
its own, and commits them at once. Each job sees what the earlier jobs of its group wrote, exactly as if it
had run after them in a transaction of its own. Jobs return values, not the session's objects: the session
forgets its objects when a job is undone (see _in_savepoint).

A job's exception rolls back its savepoint alone and is raised to the job's caller; the others go on. If the
group itself fails (the commit, or anything outside a job's savepoint), it is rolled back and each of its
jobs runs again in a transaction of its own, with its own outcome. Jobs must therefore be safe to run again
after a rollback (everything they do is in the transaction).

PostgreSQL has no such lock (row locks order the workers): there each job is a transaction of its own.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import sqlite_driver
from kernel.db import Database, raw_sqlite

T = TypeVar("T")
Job = Callable[[AsyncSession], Awaitable[T]]

MAX_GROUP = 64  # jobs in one transaction at most (a group holds the write lock while it runs)


async def run(db: Database, job: Job[T]) -> T:
    """`await job(session)` in a write transaction, committed before this returns; grouped on SQLite."""
    if db.is_sqlite:
        return await queue_for(db, "jobs", lambda: Queue(functools.partial(_write_jobs, db))).submit(job)
    return await _alone(db, job)


async def _alone(db: Database, job: Job[T]) -> T:
    async with db.write() as session:
        result = await job(session)
        # Commit and give the connection back now: leaving it to `async with` would hold both (and SQLite's
        # write lock) across a turn of the event loop, while the close runs in a task of its own.
        await session.commit()
        await session.close()
    return result


class _GroupLost(Exception):
    """The group's transaction ended under it."""


@dataclass
class Waiting:
    """One item in a Queue, and the future its sender awaits."""

    item: Any
    future: asyncio.Future = field(repr=False)

    def answer(self, outcome: Any) -> None:
        """Give the sender `outcome` (an exception is raised to it), unless it has gone."""
        if self.future.done():
            return
        if isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(outcome)


class Queue:
    """Items waiting for this process's SQLite write lock, on one event loop: `write_group(group)` answers
    each Waiting of a group (in arrival order, at most `max_group`), and the items sent meanwhile wait for
    the next group."""

    def __init__(self, write_group: Callable[[list[Waiting]], Awaitable[None]], max_group: int = MAX_GROUP) -> None:
        self.write_group = write_group
        self.max_group = max_group
        self.waiting: list[Waiting] = []
        self.running = False

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append(Waiting(item, future))
        if not self.running:
            self.running = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while True:
                # One turn of the loop first: items sent with this one join its group, and the requests answered
                # by the last group send their responses before the next group is written.
                await asyncio.sleep(0)
                if not self.waiting:
                    break
                group, self.waiting = self.waiting[:self.max_group], self.waiting[self.max_group:]
                live = [w for w in group if not w.future.done()]  # a request gone is not written
                if live:
                    await self.write_group(live)
        finally:
            self.running = False
            if self.waiting:  # an item queued while the last group was being answered
                self.running = True
                asyncio.get_running_loop().create_task(self._drain())


def queue_for(db: Database, name: str, make: Callable[[], Queue]) -> Queue:
    """The Queue called `name` of `db` on the running event loop, made by `make()` the first time."""
    per_loop = _queues.setdefault(db, weakref.WeakKeyDictionary())
    queues = per_loop.setdefault(asyncio.get_running_loop(), {})
    queue = queues.get(name)
    if queue is None:
        queue = queues[name] = make()
    return queue


_queues: weakref.WeakKeyDictionary[Database, weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()


async def _write_jobs(db: Database, group: list[Waiting]) -> None:
    if len(group) == 1:
        await _settle(group[0], db)
        return
    outcomes: list[Any] = []
    try:
        async with db.write() as session:
            raw = raw_sqlite((await session.connection()).sync_connection)
            for waiting in group:
                try:
                    if raw is None:
                        async with session.begin_nested():
                            outcome = await waiting.item(session)
                    else:
                        outcome = await _in_savepoint(session, raw, waiting.item)
                except Exception as exc:  # noqa: BLE001 - this job's savepoint is rolled back; the rest go on
                    outcome = exc
                outcomes.append(outcome)
                if raw is None or not raw.in_transaction:
                    # SQLite rolls the whole transaction back after some errors (disk full, I/O): the jobs
                    # before this one are undone too, and the next would run outside it.
                    raise _GroupLost()
            await session.commit()
            await session.close()
    except Exception:  # noqa: BLE001 - rolled back: each job again on its own, with its own outcome
        for waiting in group:
            await _settle(waiting, db)
        return
    for waiting, outcome in zip(group, outcomes, strict=True):
        waiting.answer(outcome)


async def _in_savepoint(session: AsyncSession, raw, job: Job[T]) -> T:
    """`await job(session)` in a SAVEPOINT SQLAlchemy does not know of (sqlite_driver.savepoint: cheaper than
    begin_nested), undone if the job raises. The session is kept in step by hand: what the job left unflushed is
    flushed inside it, and when it is undone the session forgets every object it holds (they may stand for rows
    that are gone; jobs hand back values, not the session's objects).
    """
    try:
        async with sqlite_driver.savepoint(raw):
            outcome = await job(session)
            sync = session.sync_session
            if sync.new or sync.dirty or sync.deleted:
                await session.flush()
    except BaseException:
        session.expunge_all()
        raise
    return outcome


async def _settle(waiting: Waiting, db: Database) -> None:
    try:
        outcome = await _alone(db, waiting.item)
    except Exception as exc:  # noqa: BLE001 - handed to the request that sent this job
        outcome = exc
    waiting.answer(outcome)
