"""Builders for judging tests: a competition (with the default rubric), entrants, judges, sheets."""

from __future__ import annotations

import itertools

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from judging import sheets
from judging.competitions import create_competition
from judging.entrants import EntrantInput, add_entrant
from judging.models import AuditEntry, Competition, Criterion, Entrant, JudgeAssignment
from judging.rubric import criteria_for
from kernel.accounts import Role, User
from kernel.db import utcnow
from tests.factories import make_event, make_user

_seq = itertools.count(1)


async def make_competition(session: AsyncSession, *, event=None, **overrides) -> Competition:
    event = event or await make_event(session, category="pitch_night")
    competition = await create_competition(session=session, event_id=event.id,
                                           name=overrides.pop("name", f"Pitch night {next(_seq)}"),
                                           actor_id=None)
    for key, value in overrides.items():
        setattr(competition, key, value)
    await session.flush()
    return competition


async def make_entrant(session: AsyncSession, competition: Competition, *, open_scoring: bool = True,
                       **overrides) -> Entrant:
    """An accepted entrant at the end of the running order. Scoring for it is open, as if its pitch had started
    (the organiser's override), unless open_scoring=False: then judges must wait for its pitch."""
    n = next(_seq)
    data = EntrantInput(
        name=overrides.pop("name", f"Founder {n}"), enterprise=overrides.pop("enterprise", f"Enterprise {n}"),
        pitch=overrides.pop("pitch", "Repair cafés for Handsworth"),
        social_mission=overrides.pop("social_mission", "Less waste, more skills."),
        contact_email=overrides.pop("contact_email", f"founder{n}@example.org"))
    entrant = await add_entrant(session=session, competition=competition, data=data, actor_id=None)
    if open_scoring:
        entrant.scoring_opened_at = utcnow()
    for key, value in overrides.items():
        setattr(entrant, key, value)
    await session.flush()
    return entrant


async def make_judge(session: AsyncSession, competition: Competition, *, user: User | None = None,
                     is_chair: bool = False, **overrides) -> User:
    """A judge account (password login works, for tests) on the competition's panel."""
    user = user or await make_user(session, role=Role.JUDGE, **overrides)
    session.add(JudgeAssignment(competition_id=competition.id, user_id=user.id, is_chair=is_chair))
    await session.flush()
    return user


async def criteria(session: AsyncSession, competition: Competition) -> list[Criterion]:
    return await criteria_for(session=session, competition_id=competition.id)


async def score(session: AsyncSession, competition: Competition, judge: User, entrant: Entrant,
                values: list[int] | int, *, submit: bool = True, feedback: str = "", private_note: str = ""):
    """Score every criterion (a list in rubric order, or one value for all) and submit by default."""
    rubric = await criteria(session, competition)
    if isinstance(values, int):
        values = [values] * len(rubric)
    return await sheets.save_sheet(session=session, competition=competition, judge_id=judge.id,
                                   entrant_id=entrant.id, values={c.id: v for c, v in zip(rubric, values, strict=True)},
                                   feedback=feedback, private_note=private_note, submit=submit)


async def audit_count(session: AsyncSession, competition_id: int | None = None) -> int:
    stmt = select(func.count(AuditEntry.id))
    if competition_id is not None:
        stmt = stmt.where(AuditEntry.competition_id == competition_id)
    return await session.scalar(stmt) or 0


async def make_tickets(session: AsyncSession, event_id: int, count: int, *, checked_in: bool = True) -> list:
    """`count` booked tickets for the event (one order), checked in at the door unless checked_in=False."""
    from events.models import Event
    from tests.ticketing.factories import make_order, make_ticket_type

    event = await session.get(Event, event_id)
    ticket_type = await make_ticket_type(session, event, capacity=max(count, 10), max_per_order=max(count, 10))
    order = await make_order(session, event, [(ticket_type.id, f"Guest {next(_seq)}") for _ in range(count)],
                             email=f"guest{next(_seq)}@example.org")
    tickets = list(order.tickets)
    if checked_in:
        for ticket in tickets:
            ticket.checked_in_at = utcnow()
            ticket.inside = True
    await session.flush()
    return tickets
