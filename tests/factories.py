"""Test data builders: `make_event(session, **overrides)` and friends. Each returns the saved object."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event, EventImage, EventStatus
from kernel.accounts import Role, User, create_user
from kernel.db import utcnow

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


async def make_user(session: AsyncSession, *, role: Role | str = Role.ADMIN, **overrides) -> User:
    n = next(_seq)
    return await create_user(
        session=session,
        email=overrides.pop("email", f"user{n}@example.org"),
        name=overrides.pop("name", f"User {n}"),
        role=role,
        password=overrides.pop("password", PASSWORD),
    )


async def make_event(session: AsyncSession, **overrides) -> Event:
    n = next(_seq)
    starts = overrides.pop("starts_at", utcnow() + dt.timedelta(days=7))
    fields = {
        "slug": f"event-{n}", "title": f"Event {n}", "summary": "A test event", "description": "Some *text*",
        "category": "workshop", "venue_name": "Soho House – Visitor Centre", "venue_address": "Soho Avenue, B18 5LB",
        "starts_at": starts, "ends_at": starts + dt.timedelta(hours=2), "status": EventStatus.PUBLISHED.value,
    }
    fields.update(overrides)
    event = Event(**fields)
    session.add(event)
    await session.flush()
    return event


def png_bytes(width: int = 8, height: int = 6, *, noise: bool = False, fmt: str = "PNG") -> bytes:
    """A real image made with Pillow; `noise` makes it large because it cannot be compressed."""
    import io
    import os

    from PIL import Image

    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (200, 30, 60))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


async def make_event_image(session: AsyncSession, event: Event, *, data: bytes | None = None,
                           content_type: str = "image/png", alt_text: str = "A test image") -> EventImage:
    """Attach an image to a saved event (as the organiser form would)."""
    import hashlib

    data = data if data is not None else png_bytes()
    image = EventImage(event_id=event.id, content_type=content_type, width=8, height=6, alt_text=alt_text,
                       data=data)
    session.add(image)
    event.image_version = hashlib.sha256(data).hexdigest()[:16]
    await session.flush()
    return image
