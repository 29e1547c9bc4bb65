"""The outbox table and enqueue(): an email is a row written in the caller's transaction.

An order and its confirmation email commit or roll back together. What the row may name to be made at
send time (a body provider, attachment providers) is stored as `{"provider": name, "args": {...}}` specs,
checked here; the sender (kernel.mail.sender) resolves them through kernel.mail.providers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from email.utils import parseaddr
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kernel import sqlite_direct
from kernel.db import Base, UTCDateTime, utcnow
from kernel.text import has_control_characters, one_line

PENDING, SENT, DEAD = "pending", "sent", "dead"

# The session.info key enqueue() sets: the sender's after_commit listener (kernel.mail.sender) wakes this
# process's senders when a transaction that queued email commits.
WAKE_FLAG = "denhub_mail_queued"


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
    # {"provider": name, "args": {...}}, made by the body provider of that name (kernel.hooks mail_bodies); or None.
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # [{"provider": name, "args": {...}}], made by the attachment providers of those names (mail_attachments).
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Which sender holds the lease ("host:pid:token", kernel.mail.sender): a sender starting on the same host
    # releases the leases of a process that is gone at once, instead of waiting for them to run out.
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Undeliverable(Exception):
    """Raised by a body or attachment provider when this email can never be made (its order is gone, every
    ticket it would carry was cancelled): the sender gives up on it at once (dead) instead of retrying."""


def attachment(provider: str, **args: Any) -> dict[str, Any]:
    """An attachment spec for enqueue(): `attachment("ticket_pdf", ticket_id=7)`."""
    return _attachment_spec({"provider": provider, "args": args})


def _attachment_spec(item: Mapping[str, Any] | tuple[str, Mapping[str, Any]]) -> dict[str, Any]:
    # A body or attachment spec as stored in the row: a provider name and JSON arguments.
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


def _recipient(to: str) -> str:
    # A recipient with a line break or control character is no address (the forms check addresses).
    if has_control_characters(to) or "@" not in parseaddr(to.strip())[1] or len(to.strip()) > 320:
        raise ValueError(f"not an email address: {to!r}")
    return to.strip()


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
    ({"provider": name, "args": {...}}, see kernel.mail.providers): one or the other."""
    to = _recipient(to)
    if (text is None) == (body is None) or (body is not None and html is not None):
        raise ValueError("an email needs its text (and HTML), or a body provider, not both")
    now = utcnow()
    values = {
        "message_id": uuid.uuid4().hex,
        "to_addr": to,
        # One line whatever it holds: a line break in an event title never stops its bookings.
        "subject": one_line(subject, 300) or "(no subject)",
        "text_body": text or "",
        "html_body": html,
        "body": _attachment_spec(body) if body is not None else None,
        "attachments": [_attachment_spec(a) for a in attachments],
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "claimed_until": None,
        "claimed_by": None,
        "sent_at": None,
        "created_at": now,
    }
    # A Core INSERT and an object standing for the row (every column set), not the ORM's unit of work:
    # a booking rush queues one email per booking.
    row_id = (await sqlite_direct.execute(session, _INSERT_OUTBOX, values)).scalar()
    session.sync_session.info[WAKE_FLAG] = True  # see kernel.mail.sender._after_commit
    return Queued(row_id, values["message_id"])


@dataclasses.dataclass(frozen=True, slots=True)
class Queued:
    """The outbox row enqueue() wrote (the row itself is not loaded: a booking rush queues one a booking)."""

    id: int
    message_id: str


_INSERT_OUTBOX = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


def message_id_header(message: OutboxMessage | Queued, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "denhub.invalid"
    return f"<{message.message_id}@{domain}>"
