"""The toy domain's contract: a page, a model, a badge role, a demo row and a menu entry."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from events.models import Event
from kernel.accounts import Role
from kernel.auth import PUBLIC, guard
from kernel.badges import BadgeData, alphabetical
from kernel.hooks import BadgeRole, Domain, MenuEntry
from tests.toy_domain import models
from tests.toy_domain.models import Steward


@guard(PUBLIC)
async def stewards(request: Request) -> Response:
    async with request.app.state.db.read() as session:
        names = await session.scalars(select(Steward.name).where(Steward.event_id == request.path_params["event_id"])
                                      .order_by(Steward.name))
        return PlainTextResponse(", ".join(names) or "no stewards yet")


async def steward_badges(session: AsyncSession, event: Event) -> list[BadgeData] | None:
    names = list(await session.scalars(select(Steward.name).where(Steward.event_id == event.id)))
    if not names:
        return None  # declines: an event without stewards is not offered steward badges
    return alphabetical([BadgeData(name=name, organisation="", role="steward", event_title=event.title)
                         for name in names])


async def load_demo(*, session: AsyncSession, now: dt.datetime) -> list[Steward]:
    del now
    festival = await session.scalar(select(Event).where(Event.slug.like("bangla-month-%")))
    steward = Steward(event_id=festival.id, name="Shahida Steward")
    session.add(steward)
    return [steward]


DOMAIN = Domain(
    name="toy",
    models=(models,),
    routes=(Mount("/stewards", routes=[Route("/{event_id:int}", stewards, methods=["GET"], name="stewards")]),),
    demo=load_demo,
    badge_roles=(BadgeRole("steward", "Steward", steward_badges),),
    menu=(MenuEntry("Stewards", "/stewards/1", frozenset({Role.ADMIN.value})),),
)
