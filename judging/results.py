"""Results: loads submitted sheets, conflicts and votes, and hands plain numbers to judging.scoring.

Only submitted sheets count; drafts are reported so the organiser can chase them before releasing. The
audience votes are the people's-choice tally (judging.votes), one per checked-in ticket.
Entrants in rounds (heats, a final) are ranked within their round; entrants without one are ranked together.
The final comes first; its entrants were advanced from heats (Entrant.advanced_from_id) and are ranked only
on the sheets judges gave them in the final.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from judging import scoring, tie_breaks
from judging.entrants import entrants_for
from judging.errors import InvalidInput, NotFound, RoundRule
from judging.judges import PanelMember, panel
from judging.models import Competition, Conflict, Entrant, Round, Score, ScoreSheet, SheetStatus
from judging.progress import LiveGrid, build_live_grid
from judging.rounds import rounds_for
from judging.rubric import criteria_for
from judging.votes import fold, on_ballot, tally
from kernel.accounts import User


@dataclass
class Group:
    round: Round | None
    entrants: list[Entrant]
    results: scoring.Results


@dataclass
class ResultsView:
    competition: Competition
    criteria: list[scoring.CriterionSpec]
    groups: list[Group]
    entrants: dict[int, Entrant]
    judges: dict[int, User]
    chair_id: int | None
    drafts: int  # sheets saved but not submitted: not counted
    conflicts: list[Conflict]
    votes: dict[int, int]  # the people's-choice count per entrant id (every accepted entrant, 0 included)
    origins: dict[int, str] = field(default_factory=dict)  # finalist id -> the heat it was advanced from

    @property
    def total_votes(self) -> int:
        return sum(self.votes.get(e.id, 0) for e in on_ballot(list(self.entrants.values())))

    @property
    def peoples_choice(self) -> list[tuple[Entrant, int]]:
        """Entrants by votes, most first (running order between equals)."""
        ordered = sorted(on_ballot(list(self.entrants.values())), key=lambda e: -self.votes.get(e.id, 0))
        return [(e, self.votes.get(e.id, 0)) for e in ordered]

    def entrant_name(self, entrant_id: int) -> str:
        e = self.entrants.get(entrant_id)
        return e.enterprise if e else f"Entrant {entrant_id}"

    def judge_name(self, judge_id: int) -> str:
        u = self.judges.get(judge_id)
        return u.name if u else f"Judge {judge_id}"

    def rule(self, rule: str) -> str:
        return tie_breaks.describe_rule(rule, self.criteria)

    @property
    def needs_casting_decision(self) -> bool:
        return any(t.rule == tie_breaks.UNRESOLVED for g in self.groups
                   for ranking in (g.results.raw, g.results.normalised, g.results.combined) if ranking
                   for t in ranking.ties)


async def _rows(session: AsyncSession, competition: Competition):
    """Accepted entrants (running order), the panel, every sheet and every conflict of the competition."""
    entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    members = await panel(session=session, competition_id=competition.id)
    sheets = list(await session.scalars(select(ScoreSheet).where(ScoreSheet.competition_id == competition.id)))
    conflicts = list(await session.scalars(select(Conflict).where(Conflict.competition_id == competition.id)))
    return entrants, members, sheets, conflicts


async def load_results(*, session: AsyncSession, competition: Competition) -> ResultsView:
    rows = await _rows(session, competition)
    counts = await tally(session=session, competition_id=competition.id)
    return await _results(session, competition, *rows, counts)


async def load_live(*, session: AsyncSession, competition: Competition) -> tuple[LiveGrid, ResultsView]:
    """The organiser's live view: who has scored whom, and the provisional ranking from the sheets submitted
    so far. Each open page polls it every few seconds, so the rows are read once for both."""
    entrants, members, sheets, conflicts = rows = await _rows(session, competition)
    # Votes change a ranking only through a combined result; without one, skip counting them (the view's
    # votes are then all 0, and the live view does not show them).
    counts = await tally(session=session, competition_id=competition.id) if competition.audience_weight_percent else {}
    grid = build_live_grid(entrants=entrants, members=members, sheets=sheets, conflicts=conflicts)
    return grid, await _results(session, competition, *rows, counts)


async def _results(session: AsyncSession, competition: Competition, entrants: list[Entrant],
                   members: list[PanelMember], sheets: list[ScoreSheet], conflicts: list[Conflict],
                   counts: dict[int, int]) -> ResultsView:
    counts = fold(counts, entrants)
    criteria = await criteria_for(session=session, competition_id=competition.id)
    specs = [scoring.CriterionSpec(c.id, c.key, c.name, c.scale_min, c.scale_max, c.weight) for c in criteria]
    judge_ids = [m.user.id for m in members]
    submitted = {s.id: s for s in sheets if s.status == SheetStatus.SUBMITTED}
    values: dict[int, dict[int, float]] = {sid: {} for sid in submitted}
    if submitted:
        for score in await session.scalars(select(Score).where(Score.sheet_id.in_(list(submitted)))):
            values[score.sheet_id][score.criterion_id] = score.value
    rounds = await rounds_for(session=session, competition_id=competition.id)
    by_round: dict[int | None, list[Entrant]] = {}
    for e in entrants:
        by_round.setdefault(e.round_id, []).append(e)
    groups = []
    for heat in [*(r for r in rounds if r.is_final), None, *(r for r in rounds if not r.is_final)]:
        members_of = by_round.get(heat.id if heat else None, [])
        if not members_of:
            continue
        ids = {e.id for e in members_of}
        results = scoring.compute(
            criteria=specs,
            entrants=[e.id for e in members_of],
            judges=judge_ids,
            sheets=[scoring.Sheet(s.judge_id, s.entrant_id, values[s.id]) for s in submitted.values()
                    if s.entrant_id in ids and s.judge_id in judge_ids],
            recusals=[(c.judge_id, c.entrant_id) for c in conflicts if c.entrant_id in ids],
            tie_break=list(competition.tie_break or []),
            chair_order=list(competition.chair_order or []),
            audience_votes={e.id: counts.get(e.id, 0) for e in members_of},
            audience_percent=competition.audience_weight_percent,
        )
        groups.append(Group(heat, members_of, results))
    return ResultsView(
        competition=competition, criteria=specs, groups=groups, entrants={e.id: e for e in entrants},
        judges={m.user.id: m.user for m in members},
        chair_id=next((m.user.id for m in members if m.assignment.is_chair), None),
        drafts=sum(1 for s in sheets if s.status == SheetStatus.DRAFT), conflicts=conflicts,
        votes={e.id: counts.get(e.id, 0) for e in entrants}, origins=await _origins(session, entrants, rounds),
    )


async def _origins(session: AsyncSession, entrants: list[Entrant], rounds: list[Round]) -> dict[int, str]:
    """Each finalist's heat, by name."""
    links = {e.id: e.advanced_from_id for e in entrants if e.advanced_from_id is not None}
    if not links:
        return {}
    names = {r.id: r.name for r in rounds}
    heat_of = dict((await session.execute(select(Entrant.id, Entrant.round_id)
                                          .where(Entrant.id.in_(list(links.values()))))).all())
    return {finalist: names.get(heat_of.get(source), "a heat") for finalist, source in links.items()}


async def heat_leaders(*, session: AsyncSession, competition: Competition, round_id: int, top: int) -> list[int]:
    """The entrants placed 1..top in a heat's ranking as the results page shows it now (the combined result
    when the audience counts, else the normalised ranking; provisional until released), best first. Entrants
    tied on place `top` all go through."""
    heat = await session.get(Round, round_id)
    if heat is None or heat.competition_id != competition.id:
        raise NotFound("There is no round with that number in this competition.")
    if heat.is_final:
        raise InvalidInput(f"“{heat.name}” is the final: choose a heat to advance from.")
    if not 1 <= top <= 100:
        raise InvalidInput("Advance from 1 to 100 of a heat’s top entrants.")
    view = await load_results(session=session, competition=competition)
    group = next((g for g in view.groups if g.round is not None and g.round.id == heat.id), None)
    places = (group.results.combined or group.results.normalised).places if group else ()
    if not places:
        raise RoundRule(f"“{heat.name}” has no submitted scores yet, so it has no ranking to take the top "
                        "entrants from. Choose entrants by hand, or wait for the judges to submit.")
    return [p.entrant for p in places if p.rank <= top]
