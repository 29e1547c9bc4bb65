"""Running the night from the host screen: which entrant is up, starting their pitch (which opens scoring
for them), moving to the next entrant, and the organiser's override that opens scoring without a pitch."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from judging.audit import audit
from judging.entrants import entrants_for
from judging.errors import JudgingError, NotFound, ScoringClosed
from judging.models import Competition, Entrant, EntrantStatus
from judging.rubric import criteria_for, lock_rubric
from kernel.db import utcnow
from kernel.web import london_time


@dataclass
class Stage:
    """What the host screen shows: the entrant up now (or none yet), where they are in the running order."""

    entrants: list[Entrant]  # accepted, in running order
    current: Entrant | None
    position: int  # 1-based; 0 when nobody is up yet

    @property
    def following(self) -> Entrant | None:
        if not self.entrants:
            return None
        return self.entrants[self.position] if self.position < len(self.entrants) else None


async def stage(*, session: AsyncSession, competition: Competition) -> Stage:
    entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    ids = [e.id for e in entrants]
    if competition.current_entrant_id in ids:
        index = ids.index(competition.current_entrant_id)
        return Stage(entrants, entrants[index], index + 1)
    return Stage(entrants, None, 0)


def _check_open(competition: Competition) -> None:
    if competition.is_closed:
        raise ScoringClosed("The results have been released: the night is over for this competition.")


async def next_entrant(*, session: AsyncSession, competition: Competition, actor_id: int | None) -> Entrant:
    """Bring up the next entrant in running order (the first, when nobody is up yet)."""
    _check_open(competition)
    now = await stage(session=session, competition=competition)
    if not now.entrants:
        raise JudgingError("There are no accepted entrants in the running order yet.")
    following = now.following
    if following is None:
        raise JudgingError(f"{now.current.enterprise} is the last entrant in the running order.")
    competition.current_entrant_id = following.id
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="host.next",
                subject=following.enterprise)
    return following


async def start_pitch(*, session: AsyncSession, competition: Competition, actor_id: int | None) -> Entrant:
    """Start the current entrant's pitch: the countdown runs, and the judges may score them from now."""
    _check_open(competition)
    now = await stage(session=session, competition=competition)
    entrant = now.current
    if entrant is None:
        raise JudgingError("Bring up an entrant first (“Next entrant”).")
    if entrant.pitch_started_at is not None:
        raise JudgingError(f"{entrant.enterprise}’s pitch already started at {london_time(entrant.pitch_started_at)}.")
    if not await criteria_for(session=session, competition_id=competition.id):
        raise JudgingError("Add at least one criterion to the rubric first.")
    at = utcnow()
    entrant.pitch_started_at = at
    if entrant.scoring_opened_at is None:
        entrant.scoring_opened_at = at
    await lock_rubric(session=session, competition=competition, actor_id=actor_id,
                      why=f"{entrant.enterprise}’s pitch started")
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="pitch.start",
                subject=entrant.enterprise)
    return entrant


async def open_scoring(*, session: AsyncSession, competition: Competition, entrant_id: int,
                       actor_id: int | None) -> Entrant:
    """The organiser's override: let the judges score this entrant without starting a pitch on the host
    screen (a pitch given before the screen was in use, a video entry)."""
    _check_open(competition)
    entrant = await session.get(Entrant, entrant_id)
    if entrant is None or entrant.competition_id != competition.id or entrant.status != EntrantStatus.ACCEPTED:
        raise NotFound("There is no entrant with that number in this competition.")
    if entrant.scoring_opened_at is not None:
        raise JudgingError(f"Scoring for {entrant.enterprise} is already open.")
    if not await criteria_for(session=session, competition_id=competition.id):
        raise JudgingError("Add at least one criterion to the rubric first.")
    entrant.scoring_opened_at = utcnow()
    await lock_rubric(session=session, competition=competition, actor_id=actor_id,
                      why=f"the organiser opened scoring for {entrant.enterprise}")
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="scoring.open",
                subject=entrant.enterprise, new="opened without a pitch on the host screen")
    return entrant
