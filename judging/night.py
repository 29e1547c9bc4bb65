"""Running the night from the host screen: which entrant is up, starting their pitch (which opens scoring
for them), moving to the next entrant and back (the undo), and the organiser's override that opens scoring
without a pitch.

Each press on the host screen says which entrant was up on the screen it came from; a press from a screen
that is out of date (a double press, a second organiser's laptop) changes nothing."""

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
    def previous(self) -> Entrant | None:
        """The entrant before the one up now (what "Back to previous entrant" brings up), or None."""
        return self.entrants[self.position - 2] if self.position > 1 else None

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


@dataclass(frozen=True)
class Move:
    """What a press of "Next entrant" or "Back to previous entrant" did: moved the stage to `entrant`, or
    nothing (moved False) because the stage had already moved on from the entrant the press came from;
    `entrant` is then who is up now (or None)."""

    entrant: Entrant | None
    moved: bool


async def _move(session: AsyncSession, competition: Competition, actor_id: int | None, from_entrant_id: int | None,
                step: int) -> Move:
    """Move the stage `step` places along the running order from `from_entrant_id`, the entrant who was up
    on the screen the press came from (None: nobody yet). The caller holds the competition row locked, so
    of two presses from one screen (a double press, two organisers) the first moves the stage and the second
    finds it moved and changes nothing."""
    _check_open(competition)
    now = await stage(session=session, competition=competition)
    current_id = now.current.id if now.current else None
    if from_entrant_id != current_id:
        return Move(now.current, moved=False)
    if not now.entrants:
        raise JudgingError("There are no accepted entrants in the running order yet.")
    index = now.position - 1 + step  # the entrant's place in now.entrants
    if step > 0 and index >= len(now.entrants):
        raise JudgingError(f"{now.current.enterprise} is the last entrant in the running order.")
    if step < 0 and now.current is None:
        raise JudgingError("Nobody is up yet, so there is no previous entrant to go back to.")
    if step < 0 and index < 0:
        raise JudgingError(f"{now.current.enterprise} is the first entrant in the running order.")
    entrant = now.entrants[index]
    competition.current_entrant_id = entrant.id
    await audit(session=session, competition_id=competition.id, actor_id=actor_id,
                action="host.next" if step > 0 else "host.back", subject=entrant.enterprise,
                old=now.current.enterprise if now.current else None, new=entrant.enterprise)
    return Move(entrant, moved=True)


async def next_entrant(*, session: AsyncSession, competition: Competition, actor_id: int | None,
                       from_entrant_id: int | None) -> Move:
    """Bring up the entrant after `from_entrant_id` in running order (the first, from None); nothing when the
    stage has already moved on from it (see _move)."""
    return await _move(session, competition, actor_id, from_entrant_id, +1)


async def previous_entrant(*, session: AsyncSession, competition: Competition, actor_id: int | None,
                           from_entrant_id: int | None) -> Move:
    """Undo "Next entrant": bring back the entrant before `from_entrant_id` in running order; nothing when the
    stage has already moved from it. A pitch already started stays started (its time is kept)."""
    return await _move(session, competition, actor_id, from_entrant_id, -1)


async def start_pitch(*, session: AsyncSession, competition: Competition, actor_id: int | None,
                      entrant_id: int | None = None) -> Entrant:
    """Start the current entrant's pitch: the countdown runs, and the judges may score them from now.
    With `entrant_id` (who was up on the screen pressed), refused when someone else is up now."""
    _check_open(competition)
    now = await stage(session=session, competition=competition)
    entrant = now.current
    if entrant is None:
        raise JudgingError("Bring up an entrant first (“Next entrant”).")
    if entrant_id is not None and entrant.id != entrant_id:
        raise JudgingError(f"The host screen has moved on: {entrant.enterprise} is up now. No pitch was started.")
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
