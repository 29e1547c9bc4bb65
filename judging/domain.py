"""What the judging domain brings to the app (kernel.hooks.Domain): competitions, judges' scoring, results,
the audience vote."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Mount

from judging import badges, demo, host, manage, manage_panel, models, routes, vote_pages
from kernel.accounts import Role
from kernel.hooks import Domain, MenuEntry


async def load_demo(*, session: AsyncSession, now: dt.datetime) -> list:
    """The pitch night's competition, entrants and judges (when the demo event is there and has none)."""
    del now
    competition = await demo.load(session=session)
    return [competition] if competition is not None else []


DOMAIN = Domain(
    name="judging",
    models=(models,),
    routes=(Mount("/judging", routes=[*routes.routes, *vote_pages.routes]),),
    organiser_routes=(*manage.routes, *manage_panel.routes, *host.routes),
    demo=load_demo,
    ticket_page_panels=(vote_pages.ticket_ballots,),
    badge_roles=badges.ROLES,
    menu=(
        MenuEntry("Competitions", "/organiser/competitions", frozenset({Role.ADMIN.value, Role.ORGANISER.value})),
        MenuEntry("Judging", "/judging/", frozenset({Role.JUDGE.value})),
    ),
)
