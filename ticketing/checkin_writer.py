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

import functools
import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from kernel import group_commit
from kernel.db import Database
from ticketing.checkin import ScanResult, insert_records, judge, recorded_scans
from ticketing.door_access import DoorAccess, DoorRefused, NoSuchEvent, check_access

log = logging.getLogger(__name__)

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


async def _write_group(db: Database, group: list[group_commit.Waiting]) -> None:
    try:
        async with db.write() as session:
            answers = await session.run_sync(_judge_group, [w.item for w in group])
    except Exception:  # noqa: BLE001 - rolled back: each scan again on its own, with its own outcome
        for waiting in group:
            try:
                answer: ScanResult | BaseException = await _scan(db, waiting.item.access, waiting.item.scan)
            except Exception as exc:  # noqa: BLE001 - handed to the request that sent this scan
                answer = exc
            waiting.answer(answer)
        return
    for waiting, answer in zip(group, answers, strict=True):
        waiting.answer(answer)


async def scan_idempotent(db: Database, *, access: DoorAccess | None = None, **scan) -> ScanResult:
    """Judge and record one scan (checkin.scan's arguments). With `access`, first raise DoorRefused or
    NoSuchEvent unless that requester may scan for the event."""
    if db.is_sqlite:
        queue = group_commit.queue_for(db, "door-scans", lambda: group_commit.Queue(functools.partial(_write_group, db)))
        return await queue.submit(_Pending(access, scan))
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
        except Exception:  # this scan alone; the others go on
            log.exception("offline scan %r could not be recorded", scan.get("client_scan_id"))
            answers.append("This scan could not be recorded (a fault on our side, reported to the team).")
    return answers
