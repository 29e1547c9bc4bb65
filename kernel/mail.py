"""Transactional email through an outbox table.

`enqueue()` adds a row in the caller's transaction, so an order and its confirmation email commit or roll
back together. `MailSender` (one task per app process, started in the lifespan) claims due rows, sends
them outside the claim transaction and records the outcome. Attachments (PDF tickets) are made at send
time by registered providers, so the registration transaction stays short.

Claims are leases (claimed_until): PostgreSQL takes them with SELECT ... FOR UPDATE SKIP LOCKED, SQLite
inside a BEGIN IMMEDIATE write transaction (one writer at a time). Rows left by a worker that died become
due again when its lease runs out. SMTP is at-least-once by nature; the Message-ID stays the same across
retries so a duplicate can be recognised.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email.policy
import json
import logging
import os
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import JSON, Index, Integer, String, Text, event, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel import sqlite_direct
from kernel.db import Base, Database, UTCDateTime, utcnow
from kernel.settings import Settings

log = logging.getLogger("kernel.mail")

PENDING, SENT, DEAD = "pending", "sent", "dead"


class OutboxMessage(Base):
    """One email waiting to be sent, sent, or given up on (dead)."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Left part of the Message-ID header; the sender adds "@<domain of DENHUB_MAIL_FROM>".
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    # The bodies: given to enqueue(), or made when sending by the body provider named in `body` (then
    # empty until sent, when they are filled in with what was sent).
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    # {"provider": name, "args": {...}}, resolved by the sender through register_body_provider; or None.
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # [{"provider": name, "args": {...}}], resolved by the sender through register_attachment_provider.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- attachments -----------------------------------------------------------------------------------

AttachmentProvider = Callable[[Database, dict[str, Any]], Awaitable[tuple[str, str, bytes]]]
_providers: dict[str, AttachmentProvider] = {}


def register_attachment_provider(name: str, provider: AttachmentProvider | None = None):
    """Let attachments named `name` be made by `async provider(db, args) -> (filename, mimetype, bytes)`.

    Usable as a call or as a decorator (`@register_attachment_provider("ticket_pdf")`).
    """

    def register(fn: AttachmentProvider) -> AttachmentProvider:
        _providers[name] = fn
        return fn

    return register if provider is None else register(provider)


def attachment(provider: str, **args: Any) -> dict[str, Any]:
    """An attachment spec for enqueue(): `attachment("ticket_pdf", ticket_id=7)`."""
    return _attachment_spec({"provider": provider, "args": args})


def _attachment_spec(item: Mapping[str, Any] | tuple[str, Mapping[str, Any]]) -> dict[str, Any]:
    if isinstance(item, Mapping):
        provider, args = item.get("provider"), item.get("args", {})
    else:
        provider, args = item
    if not isinstance(provider, str) or not provider:
        raise ValueError(f"an attachment needs a provider name, not {provider!r}")
    if not isinstance(args, Mapping):
        raise TypeError(f"attachment args must be a mapping, not {args!r}")
    args = dict(args)
    try:
        json.dumps(args)
    except TypeError as exc:
        raise TypeError(f"attachment args for {provider!r} must be JSON values: {exc}") from None
    return {"provider": provider, "args": args}


BodyProvider = Callable[[Database, dict[str, Any]], Awaitable[tuple[str, str | None]]]
_body_providers: dict[str, BodyProvider] = {}


def register_body_provider(name: str, provider: BodyProvider | None = None):
    """Let email bodies named `name` be made when sending by `async provider(db, args) -> (text, html)`.

    For email queued where every microsecond counts (a booking rush): rendering templates costs more than
    queueing the row, and the sender renders them anyway, after the rush, from the rows as they are then.
    """

    def register(fn: BodyProvider) -> BodyProvider:
        _body_providers[name] = fn
        return fn

    return register if provider is None else register(provider)


async def bodies(db: Database, row: OutboxMessage) -> tuple[str, str | None]:
    """The (text, HTML) bodies of a queued email: as queued, or made now by its body provider."""
    if not row.body:
        return row.text_body, row.html_body
    name = row.body["provider"]
    provider = _body_providers.get(name)
    if provider is None:
        raise LookupError(f"no body provider named {name!r} is registered in this process")
    text, html = await provider(db, dict(row.body.get("args") or {}))
    if not isinstance(text, str) or not text or not (html is None or isinstance(html, str)):
        raise TypeError(f"body provider {name!r} must return (text, HTML or None) with some text")
    return text, html


async def resolve_attachment(db: Database, spec: Mapping[str, Any]) -> tuple[str, str, bytes]:
    """Run the provider named in `spec`; returns (filename, mimetype, bytes)."""
    name = spec["provider"]
    provider = _providers.get(name)
    if provider is None:
        raise LookupError(f"no attachment provider named {name!r} is registered in this process")
    filename, mimetype, data = await provider(db, dict(spec.get("args") or {}))
    if "/" not in mimetype or not isinstance(data, bytes | bytearray):
        raise TypeError(f"attachment provider {name!r} must return (filename, 'type/subtype', bytes)")
    return filename, mimetype, bytes(data)


