"""What an email is made of when it is sent: bodies and attachments from named providers, and templates.

Attachments (PDF tickets) and some bodies are made at send time by providers, so the transaction that queues
the email stays short. Domains give providers by name (kernel.hooks: mail_bodies, mail_attachments); the
sender calls the one an outbox row's spec names (`{"provider": name, "args": {...}}`) with the database and
the args. For email queued where every microsecond counts (a booking rush), rendering templates costs more
than queueing the row, and the sender renders them anyway, after the rush, from the rows as they are then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kernel.db import Database
from kernel.mail.outbox import OutboxMessage

AttachmentProvider = Callable[[Database, dict[str, Any]], Awaitable[tuple[str, str, bytes]]]
BodyProvider = Callable[[Database, dict[str, Any]], Awaitable[tuple[str, str | None]]]


async def bodies(db: Database, row: OutboxMessage,
                 providers: Mapping[str, BodyProvider]) -> tuple[str, str | None]:
    """The (text, HTML) bodies of a queued email: as queued, or made now by its body provider (one of
    `providers`, by name: the app's mail_bodies, kernel.hooks)."""
    if not row.body:
        return row.text_body, row.html_body
    name = row.body["provider"]
    provider = providers.get(name)
    if provider is None:
        raise LookupError(f"no body provider named {name!r} in this app")
    text, html = await provider(db, dict(row.body.get("args") or {}))
    if not isinstance(text, str) or not text or not (html is None or isinstance(html, str)):
        raise TypeError(f"body provider {name!r} must return (text, HTML or None) with some text")
    return text, html


async def resolve_attachment(db: Database, spec: Mapping[str, Any],
                             providers: Mapping[str, AttachmentProvider]) -> tuple[str, str, bytes]:
    """Run the provider named in `spec` (one of `providers`: the app's mail_attachments, kernel.hooks);
    returns (filename, mimetype, bytes)."""
    name = spec["provider"]
    provider = providers.get(name)
    if provider is None:
        raise LookupError(f"no attachment provider named {name!r} in this app")
    filename, mimetype, data = await provider(db, dict(spec.get("args") or {}))
    if "/" not in mimetype or not isinstance(data, bytes | bytearray):
        raise TypeError(f"attachment provider {name!r} must return (filename, 'type/subtype', bytes)")
    return filename, mimetype, bytes(data)


_text_env = None


def render_email(template_name: str, **context: Any) -> tuple[str, str]:
    """Render templates/email/<name>.txt and <name>.html with `context`: (text body, HTML body)."""
    global _text_env
    from kernel.web import env  # lazily: denhub.models imports kernel.mail, web imports the app's auth

    if _text_env is None:
        _text_env = env.overlay(autoescape=False)  # plain text must not be HTML-escaped
    html = env.get_template(f"email/{template_name}.html").render(**context)
    text = _text_env.get_template(f"email/{template_name}.txt").render(**context)
    return text, html
