"""Judging's badges: judges on a panel and accepted entrants of the event's competitions (the badge_roles
extension point, kernel.hooks). Both decline (None) for an event without a competition, so its badge page
does not offer them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from judging.models import Competition, Entrant, EntrantStatus, JudgeAssignment
from kernel.accounts import User
from kernel.badges import BadgeData, alphabetical
from kernel.hooks import BadgeRole


async def _has_competition(session: AsyncSession, event: Event) -> bool:
    return await session.scalar(select(Competition.id).where(Competition.event_id == event.id).limit(1)) is not None


async def judges(session: AsyncSession, event: Event) -> list[BadgeData] | None:
    if not await _has_competition(session, event):
        return None
    # A judge on two panels of the event gets one badge.
    rows = await session.execute(
        select(User.id, User.name).join(JudgeAssignment, JudgeAssignment.user_id == User.id)
        .join(Competition, Competition.id == JudgeAssignment.competition_id)
        .where(Competition.event_id == event.id, User.is_active.is_(True)).distinct())
    return alphabetical([BadgeData(name=name, organisation="", role="judge", event_title=event.title)
                    for _id, name in rows])


async def entrants(session: AsyncSession, event: Event) -> list[BadgeData] | None:
    if not await _has_competition(session, event):
        return None
    rows = await session.execute(
        select(Entrant.name, Entrant.enterprise).join(Competition, Competition.id == Entrant.competition_id)
        .where(Competition.event_id == event.id, Entrant.status == EntrantStatus.ACCEPTED.value))
    return alphabetical([BadgeData(name=name, organisation=enterprise or "", role="entrant", event_title=event.title)
                    for name, enterprise in rows])


ROLES = (
    BadgeRole("judge", "Judge", judges),
    BadgeRole("entrant", "Entrant", entrants),
)