# --- queueing --------------------------------------------------------------------------------------

def _one_line(label: str, value: str, limit: int) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an email {label} must be one line")
    if not value.strip() or len(value) > limit:
        raise ValueError(f"an email {label} must be 1 to {limit} characters")
    return value.strip()


async def enqueue(
    *,
    session: AsyncSession,
    to: str,
    subject: str,
    text: str | None = None,
    html: str | None = None,
    body: Mapping[str, Any] | tuple[str, Mapping[str, Any]] | None = None,
    attachments: Iterable[Mapping[str, Any] | tuple[str, Mapping[str, Any]]] = (),
) -> Queued:
    """Queue one email in the caller's transaction: it is sent only if that transaction commits.

    The bodies are `text` (and `html`), or made when sending by the body provider `body` names
    ({"provider": name, "args": {...}}, see register_body_provider): one or the other."""
    to = _one_line("recipient", to, 320)
    if "@" not in parseaddr(to)[1]:
        raise ValueError(f"not an email address: {to!r}")
    if (text is None) == (body is None) or (body is not None and html is not None):
        raise ValueError("an email needs its text (and HTML), or a body provider, not both")
    now = utcnow()
    values = dict(
        message_id=uuid.uuid4().hex,
        to_addr=to,
        subject=_one_line("subject", subject, 300),
        text_body=text or "",
        html_body=html,
        body=_attachment_spec(body) if body is not None else None,
        attachments=[_attachment_spec(a) for a in attachments],
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        claimed_until=None,
        sent_at=None,
        created_at=now,
    )
    # A Core INSERT and an object standing for the row (every column set), not the ORM's unit of work:
    # a booking rush queues one email per booking.
    row_id = (await sqlite_direct.execute(session, _INSERT_OUTBOX, values)).scalar()
    session.sync_session.info[_WAKE_FLAG] = True  # see _after_commit
    return Queued(row_id, values["message_id"])


@dataclasses.dataclass(frozen=True, slots=True)
class Queued:
    """The outbox row enqueue() wrote (the row itself is not loaded: a booking rush queues one a booking)."""

    id: int
    message_id: str


_INSERT_OUTBOX = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)
_WAKE_FLAG = "denhub_mail_queued"
_running_senders: weakref.WeakSet[MailSender] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _after_commit(sync_session) -> None:
    # A transaction that queued email wakes this process's senders, so they start at once instead of on
    # their next poll (other processes poll): the one wake-up, for every caller of enqueue. One listener for
    # every session: adding one to each session that queues costs more than the insert.
    if sync_session.info.pop(_WAKE_FLAG, False):
        for sender in list(_running_senders):
            sender.wake()


@event.listens_for(Session, "after_rollback")
def _after_rollback(sync_session) -> None:
    sync_session.info.pop(_WAKE_FLAG, None)


_text_env = None


def render_email(template_name: str, **context: Any) -> tuple[str, str]:
    """Render templates/email/<name>.txt and <name>.html with `context`: (text body, HTML body)."""
    global _text_env
    from kernel.web import env  # lazily: denhub.models imports this module, web imports the app's auth

    if _text_env is None:
        _text_env = env.overlay(autoescape=False)  # plain text must not be HTML-escaped
    html = env.get_template(f"email/{template_name}.html").render(**context)
    text = _text_env.get_template(f"email/{template_name}.txt").render(**context)
    return text, html


# --- building and transports -----------------------------------------------------------------------

