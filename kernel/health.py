"""Is the app able to take bookings? The health check, and telling a full disk from a programming error.

/healthz writes: it commits a heartbeat row (a read answers happily while the disk is full and every booking
fails) and, when email is written as files, writes a probe file in the outbox folder. Anything else that
fails on storage (SQLite's "database or disk is full", PostgreSQL's disk_full, OSError ENOSPC) is answered
503 "we cannot take bookings right now" by kernel.web, never a generic 500.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import logging
import os
import sqlite3

from sqlalchemy import Integer, String, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from kernel.auth import PUBLIC, guard
from kernel.db import Base, UTCDateTime, utcnow

log = logging.getLogger("denhub")

# errno values that mean the storage, not the request, is at fault.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}
# SQLite result codes (primary) for the same: SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN.
_SQLITE_STORAGE_CODES = {13, 10, 8, 14}
# PostgreSQL SQLSTATEs: 53100 disk_full, 58030 io_error.
_PG_STORAGE_PREFIXES = ("53100", "58030")


class Heartbeat(Base):
    """One row per process name, rewritten by every health check: proof that the database takes writes."""

    __tablename__ = "health_heartbeat"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    beats: Mapped[int] = mapped_column(Integer, default=0)


def is_storage_failure(exc: BaseException | None) -> bool:
    """True if `exc` (or an exception it was raised from) says the disk is full or cannot be written."""
    seen = 0
    while exc is not None and seen < 10:
        seen += 1
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_STORAGE_CODES:
                return True
            if "disk is full" in str(exc) or "disk I/O error" in str(exc):
                return True
        sqlstate = getattr(exc, "sqlstate", None)  # asyncpg's errors
        if isinstance(sqlstate, str) and sqlstate.startswith(_PG_STORAGE_PREFIXES):
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


async def _beat(db) -> None:
    now = utcnow()
    insert = (sqlite.insert if db.is_sqlite else postgresql.insert)(Heartbeat)
    async with db.write() as session:
        result = await session.execute(
            update(Heartbeat).where(Heartbeat.name == "healthz").values(beat_at=now, beats=Heartbeat.beats + 1))
        if result.rowcount == 0:
            await session.execute(insert.values(name="healthz", beat_at=now, beats=1).on_conflict_do_nothing())


def _probe(directory) -> None:
    """Write and remove a small file in `directory` (where the outbox writes emails)."""
    if not directory.is_dir():
        return
    probe = directory / f".healthz-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(b"\0" * 4096)
            out.flush()
            os.fsync(out.fileno())
    finally:
        probe.unlink(missing_ok=True)


async def _check(db, settings) -> str | None:
    """None if the database takes a write (and the outbox folder, when email goes to files); else what failed."""
    try:
        await _beat(db)
        if not settings.smtp_url:
            await asyncio.to_thread(_probe, settings.var_path / "outbox")
    except Exception as exc:  # noqa: BLE001 - whatever stops a write makes the app unhealthy
        log.error("health check failed: %s", exc)
        return "storage full or not writable" if is_storage_failure(exc) else "database not writable"
    return None


_in_flight: dict[int, asyncio.Future] = {}  # id(app) -> the check running now


@guard(PUBLIC)
async def healthz(request: Request) -> Response:
    """200 "ok" if the database takes a write (and the outbox folder, when email goes to files); else 503.

    Anyone may ask, so requests that arrive while a check runs share its answer: a flood of health checks
    makes one write at a time, not one each."""
    app = request.app
    running = _in_flight.get(id(app))
    if running is None:
        running = _in_flight[id(app)] = asyncio.ensure_future(_check(app.state.db, app.state.settings))
        running.add_done_callback(lambda _: _in_flight.pop(id(app), None))
    failure = await asyncio.shield(running)
    if failure is not None:
        return PlainTextResponse(f"unhealthy: {failure}", status_code=503, headers={"Retry-After": "30"})
    return PlainTextResponse("ok")
