"""Entrants: public applications, entrants the organiser adds, edits and accepts or rejects, and the
running order. No HTTP here. Heats and the final are judging.rounds; conflicts of interest judging.judges.

Every function takes the session as a keyword-only argument and runs inside the caller's transaction;
rules broken raise judging.errors, after which the caller's transaction rolls back and nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from judging.audit import audit
from judging.errors import InvalidInput, JudgingError, NotFound, RoundRule, ScoringClosed
from judging.models import Competition, CompetitionStatus, Entrant, EntrantStatus, Round, ScoreSheet
from kernel.db import utcnow


@dataclass
class EntrantInput:
    name: str
    enterprise: str
    pitch: str
    social_mission: str
    contact_email: str
    round_id: int | None = None


async def entrants_for(*, session: AsyncSession, competition_id: int, accepted_only: bool = False) -> list[Entrant]:
    """Entrants in running order (accepted first, by position), then the rest by when they applied."""
    stmt = select(Entrant).where(Entrant.competition_id == competition_id)
    if accepted_only:
        stmt = stmt.where(Entrant.status == EntrantStatus.ACCEPTED.value)
    stmt = stmt.order_by(Entrant.running_order.is_(None), Entrant.running_order, Entrant.created_at, Entrant.id)
    return list(await session.scalars(stmt))


async def get_entrant(*, session: AsyncSession, entrant_id: int, competition_id: int | None = None) -> Entrant:
    entrant = await session.get(Entrant, entrant_id)
    if entrant is None or (competition_id is not None and entrant.competition_id != competition_id):
        raise NotFound("There is no entrant with that number in this competition.")
    return entrant


async def next_position(session: AsyncSession, competition_id: int) -> int:
    """The running-order position after the last one (1 for the first entrant)."""
    top = await session.scalar(select(func.max(Entrant.running_order))
                               .where(Entrant.competition_id == competition_id))
    return (top or 0) + 1


async def _check_round(session: AsyncSession, competition_id: int, round_id: int | None) -> None:
    if round_id is None:
        return
    heat = await session.get(Round, round_id)
    if heat is None or heat.competition_id != competition_id:
        raise InvalidInput("Choose one of this competition’s rounds.", field="round_id")


async def apply(*, session: AsyncSession, competition: Competition, data: EntrantInput) -> Entrant:
    """A public application: the entrant waits (applied) until the organiser accepts or rejects it."""
    if not competition.applications_open or competition.status != CompetitionStatus.SETUP:
        raise ScoringClosed("Applications for this competition are closed.")
    entrant = Entrant(competition_id=competition.id, name=data.name, enterprise=data.enterprise,
                      pitch=data.pitch, social_mission=data.social_mission, contact_email=data.contact_email,
                      status=EntrantStatus.APPLIED.value, created_at=utcnow())
    session.add(entrant)
    await session.flush()
    await audit(session=session, competition_id=competition.id, actor_id=None, action="entrant.apply",
                subject=data.enterprise)
    return entrant


async def add_entrant(*, session: AsyncSession, competition: Competition, data: EntrantInput,
                      actor_id: int | None) -> Entrant:
    """An entrant added by the organiser: accepted, at the end of the running order."""
    if competition.is_closed:
        raise ScoringClosed("Results have been released: no entrants can be added.")
    await _check_round(session, competition.id, data.round_id)
    entrant = Entrant(competition_id=competition.id, round_id=data.round_id, name=data.name,
                      enterprise=data.enterprise, pitch=data.pitch, social_mission=data.social_mission,
                      contact_email=data.contact_email, status=EntrantStatus.ACCEPTED.value,
                      running_order=await next_position(session, competition.id), created_at=utcnow())
    session.add(entrant)
    await session.flush()
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="entrant.add",
                subject=data.enterprise)
    return entrant


def _entrant_dict(e: Entrant) -> dict:
    return {"name": e.name, "enterprise": e.enterprise, "pitch": e.pitch, "social_mission": e.social_mission,
            "contact_email": e.contact_email, "round_id": e.round_id}


async def update_entrant(*, session: AsyncSession, entrant: Entrant, data: EntrantInput,
                         actor_id: int | None) -> None:
    # the entrant's own competition, by primary key: judging.competitions imports this module, not the reverse
    competition = await session.get(Competition, entrant.competition_id)
    if competition.is_closed:
        raise ScoringClosed("Results have been released: entrants can no longer change.")
    await _check_round(session, entrant.competition_id, data.round_id)
    if data.round_id != entrant.round_id:
        await _check_can_move(session, entrant)
    old = _entrant_dict(entrant)
    entrant.name, entrant.enterprise, entrant.pitch = data.name, data.enterprise, data.pitch
    entrant.social_mission, entrant.contact_email, entrant.round_id = (data.social_mission, data.contact_email,
                                                                       data.round_id)
    new = _entrant_dict(entrant)
    if old != new:
        await audit(session=session, competition_id=entrant.competition_id, actor_id=actor_id,
                    action="entrant.edit", subject=entrant.enterprise, old=old, new=new)


async def _check_can_move(session: AsyncSession, entrant: Entrant) -> None:
    """An entrant changes round only before any judge has scored it there, and a finalist stays in the final:
    its sheets belong to the round it pitched in."""
    if entrant.advanced_from_id is not None:
        raise RoundRule(f"{entrant.enterprise} was advanced to the final from a heat, so it stays in the final. "
                        "Withdraw it instead if it should not pitch there.", field="round_id")
    scored = await session.scalar(select(func.count(ScoreSheet.id)).where(ScoreSheet.entrant_id == entrant.id))
    if scored:
        raise RoundRule(f"{entrant.enterprise} already has score sheets in its round, so it cannot move to another "
                        "round: those scores would count in the wrong round. To take it into the final, use "
                        "“Advance to the final” on the entrants page.", field="round_id")


async def set_entrant_status(*, session: AsyncSession, entrant: Entrant, status: str, actor_id: int | None) -> None:
    """Accept (joins the end of the running order) or reject (leaves it; refused once it has scores)."""
    try:
        status = EntrantStatus(status).value
    except ValueError:
        raise InvalidInput("An entrant is applied, accepted or rejected.") from None
    competition = await session.get(Competition, entrant.competition_id)
    if competition.is_closed:
        raise ScoringClosed("Results have been released: entrants can no longer change.")
    if status == entrant.status:
        return
    if entrant.status == EntrantStatus.ACCEPTED:
        scored = await session.scalar(select(func.count(ScoreSheet.id)).where(ScoreSheet.entrant_id == entrant.id))
        if scored:
            raise JudgingError(f"{entrant.enterprise} already has scores from judges, so it stays in the "
                               "competition.")
    old = entrant.status
    entrant.status = status
    if status == EntrantStatus.ACCEPTED:
        entrant.running_order = await next_position(session, entrant.competition_id)
    else:
        entrant.running_order = None
    await audit(session=session, competition_id=entrant.competition_id, actor_id=actor_id, action="entrant.status",
                subject=entrant.enterprise, old=old, new=status)


async def set_running_order(*, session: AsyncSession, competition: Competition, positions: dict[int, int],
                            actor_id: int | None) -> None:
    """Renumber the accepted entrants 1..n by the positions given (ties keep their old order)."""
    if competition.is_closed:
        raise ScoringClosed("Results have been released: the running order can no longer change.")
    entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    known = {e.id for e in entrants}
    if any(entrant_id not in known for entrant_id in positions):
        raise InvalidInput("The running order can only include accepted entrants of this competition.")
    old = [e.id for e in entrants]
    ordered = sorted(entrants, key=lambda e: (positions.get(e.id, e.running_order or 0), old.index(e.id)))
    for n, entrant in enumerate(ordered, start=1):
        entrant.running_order = n
    new = [e.id for e in ordered]
    if old != new:
        await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="running_order",
                    subject=competition.name, old=old, new=new)
