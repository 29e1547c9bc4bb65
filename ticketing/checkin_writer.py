"""Scans in write transactions: the door's hot path (a queue at the gate, phones syncing their offline
scans). A replayed client_scan_id is answered as first recorded.

PostgreSQL: each scan is one transaction on the app's engine (the ticket's row lock orders two workers).

SQLite: one write lock per file, so scans wait for each other anyway; here they wait together. Scans that
arrive while a transaction is being written are judged in the next one, in arrival order, and committed
together (group commit): one BEGIN IMMEDIATE, one WAL commit and one session for the lot instead of one
each. Each scan is still judged by the same rules against the state the earlier scans of the batch left.
A refusal (DoorRefused, NoSuchEvent) is answered to that scan alone and writes nothing. If anything else
goes wrong the whole batch is rolled back and every scan in it runs again in a transaction of its own,
so one bad scan costs the others nothing but time.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from denhub.db import Database
from ticketing.checkin import (
    DoorAccess,
    DoorRefused,
    NoSuchEvent,
    ScanResult,
    check_access,
    insert_records,
    judge,
    recorded_scans,
)

log = logging.getLogger(__name__)

MAX_GROUP = 64  # scans in one SQLite transaction at most (a batch holds the write lock while it runs)


async def _scan(db: Database, access: DoorAccess | None, scan: dict) -> ScanResult:
    """One scan in a transaction of its own."""
    # An online scan's id is new almost always: skip looking for it and let the unique constraint say.
    check_first = bool(scan.get("offline"))
    try:
        async with db.write() as session:
            if access is not None:
                await session.run_sync(check_access, event_id=scan["event_id"], access=access)
            return await session.run_sync(judge, check_replay=check_first, **scan)
    except IntegrityError:
        # The scan id was recorded meanwhile (looked for first or not: the same batch sent twice at once,
        # a retried request racing its original): answer it as recorded, in a transaction of its own.
        if not scan.get("client_scan_id"):
            raise
    async with db.write() as session:
        return await session.run_sync(judge, check_replay=True, **scan)


@dataclass
class _Pending:
    access: DoorAccess | None
    scan: dict
    future: asyncio.Future = field(repr=False)


def _judge_group(session: Session, group: list[_Pending]) -> list[ScanResult | Exception]:
    answers: list[ScanResult | Exception] = []
    allowed: dict[tuple[DoorAccess, int], Exception | None] = {}  # one access check per requester and event
    records: list[dict] = []  # the group's check-in rows, inserted together at the end
    pending_ids: set[str] = set()
    # The group's scan ids already recorded, in one query (replays: phones resending, retried requests).
    recorded = recorded_scans(session, [i.scan["client_scan_id"] for i in group if i.scan.get("client_scan_id")])
    for item in group:
        if item.access is not None:
            key = (item.access, item.scan["event_id"])
            if key not in allowed:
                try:
                    check_access(session, event_id=item.scan["event_id"], access=item.access)
                    allowed[key] = None
                except (DoorRefused, NoSuchEvent) as exc:
                    allowed[key] = exc
            if allowed[key] is not None:
                answers.append(allowed[key])
                continue
        # Replays are looked for first (a batch must not meet the unique constraint halfway through), so a
        # scan id already in this group's unwritten rows sends them to the database before it is judged.
        scan_id = item.scan.get("client_scan_id")
        looked_up = recorded
        if scan_id in pending_ids:
            insert_records(session, records)
            pending_ids.clear()
            looked_up = None  # its twin earlier in the group is recorded now: judge looks for it
        answers.append(judge(session, check_replay=True, records=records, recorded=looked_up, **item.scan))
        if scan_id:
            pending_ids.add(scan_id)
    insert_records(session, records)
    return answers


class _GroupWriter:
    """The queue of scans waiting for this process's SQLite write lock, on one event loop."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.waiting: list[_Pending] = []
        self.running = False

    async def submit(self, access: DoorAccess | None, scan: dict) -> ScanResult:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(_Pending(access, scan, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while True:
                # One turn of the loop first: scans that arrived with this one join its group, and the
                # requests answered by the last group send their responses before the next is written.
                await asyncio.sleep(0)
                if not self.waiting:
                    break
                group, self.waiting = self.waiting[:MAX_GROUP], self.waiting[MAX_GROUP:]
                await self._write(group)
        finally:
            self.running = False
            if self.waiting:  # a scan queued while the last group was being answered
                self.running = True
                asyncio.get_running_loop().create_task(self._drain())

    async def _write(self, group: list[_Pending]) -> None:
        live = [item for item in group if not item.future.done()]  # a cancelled request is not judged
        if not live:
            return
        try:
            async with self.db.write() as session:
                answers = await session.run_sync(_judge_group, live)
        except Exception:  # noqa: BLE001 - rolled back: each scan again on its own, with its own outcome
            for item in live:
                try:
                    answer: ScanResult | BaseException = await _scan(self.db, item.access, item.scan)
                except Exception as exc:  # noqa: BLE001 - handed to the request that sent this scan
                    answer = exc
                _answer(item.future, answer)
            return
        for item, answer in zip(live, answers, strict=True):
            _answer(item.future, answer)


def _answer(future: asyncio.Future, answer: ScanResult | BaseException) -> None:
    if future.done():
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)


_writers: weakref.WeakKeyDictionary[Database, weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()


def _group_writer(db: Database) -> _GroupWriter:
    loop = asyncio.get_running_loop()
    per_loop = _writers.setdefault(db, weakref.WeakKeyDictionary())
    writer = per_loop.get(loop)
    if writer is None:
        writer = per_loop[loop] = _GroupWriter(db)
    return writer


async def scan_idempotent(db: Database, *, access: DoorAccess | None = None, **scan) -> ScanResult:
    """Judge and record one scan (checkin.scan's arguments). With `access`, first raise DoorRefused or
    NoSuchEvent unless that requester may scan for the event."""
    if db.is_sqlite:
        return await _group_writer(db).submit(access, scan)
    return await _scan(db, access, scan)


async def scan_many(db: Database, scans: list[dict], *, access: DoorAccess | None = None) -> list[ScanResult | str]:
    """Several scans of one event (an offline batch), each in its own transaction, in the order given; the
    access check once, first. Each is judged on its own: a scan that fails is answered with a message
    (str) in its place, logged, and the scans after it are judged all the same (else the phone would send
    the same stuck batch for ever). Only a lost database fails the whole batch (the phone sends it again)."""
    if access is not None and scans:
        async with db.read() as session:
            await session.run_sync(check_access, event_id=scans[0]["event_id"], access=access)
    answers: list[ScanResult | str] = []
    for scan in scans:
        try:
            answers.append(await _scan(db, None, scan))
        except (OperationalError, InterfaceError):
            raise
        except Exception:  # noqa: BLE001 - this scan alone; the others go on
            log.exception("offline scan %r could not be recorded", scan.get("client_scan_id"))
            answers.append("This scan could not be recorded (a fault on our side, reported to the team).")
    return answers
