"""kernel.sqlite_direct: the door's Core statements straight on sqlite3 must store and read exactly what
SQLAlchemy would, raise SQLAlchemy's errors, and stay out of the way elsewhere (PostgreSQL, reads)."""

import datetime as dt
import secrets

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from events.models import Event
from kernel.db import utcnow
from kernel.sqlite_direct import DirectSQLite, direct
from tests.factories import make_event
from tests.ticketing.factories import make_ticket_type
from ticketing import checkin, services
from ticketing.models import CheckIn, Ticket


async def _ticket(db):
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
    req = services.RegistrationRequest(lines=[services.TicketLine(ticket_type.id, "Amina Khatun")],
                                       email="a@example.org", community_declaration="resident",
                                       form_token=secrets.token_urlsafe(24))
    async with db.write() as session:
        order, _ = await services.register(session=session, event_id=event.id, req=req)
        ticket = await session.scalar(select(Ticket).where(Ticket.order_id == order.id))
    return event, ticket


async def test_direct_only_on_sqlite_write_transactions(db):
    async with db.write() as session:
        runner = await session.run_sync(lambda s: direct(s.connection()))
        assert isinstance(runner, DirectSQLite) == db.is_sqlite
    async with db.read() as session:
        runner = await session.run_sync(lambda s: direct(s.connection()))
        assert not isinstance(runner, DirectSQLite)


async def test_rows_read_and_written_directly_match_sqlalchemy(db):
    event, ticket = await _ticket(db)
    at = dt.datetime(2026, 11, 24, 19, 5, 7, 123456, tzinfo=dt.UTC)

    def write_and_read(session):
        conn = session.connection()
        runner = direct(conn)
        assert runner.execute(checkin._FIRST_ADMISSION, {"ticket_id": ticket.id, "at": at, "by": "Gate phone",
                                                         "at_gate": "North"}).rowcount == 1
        # The conditional UPDATE does nothing the second time, and says so.
        assert runner.execute(checkin._FIRST_ADMISSION, {"ticket_id": ticket.id, "at": at, "by": "x",
                                                         "at_gate": ""}).rowcount == 0
        mine = runner.execute(checkin._TICKET_BY_CODE, {"code": ticket.code}).first()
        theirs = conn.execute(checkin._TICKET_BY_CODE, {"code": ticket.code}).first()
        assert tuple(mine) == tuple(theirs) and mine._fields == theirs._fields
        assert mine._mapping == dict(theirs._mapping)
        assert mine.checked_in_at == at and mine.checked_in_at.tzinfo is not None and mine.inside is True
        assert runner.execute(checkin._TICKET_BY_CODE, {"code": "nope"}).first() is None
        row = {"event_id": event.id, "ticket_id": ticket.id, "scanned_text": "x", "verdict": "admitted",
               "direction": "in", "device": "d", "gate": "g", "scanned_at": at, "recorded_at": at,
               "client_scan_id": None, "offline": True, "duplicate": False}
        runner.execute(checkin._RECORD, [{**row, "client_scan_id": "direct-1"}, {**row, "client_scan_id": "direct-2",
                                                                                 "duplicate": True}])
        runner.execute(checkin._RECORD, {**row, "client_scan_id": "direct-3"})
        # A statement whose parameters are expanded when it runs goes through SQLAlchemy, same answer.
        assert runner.execute(checkin._MOVED_SINCE, {"ticket_id": ticket.id, "at": at - dt.timedelta(seconds=1)}
                              ).first() is not None
        assert runner.execute(checkin._MOVED_SINCE, {"ticket_id": ticket.id, "at": at}).first() is None

    async with db.write() as session:
        await session.run_sync(write_and_read)
    async with db.read() as session:
        stored = await session.get(Ticket, ticket.id)
        assert (stored.checked_in_at, stored.checked_in_device, stored.checked_in_gate, stored.inside) == (
            at, "Gate phone", "North", True)
        rows = (await session.scalars(select(CheckIn).where(CheckIn.event_id == event.id)
                                      .order_by(CheckIn.client_scan_id))).all()
        assert [(r.client_scan_id, r.scanned_at, r.offline, r.duplicate) for r in rows] == [
            ("direct-1", at, True, False), ("direct-2", at, True, True), ("direct-3", at, True, False)]


