"""The background sender: claims due outbox email, sends it, records the outcome, retries with backoff.

`MailSender` (one task per app process, started in the lifespan) claims due rows, sends them outside the
claim transaction and records the outcome. Attachments (PDF tickets) are made at send time by registered
providers (kernel.mail.providers), so the registration transaction stays short.

Claims are leases (claimed_until, claimed_by): PostgreSQL takes them with SELECT ... FOR UPDATE SKIP LOCKED,
SQLite inside a BEGIN IMMEDIATE write transaction (one writer at a time). A sender starting up releases the
leases of senders on the same host whose process is gone (a crash, a kill -9), so their email goes at once;
rows left by a worker that died on another host become due again when its lease runs out (a few minutes:
the lease covers two emails at most and is taken again for each batch). SMTP is at-least-once by nature; the
Message-ID stays the same across retries so a duplicate can be recognised.

Every failure is recorded on its row (attempts, last_error, next_attempt_at); one that cannot be recorded
at once (the database's disk is full too) is kept in memory and recorded before the next batch. An email
that can never be sent (a permanent SMTP refusal, a provider's Undeliverable: its order is gone) is given
up at once (dead), and so is one that failed max_attempts times; organisers see them at /organiser/mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from kernel.db import Database, utcnow
from kernel.mail.outbox import DEAD, PENDING, SENT, WAKE_FLAG, OutboxMessage, Undeliverable, message_id_header
from kernel.mail.providers import AttachmentProvider, BodyProvider, bodies, resolve_attachment
from kernel.mail.transports import (
    Transport,
    TransportUnavailable,
    describe_error,
    is_permanent_failure,
    transport_for,
)
from kernel.settings import Settings
from kernel.text import one_line

log = logging.getLogger("kernel.mail")


# --- holding off during a rush ---------------------------------------------------------------------

_busy_until = 0.0  # time.monotonic() until which this process is answering something more urgent


def hold_off(seconds: float = 0.5) -> None:
    """Ask this process's senders to make no attachments for the next `seconds` (each call renews it).

    A PDF ticket takes a good fraction of a CPU second to render, in this process and on the same cores
    as the requests. Each booking attempt calls this, so during a rush the cores answer the people
    booking, and their confirmation emails follow when it pauses (or after MailSender.max_hold at most).
    """
    global _busy_until
    _busy_until = max(_busy_until, time.monotonic() + seconds)


# --- the sender ------------------------------------------------------------------------------------

class MailSender:
    """Sends due outbox email. Several may run (one per worker process); each email goes once."""

    max_attempts = 12
    max_hold = 15.0  # seconds a batch may wait for a rush to pause (hold_off) before it is sent anyway
    backoff_base = dt.timedelta(seconds=30)
    backoff_cap = dt.timedelta(hours=1)

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        transport: Transport | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        bodies: Mapping[str, BodyProvider] | None = None,
        attachments: Mapping[str, AttachmentProvider] | None = None,
    ):
        self.db = db
        self.settings = settings
        self.bodies = dict(bodies or {})  # the app's mail_bodies and mail_attachments (kernel.hooks)
        self.attachments = dict(attachments or {})
        self.transport = transport or transport_for(settings)
        self.clock = clock
        # Each email may take up to this long; the lease covers several, and no email starts late in it.
        self.per_email = dt.timedelta(seconds=2 * settings.smtp_timeout_seconds + 10)
        self.lease = 2 * self.per_email
        # Who holds a lease: this host, this process, this sender (several may run in one process).
        self.owner = f"{_HOST[:100]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        _owners_here.add(self.owner)
        self._unrecorded: dict[int, dict[str, Any]] = {}  # row id -> outcome the database refused to record
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopping = False
        self._last_claimed = 0

    def backoff(self, attempts: int) -> dt.timedelta:
        """Wait after the `attempts`-th failure: 30 s, 1 min, 2 min ... at most an hour."""
        return min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_cap)

    def _due(self, now: dt.datetime):
        return (
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )

    async def _claim(self, now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[OutboxMessage]:
        # A read first, so idle polling never takes SQLite's write lock.
        async with self.db.read() as session:
            if await session.scalar(select(OutboxMessage.id).where(*self._due(now)).limit(1)) is None:
                return []
        async with self.db.write() as session:
            stmt = (
                select(OutboxMessage)
                .where(*self._due(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list((await session.scalars(stmt)).all())
            if rows:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]))
                    .values(claimed_until=lease_until, claimed_by=self.owner)
                    .execution_options(synchronize_session=False)
                )
            return rows

    async def build_message(self, row: OutboxMessage) -> EmailMessage:
        """The MIME message for a row: text, HTML alternative, attachments made now."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        try:
            message["To"] = row.to_addr
        except (ValueError, TypeError) as exc:  # queued before enqueue() checked addresses: it never will go
            raise Undeliverable(f"not an address an email can go to: {row.to_addr!r}") from exc
        message["Subject"] = one_line(row.subject, 300) or "(no subject)"  # rows queued before enqueue checked
        message["Date"] = format_datetime(row.created_at)
        message["Message-ID"] = message_id_header(row, self.settings.mail_from)
        text, html = await bodies(self.db, row, self.bodies)
        if row.body:  # kept with the row when it is marked sent: what was sent, for anyone asking later
            row.text_body, row.html_body = text, html
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
        for spec in row.attachments or []:
            filename, mimetype, data = await resolve_attachment(self.db, spec, self.attachments)
            maintype, _, subtype = mimetype.partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype,
                                   filename=one_line(filename, 200) or "attachment")
        return message

    async def send_due(self, limit: int = 50) -> int:
        """Claim up to `limit` due emails, send them, record each outcome; returns how many were sent."""
        if self._stopping:
            return 0
        await self._record_unrecorded()
        now = self.clock()
        lease_until = now + self.lease
        rows = await self._claim(now, lease_until, limit)
        self._last_claimed = len(rows)
        sent = 0
        remaining = list(rows)
        hold_until = time.monotonic() + self.max_hold
        try:
            async with self.transport.connection() as conn:
                while remaining:
                    await self._wait_for_quiet(hold_until)
                    if self._stopping or self.clock() + self.per_email > lease_until:
                        break
                    row = remaining.pop(0)
                    try:
                        message = await self.build_message(row)
                        await conn.send(row, message)
                    except TransportUnavailable as exc:
                        failed, remaining = [row, *remaining], []
                        await self._record_failures(failed, exc)
                    except Exception as exc:  # noqa: BLE001 - recorded on the row and retried
                        await self._record_failures([row], exc)
                    else:
                        await self._mark_sent(row)
                        sent += 1
        finally:
            if remaining:
                await self._release(remaining, lease_until)
        return sent

    async def _wait_for_quiet(self, hold_until: float) -> None:
        """Wait while hold_off() is in force, but not past `hold_until` (time.monotonic())."""
        while not self._stopping:
            now = time.monotonic()
            if now >= _busy_until or now >= hold_until:
                return
            await asyncio.sleep(min(_busy_until, hold_until) - now)

    async def _mark_sent(self, row: OutboxMessage) -> None:
        sent_bodies = {"text_body": row.text_body, "html_body": row.html_body} if row.body else {}
        await self._record(row, {"status": SENT, "sent_at": self.clock(), "attempts": row.attempts + 1,
                                 "claimed_until": None, "claimed_by": None, "last_error": None, **sent_bodies})
        log.info("sent email %s to %s", row.id, row.to_addr)

    async def _record_failures(self, rows: list[OutboxMessage], exc: BaseException) -> None:
        now, error, permanent = self.clock(), describe_error(exc), is_permanent_failure(exc)
        for row in rows:
            attempts = row.attempts + 1
            dead = permanent or attempts >= self.max_attempts
            values: dict[str, Any] = {"attempts": attempts, "last_error": error, "claimed_until": None,
                                      "claimed_by": None}
            if dead:
                values["status"] = DEAD
                values["last_error"] = f"Given up: {error}"[:2000]
            else:
                values["next_attempt_at"] = now + self.backoff(attempts)
            await self._record(row, values)
            if dead:
                # Nothing left to send (its order is gone or cancelled) is expected; a refused email is not.
                (log.warning if isinstance(exc, Undeliverable) else log.error)(
                    "gave up on email %s to %s after %d attempts: %s", row.id, row.to_addr, attempts, error)
            else:
                log.warning("email %s to %s failed (attempt %d), retrying at %s: %s", row.id,
                            row.to_addr, attempts, values["next_attempt_at"].isoformat(), error)

    async def _record(self, row: OutboxMessage, values: dict[str, Any]) -> None:
        """Write an outcome on its row; if the database refuses (its disk is full), keep it to write later."""
        try:
            await self._update(row.id, values)
        except Exception:
            log.exception("could not record the outcome of email %s; kept to record later", row.id)
            self._unrecorded[row.id] = values

    async def _update(self, row_id: int, values: dict[str, Any]) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING)
                .values(**values)
            )

    async def _record_unrecorded(self) -> None:
        """The outcomes _record() could not write, written now (raises while the database still refuses)."""
        for row_id, values in list(self._unrecorded.items()):
            await self._update(row_id, values)
            del self._unrecorded[row_id]

    async def release_orphans(self) -> int:
        """Release the leases held by senders of this host whose process is gone; returns how many."""
        async with self.db.read() as session:
            owners = (await session.scalars(
                select(OutboxMessage.claimed_by).distinct()
                .where(OutboxMessage.status == PENDING, OutboxMessage.claimed_by.is_not(None))
            )).all()
        gone = [owner for owner in owners if _is_gone(owner)]
        if not gone:
            return 0
        async with self.db.write() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.claimed_by.in_(gone), OutboxMessage.status == PENDING)
                .values(claimed_until=None, claimed_by=None)
            )
        log.warning("released %d emails claimed by senders that are gone: %s", result.rowcount, ", ".join(gone))
        return result.rowcount

    async def _release(self, rows: list[OutboxMessage], lease_until: dt.datetime) -> None:
        # Only our own lease: if it ran out and another worker claimed the rows, they are theirs now.
        try:
            async with self.db.write() as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]),
                           OutboxMessage.claimed_until == lease_until)
                    .values(claimed_until=None, claimed_by=None)
                )
        except Exception:
            log.warning("could not release %d claimed emails; they wait for their lease", len(rows),
                        exc_info=True)

    # --- the background task ---------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due email now rather than at the next poll (safe from any thread)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            wakeup.set()
        else:
            loop.call_soon_threadsafe(wakeup.set)

    async def run_forever(self, batch: int = 50) -> None:
        """send_due, then wait for wake() or the poll interval; errors are logged, never fatal."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        _running_senders.add(self)
        failures = 0
        try:
            try:
                await self.release_orphans()
                cleanup = getattr(self.transport, "clean_partials", None)
                if cleanup is not None:
                    await asyncio.to_thread(cleanup)
            except Exception:
                log.exception("outbox sender could not release the leases of senders that are gone")
            while not self._stopping:
                self._wakeup.clear()
                try:
                    await self.send_due(batch)
                    failures = 0
                except Exception:
                    failures += 1
                    log.exception("outbox sender failed (%d in a row)", failures)
                if self._stopping:
                    break
                if failures == 0 and self._last_claimed >= batch:
                    continue  # a full batch: there may be more due already
                wait = min(self.settings.mail_poll_seconds * 2 ** min(failures, 5), 60.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
        finally:
            _running_senders.discard(self)

    def start(self) -> asyncio.Task:
        """Run the sender as a task of the running loop (the app lifespan calls this)."""
        if self._task is not None and not self._task.done():
            return self._task
        self._stopping = False
        self._task = asyncio.create_task(self.run_forever(), name="denhub-mail-sender")
        return self._task

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the email in hand finish (up to `timeout` seconds), then end the task."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.wake()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._stopping = False  # send_due() may still be called by hand


# --- who holds a lease ----------------------------------------------------------------------------

def _host() -> str:
    """This host, and the pid namespace on it (containers sharing a host name see different pids)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()[:80]}/{namespace}"


_HOST = _host()
_owners_here: set[str] = set()  # the owners of this process's senders (made in this process's lifetime)


def _is_gone(owner: str) -> bool:
    """True if the sender `owner` names ("host:pid:token") ran on this host in a process that has ended."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _HOST[:100] or owner in _owners_here or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True  # an earlier process with our pid (a container's pid 1 after a restart)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    try:  # killed but not yet reaped by its parent: a zombie sends nothing
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# --- waking on commit ------------------------------------------------------------------------------

_running_senders: weakref.WeakSet[MailSender] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _after_commit(sync_session) -> None:
    # A transaction that queued email wakes this process's senders, so they start at once instead of on
    # their next poll (other processes poll): the one wake-up, for every caller of enqueue. One listener for
    # every session: adding one to each session that queues costs more than the insert.
    if sync_session.info.pop(WAKE_FLAG, False):
        for sender in list(_running_senders):
            sender.wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(sync_session) -> None:
    sync_session.info.pop(WAKE_FLAG, None)