def message_id_header(message: OutboxMessage | Queued, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "denhub.invalid"
    return f"<{message.message_id}@{domain}>"


class TransportUnavailable(Exception):
    """The mail server could not be reached or refused us: no email in this batch can go now."""


class Connection(Protocol):
    async def send(self, row: OutboxMessage, message: EmailMessage) -> None: ...


class Transport(Protocol):
    def connection(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...


class FileTransport:
    """No SMTP configured: each email becomes <dir>/<created>-<id>.eml (development and tests)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[FileTransport]:
        yield self

    async def send(self, row: OutboxMessage, message: EmailMessage) -> None:
        path = self.directory / f"{row.created_at:%Y%m%dT%H%M%S}Z-{row.id}.eml"
        await asyncio.to_thread(self._write, path, message.as_bytes(policy=email.policy.SMTP))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(data)
        os.replace(partial, path)  # a reader never sees half a file


class SMTPTransport:
    """smtp://user:pass@host:587?starttls=true, smtps://host:465, smtp://127.0.0.1:1025."""

    def __init__(self, url: str, *, timeout: float):
        parts = urlsplit(url)
        query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
        self.use_tls = parts.scheme == "smtps"
        # Absent: STARTTLS if the server offers it (aiosmtplib's default); false: never; true: required.
        starttls = query.get("starttls")
        if self.use_tls:
            self.start_tls: bool | None = False
        else:
            self.start_tls = None if starttls is None else starttls in {"1", "true", "yes", "on"}
        self.hostname = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.use_tls else 587 if self.start_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[_SMTPConnection]:
        conn = _SMTPConnection(self)
        try:
            yield conn
        finally:
            await conn.close()


class _SMTPConnection:
    """One SMTP session reused for a batch; reopened after any error."""

    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self.client: aiosmtplib.SMTP | None = None

    async def send(self, row: OutboxMessage, message: EmailMessage) -> None:
        t = self.transport
        if self.client is None:
            client = aiosmtplib.SMTP(
                hostname=t.hostname, port=t.port, username=t.username, password=t.password,
                use_tls=t.use_tls, start_tls=t.start_tls, timeout=t.timeout,
            )
            try:
                await client.connect()
            except (aiosmtplib.SMTPException, OSError) as exc:
                client.close()
                raise TransportUnavailable(f"{t.hostname}:{t.port}: {_describe(exc)}") from exc
            self.client = client
        try:
            await self.client.send_message(message)
        except BaseException:
            self.client.close()  # the session is in an unknown state: the next email starts afresh
            self.client = None
            raise

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.quit()
            except Exception:  # noqa: BLE001 - the email is already accepted; just drop the connection
                client.close()


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SMTPTransport(settings.smtp_url, timeout=settings.smtp_timeout_seconds)
    return FileTransport(settings.var_path / "outbox")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _is_permanent(exc: BaseException) -> bool:
    """A 5xx answer about this email (bad recipient, rejected content): retrying will not help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
        return False  # our configuration, not this email: keep it for when it is fixed
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


# --- holding off during a rush ----------------------------------------------------------------------

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
    ):
        self.db = db
        self.settings = settings
        self.transport = transport or transport_for(settings)
        self.clock = clock
        # Each email may take up to this long; the lease covers several, and no email starts late in it.
        self.per_email = dt.timedelta(seconds=2 * settings.smtp_timeout_seconds + 10)
        self.lease = max(dt.timedelta(minutes=5), 10 * self.per_email)
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
                    .values(claimed_until=lease_until)
                    .execution_options(synchronize_session=False)
                )
            return rows

    async def build_message(self, row: OutboxMessage) -> EmailMessage:
        """The MIME message for a row: text, HTML alternative, attachments made now."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = row.to_addr
        message["Subject"] = row.subject
        message["Date"] = format_datetime(row.created_at)
        message["Message-ID"] = message_id_header(row, self.settings.mail_from)
        text, html = await bodies(self.db, row)
        if row.body:  # kept with the row when it is marked sent: what was sent, for anyone asking later
            row.text_body, row.html_body = text, html
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
        for spec in row.attachments or []:
            filename, mimetype, data = await resolve_attachment(self.db, spec)
            maintype, _, subtype = mimetype.partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return message

    async def send_due(self, limit: int = 50) -> int:
        """Claim up to `limit` due emails, send them, record each outcome; returns how many were sent."""
        if self._stopping:
            return 0
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
        async with self.db.write() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.status == PENDING)
                .values(status=SENT, sent_at=self.clock(), attempts=row.attempts + 1, claimed_until=None,
                        last_error=None, **sent_bodies)
            )
        log.info("sent email %s to %s", row.id, row.to_addr)

    async def _record_failures(self, rows: list[OutboxMessage], exc: BaseException) -> None:
        now, error, permanent = self.clock(), _describe(exc), _is_permanent(exc)
        async with self.db.write() as session:
            for row in rows:
                attempts = row.attempts + 1
                dead = permanent or attempts >= self.max_attempts
                values: dict[str, Any] = {"attempts": attempts, "last_error": error, "claimed_until": None}
                if dead:
                    values["status"] = DEAD
                else:
                    values["next_attempt_at"] = now + self.backoff(attempts)
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.status == PENDING)
                    .values(**values)
                )
                if dead:
                    log.error("gave up on email %s to %s after %d attempts: %s", row.id, row.to_addr,
                              attempts, error)
                else:
                    log.warning("email %s to %s failed (attempt %d), retrying at %s: %s", row.id,
                                row.to_addr, attempts, values["next_attempt_at"].isoformat(), error)

    async def _release(self, rows: list[OutboxMessage], lease_until: dt.datetime) -> None:
        # Only our own lease: if it ran out and another worker claimed the rows, they are theirs now.
        try:
            async with self.db.write() as session:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]),
                           OutboxMessage.claimed_until == lease_until)
                    .values(claimed_until=None)
                )
        except Exception:  # noqa: BLE001 - the lease runs out by itself
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
            while not self._stopping:
                self._wakeup.clear()
                try:
                    await self.send_due(batch)
                    failures = 0
                except Exception:  # noqa: BLE001 - a database hiccup must not stop email for good
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
