"""Event business rules: listing, creating, editing, publishing and cancelling. No HTTP here."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from events.forms import EventInput
from events.models import Category, Event, EventImage, EventStatus
from kernel.db import utcnow

PUBLIC_STATUSES = (EventStatus.PUBLISHED.value, EventStatus.CANCELLED.value)


class EventError(Exception):
    """A rule about events was broken; `field` names the form field when there is one."""

    field: str | None = None


class DuplicateSlug(EventError):
    field = "slug"

    def __init__(self, slug: str):
        super().__init__(f"Another event already uses the web address “{slug}”. Choose another.")


class InvalidTransition(EventError):
    pass


async def list_upcoming(*, session: AsyncSession, now: dt.datetime | None = None,
                        category: str | None = None, limit: int = 200) -> list[Event]:
    """Published and cancelled events that have not ended yet, soonest first."""
    now = now or utcnow()
    stmt = select(Event).where(Event.status.in_(PUBLIC_STATUSES), Event.ends_at >= now)
    if category:
        stmt = stmt.where(Event.category == Category(category).value)
    return list(await session.scalars(stmt.order_by(Event.starts_at, Event.id).limit(limit)))


async def list_past(*, session: AsyncSession, now: dt.datetime | None = None,
                    page: int = 1, per_page: int = 20) -> tuple[list[Event], bool]:
    """Events that have ended, most recent first; returns (events, whether there is another page)."""
    now = now or utcnow()
    stmt = (
        select(Event)
        .where(Event.status.in_(PUBLIC_STATUSES), Event.ends_at < now)
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    events = list(await session.scalars(stmt))
    return events[:per_page], len(events) > per_page


async def list_all(*, session: AsyncSession, only: set[int] | None = None) -> list[Event]:
    """Every event, newest first; only those in `only` when given (an event organiser's)."""
    stmt = select(Event).order_by(Event.starts_at.desc(), Event.id.desc())
    if only is not None:
        stmt = stmt.where(Event.id.in_(only or {-1}))
    return list(await session.scalars(stmt))


async def get_by_slug(*, session: AsyncSession, slug: str, include_drafts: bool = False) -> Event | None:
    event = await session.scalar(select(Event).where(Event.slug == slug))
    if event is None or (event.status == EventStatus.DRAFT and not include_drafts):
        return None
    return event


async def get_by_id(*, session: AsyncSession, event_id: int, with_image: bool = False) -> Event | None:
    stmt = select(Event).where(Event.id == event_id)
    if with_image:
        stmt = stmt.options(selectinload(Event.image))
    return await session.scalar(stmt)


async def get_image(*, session: AsyncSession, slug: str, include_drafts: bool = False) -> EventImage | None:
    stmt = select(EventImage).join(Event).where(Event.slug == slug)
    if not include_drafts:
        stmt = stmt.where(Event.status.in_(PUBLIC_STATUSES))
    return await session.scalar(stmt)


def _apply(event: Event, data: EventInput) -> None:
    for name in ("title", "slug", "summary", "description", "category", "venue_name", "venue_address",
                 "starts_at", "ends_at", "capacity", "accessibility_notes"):
        setattr(event, name, getattr(data, name))
    for attr, value in data.features.items():
        setattr(event, attr, value)
    if data.image is not None:
        event.image = EventImage(
            content_type=data.image.content_type, width=data.image.width, height=data.image.height,
            data=data.image.data, alt_text=data.image_alt,
        )
        event.image_version = hashlib.sha256(data.image.data).hexdigest()[:16]
    elif data.remove_image:
        event.image = None
        event.image_version = None
    elif event.image is not None and data.image_alt:
        event.image.alt_text = data.image_alt


async def _check_slug(session: AsyncSession, slug: str, event_id: int | None) -> None:
    stmt = select(Event.id).where(Event.slug == slug)
    if event_id is not None:
        stmt = stmt.where(Event.id != event_id)
    if await session.scalar(stmt):
        raise DuplicateSlug(slug)


async def create_event(*, session: AsyncSession, data: EventInput) -> Event:
    """A new draft event; raises DuplicateSlug."""
    await _check_slug(session, data.slug, None)
    event = Event(status=EventStatus.DRAFT.value)
    event.image = None
    _apply(event, data)
    session.add(event)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent create took the slug between the check and the insert
        raise DuplicateSlug(data.slug) from None
    return event


async def update_event(*, session: AsyncSession, event: Event, data: EventInput) -> Event:
    """Apply an edit; the event must have been loaded with its image."""
    await _check_slug(session, data.slug, event.id)
    _apply(event, data)
    try:
        await session.flush()
    except IntegrityError:
        raise DuplicateSlug(data.slug) from None
    return event


async def publish(*, session: AsyncSession, event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition("A cancelled event cannot be published again; create a new event instead.")
    event.status = EventStatus.PUBLISHED.value


async def cancel(*, session: AsyncSession, event: Event) -> None:
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition("This event is already cancelled.")
    event.status = EventStatus.CANCELLED.value
