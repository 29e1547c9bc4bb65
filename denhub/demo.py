"""The demo: the organiser account, then each listed domain's demo rows in order (`denhub demo`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from denhub.domains import DOMAINS
from events.demo import programme  # noqa: F401 - the demo's dates, for tests and benchmarks
from events.models import Event
from kernel.accounts import Role, User, create_user
from kernel.hooks import Domain

DEMO_ORGANISER_EMAIL = "organiser@denhub.example"
DEMO_ORGANISER_PASSWORD = "soho-house-demo"  # development only; see cli.demo


async def load(*, session: AsyncSession, now: dt.datetime, organiser_password: str,
               domains: Sequence[Domain] | None = None) -> dict[str, list]:
    """Create the demo organiser and every domain's demo rows; what each domain added, by domain name."""
    domains = DOMAINS if domains is None else domains
    if not await session.scalar(select(User.id).where(User.email == DEMO_ORGANISER_EMAIL)):
        await create_user(session=session, email=DEMO_ORGANISER_EMAIL, name="Demo Organiser",
                          role=Role.ORGANISER, password=organiser_password)
    created = {}
    for domain in domains:
        if domain.demo is not None:
            created[domain.name] = list(await domain.demo(session=session, now=now) or ())
    await session.flush()
    return created


async def is_empty(*, session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count(Event.id)))
