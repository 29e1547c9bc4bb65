"""Scans in transactions of their own: the door's hot path (a queue at the gate, phones syncing their
offline scans). Each scan is one write transaction; a replayed client_scan_id is answered as first recorded.

Both databases run the scan on the app's engine (on SQLite its statements run in place on the event loop,
see denhub.db._InlineSQLite). An earlier version gave SQLite scans a thread of their own; its statements
then waited on the loop's thread for the GIL at every step, and scans ran at half the speed.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from denhub.db import Database
from ticketing.checkin import DoorAccess, ScanResult, check_access, judge


async def _scan(db: Database, access: DoorAccess | None, scan: dict) -> ScanResult:
    # An online scan's id is new almost always: skip looking for it and let the unique constraint say.
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
    return await _scan(db, access, scan)


async def scan_many(db: Database, scans: list[dict], *, access: DoorAccess | None = None) -> list[ScanResult]:
    """Several scans of one event (an offline batch), each in its own transaction (one bad row spoils no
    other), in the order given; the access check once, first."""
    if access is not None and scans:
        async with db.read() as session:
            await session.run_sync(check_access, event_id=scans[0]["event_id"], access=access)
    return [await _scan(db, None, scan) for scan in scans]