async def test_a_constraint_broken_directly_raises_sqlalchemys_integrity_error_and_rolls_back(db):
    event, ticket = await _ticket(db)
    now = utcnow()
    row = {"event_id": event.id, "ticket_id": ticket.id, "scanned_text": "x", "verdict": "admitted",
           "direction": "in", "device": "d", "gate": "g", "scanned_at": now, "recorded_at": now,
           "client_scan_id": "same-id", "offline": False, "duplicate": False}

    def insert(session):
        direct(session.connection()).execute(checkin._RECORD, row)

    async with db.write() as session:
        await session.run_sync(insert)
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            await session.run_sync(lambda s: direct(s.connection()).execute(
                checkin._FIRST_ADMISSION, {"ticket_id": ticket.id, "at": now, "by": "d", "at_gate": ""}))
            await session.run_sync(insert)
    async with db.read() as session:  # the whole transaction was rolled back, the admission with it
        assert (await session.get(Ticket, ticket.id)).checked_in_at is None
        assert len((await session.scalars(select(CheckIn).where(CheckIn.event_id == event.id))).all()) == 1


async def test_statements_in_a_savepoint_rolled_back_are_undone_and_the_rest_kept(db):
    """execute() inside begin_nested: each SAVEPOINT is emitted before its first statement runs directly (SQLAlchemy
    emits it only when the savepoint is asked for its connection), so rolling one back undoes only its own."""
    from kernel import ratelimit, sqlite_direct

    async def record(session, key):
        await sqlite_direct.execute(session, ratelimit._INSERT, {"bucket": "savepoint-test", "key": key, "at": utcnow()})

    async with db.write() as session:
        await record(session, "before")
        for key, keep in (("first", True), ("undone", False), ("third", True), ("undone too", False)):
            try:
                async with session.begin_nested():
                    await record(session, key)
                    if not keep:
                        raise LookupError(key)
            except LookupError:
                pass
    async with db.read() as session:
        keys = await session.scalars(select(ratelimit.RateEvent.key).where(ratelimit.RateEvent.bucket == "savepoint-test")
                                     .order_by(ratelimit.RateEvent.id))
        assert list(keys) == ["before", "first", "third"]


async def test_read_now_reads_committed_rows_as_sqlalchemy_does_and_only_on_sqlite(db):
    from kernel.sqlite_direct import _readers, read_now

    _event, ticket = await _ticket(db)
    rows = read_now(db, checkin._TICKET_BY_CODE, {"code": ticket.code})
    if not db.is_sqlite:
        assert rows is None  # the caller reads through SQLAlchemy
        return
    async with db.read() as session:
        theirs = (await session.execute(checkin._TICKET_BY_CODE, {"code": ticket.code})).all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in theirs] and rows[0].checked_in_at is None
    at = utcnow()
    async with db.write() as session:
        await session.run_sync(lambda s: direct(s.connection()).execute(
            checkin._FIRST_ADMISSION, {"ticket_id": ticket.id, "at": at, "by": "d", "at_gate": ""}))
    assert read_now(db, checkin._TICKET_BY_CODE, {"code": ticket.code})[0].checked_in_at == at  # committed: seen
    assert read_now(db, checkin._FIRST_ADMISSION, {"ticket_id": ticket.id, "at": at, "by": "", "at_gate": ""}) is None
    assert _readers.get(db)
    await db.dispose()
    assert not _readers.get(db)


