"""The demo: its accounts (a hub administrator, an event organiser given some of the events, a treasurer), then
each listed domain's demo rows in order (`denhub demo`). They share one password."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from denhub.domains import DOMAINS
from events.access import add_organiser
from events.demo import programme  # noqa: F401 - the demo's dates, for tests and benchmarks
from events.models import Event
from kernel.accounts import Role, User, create_user
from kernel.hooks import Domain

DEMO_ORGANISER_EMAIL = "organiser@denhub.example"  # the hub administrator (every event, accounts)
DEMO_ORGANISER_PASSWORD = "soho-house-demo"  # development only; see cli.demo
DEMO_EVENT_ORGANISER_EMAIL = "events@denhub.example"  # an event organiser: the first two demo events only
DEMO_TREASURER_EMAIL = "treasurer@denhub.example"
DEMO_ACCOUNTS = (
    (DEMO_ORGANISER_EMAIL, "Demo Administrator", Role.ADMIN),
    (DEMO_EVENT_ORGANISER_EMAIL, "Demo Event Organiser", Role.ORGANISER),
    (DEMO_TREASURER_EMAIL, "Demo Treasurer", Role.TREASURER),
)


async def load(*, session: AsyncSession, now: dt.datetime, organiser_password: str,
               domains: Sequence[Domain] | None = None) -> dict[str, list]:
    """Create the demo organiser and every domain's demo rows; what each domain added, by domain name."""
    domains = DOMAINS if domains is None else domains
    accounts = {}
    for email, name, role in DEMO_ACCOUNTS:
        accounts[role] = await session.scalar(select(User).where(User.email == email)) or await create_user(
            session=session, email=email, name=name, role=role, password=organiser_password)
    created = {}
    for domain in domains:
        if domain.demo is not None:
            created[domain.name] = list(await domain.demo(session=session, now=now) or ())
    for event in created.get("events", ())[:2]:
        await add_organiser(session=session, event_id=event.id, user_id=accounts[Role.ORGANISER].id)
    await session.flush()
    return created


async def is_empty(*, session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count(Event.id)))
