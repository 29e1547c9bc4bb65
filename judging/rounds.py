"""Heats and the final: adding rounds, and advancing heat entrants into the final. No HTTP here.

Every function takes the session as a keyword-only argument and runs inside the caller's transaction;
rules broken raise judging.errors, after which the caller's transaction rolls back and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from judging.audit import audit
from judging.entrants import next_position
from judging.errors import InvalidInput, NotFound, RoundRule, ScoringClosed
from judging.models import Competition, Conflict, Entrant, EntrantStatus, Round, RoundKind
from kernel.db import utcnow
from kernel.text import one_line


async def rounds_for(*, session: AsyncSession, competition_id: int) -> list[Round]:
    stmt = select(Round).where(Round.competition_id == competition_id).order_by(Round.position, Round.id)
    return list(await session.scalars(stmt))


async def add_round(*, session: AsyncSession, competition: Competition, name: str, actor_id: int | None,
                    kind: str = RoundKind.HEAT.value) -> Round:
    """A heat, or the final (one per competition: heat entrants advance into it)."""
    name = one_line(name)
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
    position = await next_position(session, competition.id)
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
