"""Competitions, entrants, running order, rubric and the audit trail. No HTTP here.

Every function takes the session as a keyword-only argument and runs inside the caller's transaction;
rules broken raise judging.errors, after which the caller's transaction rolls back and nothing is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.db import utcnow
from events.models import Category, Event
from judging import scoring
from judging.errors import InvalidInput, JudgingError, NotFound, RoundRule, RubricLocked, ScoringClosed
from judging.models import (
    DEFAULT_RUBRIC,
    DEFAULT_SCALE,
    DEFAULT_TIE_BREAK,
    AuditEntry,
    Competition,
    CompetitionStatus,
    Conflict,
    Criterion,
    Entrant,
    EntrantStatus,
    ResultsVisibility,
    Round,
    RoundKind,
    ScoreSheet,
)

MAX_SCALE_VALUES = 21  # one big button per value: more would not fit a phone


# --- the audit trail -------------------------------------------------------------------------------

async def audit(*, session: AsyncSession, competition_id: int, actor_id: int | None, action: str,
                subject: str = "", old: Any = None, new: Any = None) -> None:
    """Record one change (in the caller's transaction: it is kept exactly when the change is)."""
    session.add(AuditEntry(competition_id=competition_id, actor_id=actor_id, action=action,
                           subject=subject[:200], old=old, new=new, at=utcnow()))


async def audit_trail(*, session: AsyncSession, competition_id: int, limit: int = 1000) -> list[AuditEntry]:
    stmt = (select(AuditEntry).where(AuditEntry.competition_id == competition_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return list(await session.scalars(stmt))


# --- competitions ----------------------------------------------------------------------------------

async def get_competition(*, session: AsyncSession, competition_id: int, for_update: bool = False) -> Competition:
    stmt = select(Competition).where(Competition.id == competition_id)
    if for_update:
        stmt = stmt.with_for_update()
    competition = await session.scalar(stmt)
    if competition is None:
        raise NotFound("There is no competition with that number.")
    return competition


async def list_competitions(*, session: AsyncSession) -> list[tuple[Competition, Event]]:
    stmt = (select(Competition, Event).join(Event, Event.id == Competition.event_id)
            .order_by(Event.starts_at.desc(), Competition.id))
    return [(c, e) for c, e in (await session.execute(stmt)).all()]


async def pitch_night_events(*, session: AsyncSession) -> list[Event]:
    stmt = select(Event).where(Event.category == Category.PITCH_NIGHT.value).order_by(Event.starts_at.desc())
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
    problems = scoring.validate_chain(data.tie_break, keys)
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


async def lock_rubric(*, session: AsyncSession, competition: Competition, actor_id: int | None, why: str) -> None:
    """Scoring has started: fix the rubric, tie-break chain and audience weight (idempotent)."""
    if competition.rubric_locked:
        return
    competition.rubric_locked_at = utcnow()
    if competition.status == CompetitionStatus.SETUP:
        competition.status = CompetitionStatus.SCORING.value
    competition.applications_open = False
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="rubric.lock",
                subject=why)


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


# --- entrants --------------------------------------------------------------------------------------

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


async def _next_position(session: AsyncSession, competition_id: int) -> int:
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
                      running_order=await _next_position(session, competition.id), created_at=utcnow())
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
    competition = await get_competition(session=session, competition_id=entrant.competition_id)
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
    competition = await get_competition(session=session, competition_id=entrant.competition_id)
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
        entrant.running_order = await _next_position(session, entrant.competition_id)
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


async def rounds_for(*, session: AsyncSession, competition_id: int) -> list[Round]:
    stmt = select(Round).where(Round.competition_id == competition_id).order_by(Round.position, Round.id)
    return list(await session.scalars(stmt))


async def add_round(*, session: AsyncSession, competition: Competition, name: str, actor_id: int | None,
                    kind: str = RoundKind.HEAT.value) -> Round:
    """A heat, or the final (one per competition: heat entrants advance into it)."""
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidInput("Name the round (up to 80 characters), e.g. “Heat 1” or “Final”.", field="round_name")
    try:
        kind = RoundKind(kind).value
    except ValueError:
        raise InvalidInput("A round is a heat or the final.", field="round_kind") from None
    if competition.is_closed:
        raise ScoringClosed("Results have been released: rounds can no longer change.")
    rounds = await rounds_for(session=session, competition_id=competition.id)
    if kind == RoundKind.FINAL and any(r.is_final for r in rounds):
        raise RoundRule("This competition already has a final.", field="round_kind")
    heat = Round(competition_id=competition.id, name=name, position=len(rounds) + 1, kind=kind)
    session.add(heat)
    await session.flush()
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="round.add", subject=name,
                new={"kind": kind})
    return heat


