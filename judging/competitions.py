"""Competitions: creating one for a pitch-night event, its settings, starting scoring, the chair's casting
decision and releasing the results (which closes it). No HTTP here.

Every function takes the session as a keyword-only argument and runs inside the caller's transaction;
rules broken raise judging.errors, after which the caller's transaction rolls back and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Category, Event
from judging import tie_breaks
from judging.audit import audit
from judging.entrants import entrants_for
from judging.errors import InvalidInput, JudgingError, NotFound, RubricLocked, ScoringClosed
from judging.models import (
    DEFAULT_RUBRIC,
    DEFAULT_SCALE,
    DEFAULT_TIE_BREAK,
    Competition,
    CompetitionStatus,
    Criterion,
    ResultsVisibility,
)
from judging.rubric import criteria_for, lock_rubric
from kernel.db import utcnow


async def get_competition(*, session: AsyncSession, competition_id: int, for_update: bool = False) -> Competition:
    stmt = select(Competition).where(Competition.id == competition_id)
    if for_update:
        stmt = stmt.with_for_update()
    competition = await session.scalar(stmt)
    if competition is None:
        raise NotFound("There is no competition with that number.")
    return competition


async def list_competitions(*, session: AsyncSession,
                            only: set[int] | None = None) -> list[tuple[Competition, Event]]:
    """Every competition with its event; only those of the events in `only` when given."""
    stmt = (select(Competition, Event).join(Event, Event.id == Competition.event_id)
            .order_by(Event.starts_at.desc(), Competition.id))
    if only is not None:
        stmt = stmt.where(Event.id.in_(only or {-1}))
    return [(c, e) for c, e in (await session.execute(stmt)).all()]


async def pitch_night_events(*, session: AsyncSession, only: set[int] | None = None) -> list[Event]:
    stmt = select(Event).where(Event.category == Category.PITCH_NIGHT.value).order_by(Event.starts_at.desc())
    if only is not None:
        stmt = stmt.where(Event.id.in_(only or {-1}))
    return list(await session.scalars(stmt))


async def create_competition(*, session: AsyncSession, event_id: int, name: str, actor_id: int | None,
                             pitch_seconds: int = 300) -> Competition:
    """A competition for a pitch-night event, with the default social-enterprise rubric."""
    event = await session.get(Event, event_id)
    if event is None:
        raise InvalidInput("Choose an event.", field="event_id")
    if event.category != Category.PITCH_NIGHT:
        raise InvalidInput("Competitions belong to pitch-night events: change the event’s category first.",
                           field="event_id")
    name = name.strip() or event.title
    if len(name) > 160:
        raise InvalidInput("Keep the name to 160 characters.", field="name")
    if not 30 <= pitch_seconds <= 3600:
        raise InvalidInput("A pitch lasts between 30 seconds and an hour.", field="pitch_seconds")
    competition = Competition(event_id=event.id, name=name, pitch_seconds=pitch_seconds,
                              status=CompetitionStatus.SETUP.value, tie_break=list(DEFAULT_TIE_BREAK),
                              chair_order=[], audience_weight_percent=0, applications_open=True,
                              results_visibility=ResultsVisibility.PUBLIC.value, created_at=utcnow())
    session.add(competition)
    await session.flush()
    for position, (key, label, description, weight) in enumerate(DEFAULT_RUBRIC, start=1):
        session.add(Criterion(competition_id=competition.id, key=key, name=label, description=description,
                              scale_min=DEFAULT_SCALE[0], scale_max=DEFAULT_SCALE[1], weight=weight,
                              position=position))
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="competition.create",
                subject=name, new={"event_id": event.id})
    await session.flush()
    return competition


@dataclass
class Settings:
    name: str
    pitch_seconds: int
    audience_weight_percent: int
    tie_break: list[str]
    applications_open: bool


async def update_settings(*, session: AsyncSession, competition: Competition, data: Settings,
                          actor_id: int | None) -> None:
    """Name, pitch length, applications; the tie-break chain and audience weight only until scoring starts
    or the audience vote opens."""
    if competition.is_closed:
        raise ScoringClosed("Results have been released: this competition can no longer change.")
    fixed_changed = (list(data.tie_break) != list(competition.tie_break)
                     or data.audience_weight_percent != competition.audience_weight_percent)
    if competition.weights_fixed and fixed_changed:
        when = "scoring started" if competition.rubric_locked else "the audience vote opened"
        raise RubricLocked(f"The tie-break rules and the audience weight were fixed when {when}; "
                           "they cannot change now.")
    keys = [c.key for c in await criteria_for(session=session, competition_id=competition.id)]
    problems = tie_breaks.validate_chain(data.tie_break, keys)
    if problems:
        raise InvalidInput(" ".join(problems), field="tie_break")
    if not 0 <= data.audience_weight_percent <= 100:
        raise InvalidInput("The audience weight is a percentage from 0 to 100.", field="audience_weight_percent")
    old = _settings_dict(competition)
    competition.name = data.name
    competition.pitch_seconds = data.pitch_seconds
    competition.audience_weight_percent = data.audience_weight_percent
    competition.tie_break = list(data.tie_break)
    competition.applications_open = data.applications_open
    new = _settings_dict(competition)
    if old != new:
        await audit(session=session, competition_id=competition.id, actor_id=actor_id,
                    action="competition.settings", subject=competition.name, old=old, new=new)


def _settings_dict(c: Competition) -> dict:
    return {"name": c.name, "pitch_seconds": c.pitch_seconds, "audience_weight_percent": c.audience_weight_percent,
            "tie_break": list(c.tie_break), "applications_open": c.applications_open}


async def start_scoring(*, session: AsyncSession, competition: Competition, actor_id: int | None) -> None:
    if competition.status != CompetitionStatus.SETUP:
        raise JudgingError("Scoring has already started.")
    if not await criteria_for(session=session, competition_id=competition.id):
        raise InvalidInput("Add at least one criterion to the rubric first.")
    await lock_rubric(session=session, competition=competition, actor_id=actor_id,
                      why="the organiser started scoring")


async def release_results(*, session: AsyncSession, competition: Competition, visibility: str,
                          actor_id: int | None) -> None:
    """Close scoring and show the results to the public or to the judges only."""
    if competition.released:
        raise ScoringClosed("The results have already been released.")
    if competition.status != CompetitionStatus.SCORING:
        raise JudgingError("Start scoring (and let the judges submit) before releasing results.")
    try:
        visibility = ResultsVisibility(visibility).value
    except ValueError:
        raise InvalidInput("Choose who may see the results.", field="visibility") from None
    if competition.voting_open:  # the count is final once the results are out
        competition.voting_closed_at = utcnow()
        await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="voting.close",
                    subject="closed on releasing the results")
    competition.results_released_at = utcnow()
    competition.results_visibility = visibility
    competition.status = CompetitionStatus.CLOSED.value
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="results.release",
                subject=competition.name, new={"visibility": visibility})


async def set_chair_order(*, session: AsyncSession, competition: Competition, entrant_ids: Sequence[int],
                          actor_id: int | None) -> None:
    """The chair's casting decision: entrants best first (only the ones a tie needs)."""
    if competition.released:
        raise ScoringClosed("The results have been released: the casting decision cannot change.")
    valid = {e.id for e in await entrants_for(session=session, competition_id=competition.id, accepted_only=True)}
    if any(e not in valid for e in entrant_ids) or len(set(entrant_ids)) != len(entrant_ids):
        raise InvalidInput("The casting order can only list this competition’s entrants, each once.")
    old = list(competition.chair_order or [])
    competition.chair_order = list(entrant_ids)
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="chair.order",
                subject="chair’s casting decision", old=old, new=list(entrant_ids))
