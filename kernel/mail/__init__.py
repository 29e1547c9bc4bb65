"""Transactional email through an outbox table.

`enqueue()` adds a row in the caller's transaction, so an order and its confirmation email commit or roll
back together; `MailSender` (one task per app process, started in the lifespan) claims due rows and sends
them. The parts, each importing only the ones above it in this list:

- outbox      the OutboxMessage table, its statuses, enqueue() and Queued, attachment specs;
- providers   the attachment and body provider registries, render_email();
- transports  SMTP (aiosmtplib) and the .eml file writer for development;
- sender      MailSender: claims (leases), retries with backoff, hold_off() during a rush.

Callers use the names re-exported here (`from kernel import mail; mail.enqueue(...)`).
"""

from kernel.mail.outbox import (
    DEAD,
    PENDING,
    SENT,
    OutboxMessage,
    Queued,
    Undeliverable,
    attachment,
    enqueue,
    message_id_header,
)
from kernel.mail.providers import (
    AttachmentProvider,
    BodyProvider,
    bodies,
    render_email,
    resolve_attachment,
)
from kernel.mail.sender import MailSender, hold_off
from kernel.mail.transports import (
    Connection,
    FileTransport,
    SMTPTransport,
    Transport,
    TransportUnavailable,
    transport_for,
)

__all__ = [
    "DEAD",
    "PENDING",
    "SENT",
    "AttachmentProvider",
    "BodyProvider",
    "Connection",
    "FileTransport",
    "MailSender",
    "OutboxMessage",
    "Queued",
    "SMTPTransport",
    "Transport",
    "TransportUnavailable",
    "Undeliverable",
    "attachment",
    "bodies",
    "enqueue",
    "hold_off",
    "message_id_header",
    "render_email",
    "resolve_attachment",
    "transport_for",
]
