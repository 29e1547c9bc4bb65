"""The rubric: a competition's criteria, their scales and weights, and its lock once scoring starts. No HTTP
here.

Every function takes the session as a keyword-only argument and runs inside the caller's transaction;
rules broken raise judging.errors, after which the caller's transaction rolls back and nothing is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from judging import tie_breaks
from judging.audit import audit
from judging.errors import InvalidInput, RubricLocked
from judging.models import Competition, CompetitionStatus, Criterion
from kernel.db import utcnow

MAX_SCALE_VALUES = 21  # one big button per value: more would not fit a phone


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
    errors += tie_breaks.validate_chain(competition.tie_break, keys)
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
