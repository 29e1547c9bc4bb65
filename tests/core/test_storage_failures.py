"""A full disk: the outbox records the failure and leaves no half-written file, bookings answer 503 with a
clear page, /healthz fails, and everything works again once there is room.

The full disk is real: a tmpfs of a few hundred kilobytes mounted for the test and filled up, so the
writes fail with ENOSPC from the kernel (SQLite then says "database or disk is full"). Mounting needs root
(CI runs the tests as root, as does this machine); elsewhere the test skips, or fails with
DENHUB_TEST_REQUIRE_ALL=1. Leases released at start-up and stale partial files are tested without one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update

from kernel.accounts import Role
from kernel.db import Database, utcnow
from kernel.mail import PENDING, SENT, FileTransport, MailSender, OutboxMessage, enqueue
from kernel.settings import Settings
from tests.conftest import TEST_SECRET, skip_or_fail
from tests.core.helpers import new_client, running_app, sign_in
from tests.factories import make_event
from tests.ticketing.factories import book, make_ticket_type


@pytest.fixture
def tiny_disk(tmp_path):
    """mount(size_kb) -> a folder on a tmpfs of that size; unmounted at the end."""
    mounted: list[Path] = []

    def mount(size_kb: int) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            skip_or_fail("a full disk is simulated with a tiny tmpfs, which only root may mount")
        where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(where)],
                              check=False, capture_output=True, text=True)
        if done.returncode != 0:
            skip_or_fail(f"could not mount a tmpfs: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte; returns the filler file (delete it to make room again)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\xff" * chunk):
                    pass
    finally:
        os.close(fd)
    return filler


async def _queue(db: Database, to: str = "amira@example.org") -> int:
    async with db.write() as session:
        return (await enqueue(session=session, to=to, subject="Your tickets", text="Hello")).id


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# --- the outbox folder on a full disk --------------------------------------------------------------

async def test_an_email_that_cannot_be_written_is_recorded_and_leaves_no_partial_file(
        app, db, settings, client, tiny_disk):
    disk = tiny_disk(256)
    config = dataclasses.replace(settings, var_dir=str(disk)).validated()
    outbox = disk / "outbox"
    row_id = await _queue(db)
    sender = MailSender(db, config)  # no SMTP: each email is written as a file under <var>/outbox
    assert isinstance(sender.transport, FileTransport)
    outbox.mkdir(mode=0o700)
    filler = fill(disk)

    assert await sender.send_due() == 0
    [row] = await _rows(db)
    assert row.id == row_id and row.status == PENDING and row.attempts == 1
    assert "No space left on device" in row.last_error and row.claimed_until is None
    assert row.next_attempt_at > utcnow()
    assert list(outbox.iterdir()) == []  # no .eml.partial left behind

    async with running_app(config) as full_app, new_client(full_app) as other:
        health = await other.get("/healthz")
        assert health.status_code == 503 and "storage" in health.text

    filler.unlink()
    sender.clock = lambda: utcnow() + dt.timedelta(hours=2)
    assert await sender.send_due() == 1
    [sent] = list(outbox.iterdir())
    assert sent.suffix == ".eml" and sent.stat().st_mode & 0o777 == 0o600
    assert outbox.stat().st_mode & 0o777 == 0o700
    assert (await _rows(db))[0].status == SENT


# --- the database on a full disk -------------------------------------------------------------------

async def test_a_full_disk_answers_bookings_with_a_clear_503_and_fails_the_health_check(sqlite_template, tiny_disk):
    # SQLite only: the database file is on the tiny disk (PostgreSQL's disk is not ours to fill).
    disk = tiny_disk(2048)
    path = disk / "denhub.sqlite3"
    shutil.copy(sqlite_template, path)
    config = Settings(env="test", database_url=f"sqlite+aiosqlite:///{path}", secret_key=TEST_SECRET,
                      var_dir=str(disk / "var"), base_url="http://testserver",
                      smtp_url="smtp://127.0.0.1:9").validated()  # the email stays queued
    async with running_app(config) as app, new_client(app) as client:
        db = app.state.db
        async with db.write() as session:
            event = await make_event(session, title="Full disk supper")
            ticket_type = await make_ticket_type(session, event)
        assert (await client.get("/healthz")).status_code == 200
        booked = await book(client, event, [(ticket_type.id, "Before Full")])
        assert booked.status_code == 303, booked.text[:2000]

        filler = fill(disk)
        refused = await book(client, event, [(ticket_type.id, "During Full")], email="during@example.org")
        assert refused.status_code == 503, refused.text[:3000]
        assert "We cannot take bookings right now" in refused.text
        assert "Nothing has been booked" in refused.text
        assert refused.headers.get("retry-after")
        health = await client.get("/healthz")
        assert health.status_code == 503 and health.text.startswith("unhealthy")

        filler.unlink()
        assert (await client.get("/healthz")).status_code == 200
        again = await book(client, event, [(ticket_type.id, "After Full")], email="after@example.org")
        assert again.status_code == 303, again.text[:2000]
        async with db.read() as session:
            emails = sorted(await session.scalars(select(OutboxMessage.to_addr)))
        assert emails == ["after@example.org", "amina@example.org"]


# --- leases and partial files left by a process that died ------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def test_a_starting_sender_releases_the_leases_of_a_dead_process_on_this_host_only(mail_db, settings):
    from kernel.mail import sender as sender_module

    far_future = utcnow() + dt.timedelta(hours=1)
    host = sender_module._HOST[:100]
    owners = {
        "dead here": f"{host}:{_dead_pid()}:aaaa",
        "alive here": f"{host}:{os.getppid()}:bbbb",
        "elsewhere": f"some-other-host:{_dead_pid()}:cccc",
    }
    ids = {}
    for name, owner in owners.items():
        ids[name] = await _queue(mail_db, to=f"{name.replace(' ', '-')}@example.org")
        async with mail_db.write() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[name])
                                  .values(claimed_until=far_future, claimed_by=owner))
    sender = MailSender(mail_db, settings)
    live = MailSender(mail_db, settings)  # a sender of this process: its leases are never released
    live_id = await _queue(mail_db, to="live@example.org")
    async with mail_db.write() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == live_id)
                              .values(claimed_until=far_future, claimed_by=live.owner))

    assert await sender.release_orphans() == 1
    rows = {row.id: row for row in await _rows(mail_db)}
    assert rows[ids["dead here"]].claimed_until is None and rows[ids["dead here"]].claimed_by is None
    for name in ("alive here", "elsewhere"):
        assert rows[ids[name]].claimed_until is not None
    assert rows[live_id].claimed_by == live.owner
    assert await sender.send_due() == 1  # the released one goes at once (to an .eml file here)


async def test_the_lease_covers_two_emails_not_ten(settings):
    sender = MailSender(None, settings)  # type: ignore[arg-type] - no database needed to read the lease
    assert sender.lease <= 2 * sender.per_email
    assert sender.lease < dt.timedelta(minutes=5)


def test_stale_partial_files_are_cleaned_up_and_fresh_ones_kept(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    stale, fresh, done = outbox / "1-1.eml.partial", outbox / "1-2.eml.partial", outbox / "1-3.eml"
    for path in (stale, fresh, done):
        path.write_bytes(b"x")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    assert FileTransport(outbox).clean_partials() == 1
    assert sorted(p.name for p in outbox.iterdir()) == ["1-2.eml.partial", "1-3.eml"]


@pytest.fixture
async def mail_db(db_url):
    database = Database(db_url)
    yield database
    await database.dispose()


async def test_an_outcome_the_database_refuses_is_recorded_before_the_next_batch(mail_db, settings, monkeypatch):
    await _queue(mail_db)
    sender = MailSender(mail_db, settings)
    real_update = sender._update
    refused = []

    async def full_disk_update(row_id, values):
        if not refused:
            refused.append(row_id)
            raise OSError(28, "No space left on device")
        await real_update(row_id, values)

    monkeypatch.setattr(sender, "_update", full_disk_update)
    assert await sender.send_due() == 1  # sent, but the database would not record it
    [row] = await _rows(mail_db)
    assert row.status == PENDING and refused
    assert await sender.send_due() == 0  # recorded first: the email is not sent twice
    [row] = await _rows(mail_db)
    assert row.status == SENT and row.claimed_until is None


async def test_organisers_see_email_being_retried(app, db, client):
    row_id = await _queue(db)
    async with db.write() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                              .values(attempts=2, last_error="SMTPServerDisconnected: gone away"))
    await sign_in(client, db, Role.ADMIN)
    page = await client.get("/organiser/mail")
    assert page.status_code == 200
    assert "Failing, will be tried again" in page.text and "SMTPServerDisconnected: gone away" in page.text
