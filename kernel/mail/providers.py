"""What an email is made of when it is sent: bodies and attachments from named providers, and templates.

Attachments (PDF tickets) and some bodies are made at send time by registered providers, so the
transaction that queues the email stays short. A provider is registered under the name an outbox row's
spec gives (`{"provider": name, "args": {...}}`) and called by the sender with the database and the args.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kernel.db import Database
from kernel.mail.outbox import OutboxMessage

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
