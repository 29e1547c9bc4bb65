"""Where a built email goes: an SMTP server (aiosmtplib), or .eml files when none is configured.

A transport opens a connection for a batch; the connection sends one message at a time. Errors that mean
no email can go now are TransportUnavailable; is_permanent_failure() tells the sender which answers about
one email are final (no retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import os
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from kernel.mail.outbox import OutboxMessage, Undeliverable
from kernel.settings import Settings, private_directory


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

    # A .partial file older than this is left by a process that died while writing it (see clean_partials).
    stale_partial_seconds = 60.0

    async def send(self, row: OutboxMessage, message: EmailMessage) -> None:
        path = self.directory / f"{row.created_at:%Y%m%dT%H%M%S}Z-{row.id}.eml"
        await asyncio.to_thread(self._write, path, message.as_bytes(policy=email.policy.SMTP))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Tickets with QR codes and people's names: readable by the app's user only (0700 folder, 0600 files).
        private_directory(path.parent)
        partial = path.with_suffix(".eml.partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(partial, path)  # a reader never sees half a file
        except BaseException:
            with contextlib.suppress(OSError):  # a full disk leaves no half-written file behind
                partial.unlink()
            raise

    def clean_partials(self) -> int:
        """Remove the .eml.partial files a process left when it died while writing one; returns how many."""
        removed = 0
        cutoff = time.time() - self.stale_partial_seconds
        for partial in self.directory.glob("*.eml.partial"):
            with contextlib.suppress(OSError):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()
                    removed += 1
        return removed


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
                raise TransportUnavailable(f"{t.hostname}:{t.port}: {describe_error(exc)}") from exc
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


def describe_error(exc: BaseException) -> str:
    """The error as recorded on an outbox row (last_error): its type and message, cut to 2000 characters."""
    return f"{type(exc).__name__}: {exc}"[:2000]


def is_permanent_failure(exc: BaseException) -> bool:
    """A 5xx answer about this email (bad recipient, rejected content), or an email that can never be made
    (Undeliverable: its order is gone): retrying will not help."""
    if isinstance(exc, Undeliverable):
        return True
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
        return False  # our configuration, not this email: keep it for when it is fixed
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600