async def advance_entrants(*, session: AsyncSession, competition: Competition, final_id: int,
                           entrant_ids: Sequence[int], actor_id: int | None) -> list[Entrant]:
    """Put heat entrants through to the final: each gets a new accepted entrant in the final (the same
    enterprise and contact details, advanced_from_id pointing back), at the end of the running order, with
    scoring closed until its pitch there starts. Heat sheets stay with the heat entrant: nothing is scored
    twice on one sheet, and each round is ranked on its own. A judge's declared conflict with the heat entrant
    carries over to the finalist (the same people). Lock the competition row first (for_update)."""
    if competition.is_closed:
        raise ScoringClosed("Results have been released: no one can advance to the final now.")
    final = await session.get(Round, final_id)
    if final is None or final.competition_id != competition.id:
        raise NotFound("There is no round with that number in this competition.")
    if not final.is_final:
        raise InvalidInput(f"Entrants advance into the final; “{final.name}” is a heat.")
    ids = list(dict.fromkeys(entrant_ids))
    if not ids:
        raise InvalidInput("Choose at least one heat entrant to advance.")
    found = {e.id: e for e in await session.scalars(select(Entrant).where(Entrant.id.in_(ids)))}
    if any(i not in found or found[i].competition_id != competition.id for i in ids):
        raise NotFound("There is no entrant with that number in this competition.")
    heats = {r.id: r for r in await rounds_for(session=session, competition_id=competition.id) if not r.is_final}
    sources = [found[i] for i in ids]
    for e in sources:
        if e.status != EntrantStatus.ACCEPTED:
            raise InvalidInput(f"{e.enterprise} is not in the running order, so it cannot advance.")
        if e.round_id not in heats:
            raise InvalidInput(f"Only entrants of a heat advance to the final, and {e.enterprise} is not in a heat.")
    already = set(await session.scalars(select(Entrant.advanced_from_id).where(Entrant.advanced_from_id.in_(ids))))
    if already:
        names = ", ".join(e.enterprise for e in sources if e.id in already)
        raise RoundRule(f"Already advanced to the final: {names}. An entrant advances once.")
    conflicts = list(await session.scalars(select(Conflict).where(Conflict.entrant_id.in_(ids))))
    position = await _next_position(session, competition.id)
    now = utcnow()
    finalists = []
    for n, e in enumerate(sources):
        finalist = Entrant(competition_id=competition.id, round_id=final.id, name=e.name, enterprise=e.enterprise,
                           pitch=e.pitch, social_mission=e.social_mission, contact_email=e.contact_email,
                           status=EntrantStatus.ACCEPTED.value, running_order=position + n, created_at=now,
                           advanced_from_id=e.id)
        session.add(finalist)
        finalists.append(finalist)
    await session.flush()
    for finalist, e in zip(finalists, sources, strict=True):
        for c in conflicts:
            if c.entrant_id == e.id:
                session.add(Conflict(competition_id=competition.id, judge_id=c.judge_id, entrant_id=finalist.id,
                                     reason=c.reason, declared_at=now))
        await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="entrant.advance",
                    subject=f"{e.enterprise}: {heats[e.round_id].name} to {final.name}",
                    old={"entrant_id": e.id, "round_id": e.round_id}, new={"entrant_id": finalist.id,
                                                                           "round_id": final.id})
    await session.flush()
    return finalists


# --- the rubric ------------------------------------------------------------------------------------

@dataclass
class CriterionInput:
    id: int | None  # None: a new criterion
    key: str
    name: str
    description: str
    scale_min: int
    scale_max: int
    weight: int
    position: int
    remove: bool = False


async def criteria_for(*, session: AsyncSession, competition_id: int) -> list[Criterion]:
    stmt = select(Criterion).where(Criterion.competition_id == competition_id).order_by(Criterion.position,
                                                                                         Criterion.id)
    return list(await session.scalars(stmt))


def slug_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "criterion"


def locked_message(competition: Competition) -> str:
    from kernel.web import london

    return (f"The rubric is locked: scoring started on {london(competition.rubric_locked_at)}. Criteria, scales "
            "and weights cannot change once judges may have scored with them.")


async def save_rubric(*, session: AsyncSession, competition: Competition, rows: Sequence[CriterionInput],
                      actor_id: int | None) -> list[Criterion]:
    """Replace the rubric with `rows` (existing ones by id, new ones without, removals flagged)."""
    if competition.rubric_locked:
        raise RubricLocked(locked_message(competition))
    existing = {c.id: c for c in await criteria_for(session=session, competition_id=competition.id)}
    kept = [r for r in rows if not r.remove]
    errors = []
    for r in rows:
        if r.id is not None and r.id not in existing:
            raise InvalidInput("That criterion is not part of this competition’s rubric.")
    for r in kept:
        if not r.name.strip() or len(r.name) > 80:
            errors.append("Every criterion needs a name (up to 80 characters).")
        if not r.scale_min < r.scale_max:
            errors.append(f"“{r.name}”: the top of the scale must be above the bottom.")
        elif r.scale_max - r.scale_min + 1 > MAX_SCALE_VALUES or r.scale_min < 0:
            errors.append(f"“{r.name}”: use a scale from 0 upwards with at most {MAX_SCALE_VALUES} points.")
        if not 1 <= r.weight <= 100:
            errors.append(f"“{r.name}”: the weight is a whole number from 1 to 100.")
    if not kept:
        errors.append("The rubric needs at least one criterion.")
    keys = [r.key or slug_key(r.name) for r in kept]
    if len(set(keys)) != len(keys):
        errors.append("Two criteria have the same name; give each its own.")
    errors += scoring.validate_chain(competition.tie_break, keys)
    if errors:
        raise InvalidInput(" ".join(dict.fromkeys(errors)))
    old = [_criterion_dict(c) for c in existing.values()]
    for r in rows:
        if r.remove and r.id is not None:
            await session.execute(delete(Criterion).where(Criterion.id == r.id))
    for r, key in zip(kept, keys, strict=True):
        c = existing.get(r.id) if r.id is not None else None
        if c is None:
            c = Criterion(competition_id=competition.id)
            session.add(c)
        c.key, c.name, c.description = key, r.name.strip(), r.description.strip()
        c.scale_min, c.scale_max, c.weight, c.position = r.scale_min, r.scale_max, r.weight, r.position
    await session.flush()
    saved = await criteria_for(session=session, competition_id=competition.id)
    new = [_criterion_dict(c) for c in saved]
    if old != new:
        await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="rubric.edit",
                    subject=competition.name, old=old, new=new)
    return saved


def _criterion_dict(c: Criterion) -> dict:
    return {"key": c.key, "name": c.name, "scale": [c.scale_min, c.scale_max], "weight": c.weight,
            "position": c.position}
