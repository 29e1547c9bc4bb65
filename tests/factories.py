"""Test data builders: `make_event(session, **overrides)` and friends. Each returns the saved object."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from denhub.accounts import Role, User, create_user
from denhub.db import utcnow
from events.models import Event, EventStatus

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


async def make_user(session: AsyncSession, *, role: Role | str = Role.ORGANISER, **overrides) -> User:
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
    fields = dict(
        slug=f"event-{n}", title=f"Event {n}", summary="A test event", description="Some *text*",
        category="workshop", venue_name="Soho House – Visitor Centre", venue_address="Soho Avenue, B18 5LB",
        starts_at=starts, ends_at=starts + dt.timedelta(hours=2), status=EventStatus.PUBLISHED.value,
    )
    fields.update(overrides)
    event = Event(**fields)
    session.add(event)
    await session.flush()
    return event