# Statements built once, as sqlite_direct expects.
_RENAME = update(Event).where(Event.id == bindparam("event_id")).values(title=bindparam("new_title"))
_TICKET_OBJECT = select(Ticket).where(Ticket.id == bindparam("ticket_id"))


async def test_a_statement_needing_sqlalchemys_defaults_goes_through_sqlalchemy(db):
    """An UPDATE of the event without updated_at: its `onupdate` is computed by SQLAlchemy as it executes."""
    event, _ = await _ticket(db)
    async with db.read() as session:
        before = (await session.get(Event, event.id)).updated_at
    async with db.write() as session:
        result = await session.run_sync(lambda s: direct(s.connection()).execute(
            _RENAME, {"event_id": event.id, "new_title": "Renamed"}))
        assert result.rowcount == 1
    async with db.read() as session:
        stored = await session.get(Event, event.id)
        assert stored.title == "Renamed" and stored.updated_at > before


async def test_a_select_of_mapped_objects_is_left_to_sqlalchemy(db):
    """Its rows are ORM objects: sqlite_direct.execute must not hand back bare tuples in their place."""
    from kernel import sqlite_direct

    _, ticket = await _ticket(db)
    async with db.write() as session:
        [row] = (await sqlite_direct.execute(session, _TICKET_OBJECT, {"ticket_id": ticket.id})).all()
        assert isinstance(row[0], Ticket) and row[0].code == ticket.code


async def test_a_write_waits_for_a_write_lock_held_by_another_process(db):
    """BEGIN IMMEDIATE runs straight on sqlite3 when it can; refused because another connection (the CLI,
    another worker) holds the write lock, it goes through SQLAlchemy, which waits for the lock without
    blocking the loop, and the write happens once the lock is free."""
    import asyncio
    import sqlite3

    from sqlalchemy.engine import make_url

    if not db.is_sqlite:
        return
    _event, ticket = await _ticket(db)
    other = sqlite3.connect(make_url(db.url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    at = utcnow()

    async def admit():
        async with db.write() as session:
            await session.run_sync(lambda s: direct(s.connection()).execute(
                checkin._FIRST_ADMISSION, {"ticket_id": ticket.id, "at": at, "by": "d", "at_gate": ""}))

    task = asyncio.create_task(admit())
    await asyncio.sleep(0.3)
    assert not task.done()  # waiting for the lock, and the loop still runs (this test got here)
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(task, 10)
    async with db.read() as session:
        assert (await session.get(Ticket, ticket.id)).checked_in_at == at


def test_utc_datetimes_are_written_and_read_on_sqlite_as_sqlalchemys_datetime_does():
    """UTCDateTime's own text conversion on SQLite (faster) matches SQLAlchemy's DATETIME exactly, so rows
    written before and after it read the same."""
    import random

    from sqlalchemy.dialects.sqlite import aiosqlite
    from sqlalchemy.dialects.sqlite.base import DATETIME

    from kernel.db import UTCDateTime

    dialect = aiosqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect)
    write, read = ours.bind_processor(dialect), ours.result_processor(dialect, None)
    sa_write, sa_read = DATETIME().bind_processor(dialect), DATETIME().result_processor(dialect, None)
    rng = random.Random(20261125)
    for _ in range(5000):
        given = dt.datetime(rng.randint(2, 9998), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                            rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(0, 999_999)]),
                            tzinfo=dt.timezone(dt.timedelta(minutes=rng.choice([0, 60, -300, 330]))))
        text = write(given)
        assert text == sa_write(given.astimezone(dt.UTC).replace(tzinfo=None))
        assert read(text) == given and read(text).tzinfo is dt.UTC
    for stored in ("2026-11-25 01:40:00", "2026-11-25 01:40:00.5"):  # other forms SQLAlchemy reads
        assert read(stored) == sa_read(stored).replace(tzinfo=dt.UTC)
    assert write(None) is None and read(None) is None
    with pytest.raises(ValueError):
        write(dt.datetime(2026, 11, 25))  # naive
