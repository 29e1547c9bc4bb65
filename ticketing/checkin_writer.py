"""Scans in transactions of their own: the door's hot path (a queue at the gate, phones syncing their
offline scans). Each scan is one write transaction; a replayed client_scan_id is answered as first recorded.

On PostgreSQL the scan runs on the app's async engine. On SQLite it runs in one worker thread with its own
synchronous connection to the same file: through aiosqlite every statement is three or four hops to a
thread and back, and under a rush those hops (and writers sleeping in SQLite's busy handler, up to 100 ms
a try) were most of the latency. Here a whole scan, permission check included, is one hop, and scans queue
in order for the one thread instead of for the database's write lock. Other writers (bookings) still meet
it at SQLite's lock, under the same busy timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from collections.abc import Callable

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from denhub.db import SQLITE_BUSY_TIMEOUT_MS, Database
from ticketing.checkin import DoorAccess, ScanResult, check_access, judge


def _judge_in_own_transaction(sessions: Callable[[], Session], access: DoorAccess | None, scan: dict) -> ScanResult:
    # An online scan's id is new almost always: skip looking for it and let the unique constraint say.
    check_first = bool(scan.get("offline"))
    try:
        with sessions() as session, session.begin():
            if access is not None:
                check_access(session, event_id=scan["event_id"], access=access)
            return judge(session, check_replay=check_first, **scan)
    except IntegrityError:
        if check_first or not scan.get("client_scan_id"):
            raise
    with sessions() as session, session.begin():
        return judge(session, check_replay=True, **scan)


def _judge_each(sessions: Callable[[], Session], access: DoorAccess | None, scans: list[dict]) -> list[ScanResult]:
    """A batch: the access check once, then each scan in its own transaction (one bad row spoils no other)."""
    if access is not None and scans:
        with sessions() as session, session.begin():
            check_access(session, event_id=scans[0]["event_id"], access=access)
    return [_judge_in_own_transaction(sessions, None, scan) for scan in scans]


class _SQLiteDoor:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(make_url(url).set(drivername="sqlite"), pool_size=1, max_overflow=0)

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy says when a transaction begins
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                           f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # every transaction here writes: take the lock first

        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="denhub-door")

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, self.sessions, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=False)
        self.engine.dispose()


_sqlite_doors: weakref.WeakKeyDictionary[Database, _SQLiteDoor] = weakref.WeakKeyDictionary()


def _sqlite_door(db: Database) -> _SQLiteDoor:
    door = _sqlite_doors.get(db)
    if door is None:
        door = _sqlite_doors[db] = _SQLiteDoor(db.url)
        weakref.finalize(db, door.close)
    return door


async def _async_scan(db: Database, access: DoorAccess | None, scan: dict) -> ScanResult:
    check_first = bool(scan.get("offline"))
    try:
        async with db.write() as session:
            if access is not None:
                await session.run_sync(check_access, event_id=scan["event_id"], access=access)
            return await session.run_sync(judge, check_replay=check_first, **scan)
    except IntegrityError:
        if check_first or not scan.get("client_scan_id"):
            raise
    async with db.write() as session:
        return await session.run_sync(judge, check_replay=True, **scan)


async def scan_idempotent(db: Database, *, access: DoorAccess | None = None, **scan) -> ScanResult:
    """Judge and record one scan (checkin.scan's arguments) in its own transaction. With `access`, first
    raise DoorRefused or NoSuchEvent unless that requester may scan for the event."""
    if db.is_sqlite:
        return await _sqlite_door(db).run(_judge_in_own_transaction, access, scan)
    return await _async_scan(db, access, scan)


async def scan_many(db: Database, scans: list[dict], *, access: DoorAccess | None = None) -> list[ScanResult]:
    """Several scans of one event (an offline batch), each in its own transaction, in the order given."""
    if db.is_sqlite:
        return await _sqlite_door(db).run(_judge_each, access, scans)
    if access is not None and scans:
        async with db.read() as session:
            await session.run_sync(check_access, event_id=scans[0]["event_id"], access=access)
    return [await _async_scan(db, None, scan) for scan in scans]
