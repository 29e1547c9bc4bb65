"""Who has scored whom: a judge's own progress through the running order (and what their main button opens),
and the organiser's live grid of every judge's sheet statuses and private notes. Reads only; the sheets
themselves are saved and unlocked in judging.sheets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from judging.entrants import entrants_for
from judging.judges import PanelMember
from judging.models import Competition, Conflict, Entrant, Score, ScoreSheet
from kernel.accounts import User


@dataclass
class JudgeRow:
    entrant: Entrant
    status: str  # "to score", "draft", "submitted", "conflict"
    sheet: ScoreSheet | None = None
    values: dict[int, int] = field(default_factory=dict)  # this judge's own scores, criterion id -> value
    conflict: Conflict | None = None

    @property
    def open(self) -> bool:
        """Scoring for the entrant has opened (its pitch started, or the organiser opened it)."""
        return self.entrant.scoring_open


async def judge_overview(*, session: AsyncSession, competition: Competition, judge_id: int,
                         with_values: bool = False) -> list[JudgeRow]:
    """This judge's own progress through the running order (never anyone else's scores); with_values also
    loads the judge's own scores, for the phone page that keeps every entrant's form."""
    entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    sheets = {s.entrant_id: s for s in await session.scalars(
        select(ScoreSheet).where(ScoreSheet.judge_id == judge_id, ScoreSheet.competition_id == competition.id))}
    conflicts = {c.entrant_id: c for c in await session.scalars(
        select(Conflict).where(Conflict.judge_id == judge_id, Conflict.competition_id == competition.id))}
    values: dict[int, dict[int, int]] = {}
    if with_values and sheets:
        by_sheet = {s.id: s.entrant_id for s in sheets.values()}
        for score in await session.scalars(select(Score).where(Score.sheet_id.in_(list(by_sheet)))):
            values.setdefault(by_sheet[score.sheet_id], {})[score.criterion_id] = score.value
    rows = []
    for e in entrants:
        sheet = sheets.get(e.id)
        status = "conflict" if e.id in conflicts else (sheet.status if sheet else "to score")
        rows.append(JudgeRow(e, status, sheet, values.get(e.id, {}), conflicts.get(e.id)))
    return rows


TO_SCORE = ("to score", "draft")  # a judge's row still waiting for their submitted sheet


def main_row(rows: Sequence[JudgeRow], on_stage_id: int | None) -> JudgeRow | None:
    """The row a judge's main button opens: the entrant on stage now (the host screen's current entrant)
    while the judge still has them to score, else the first entrant in running order still to score."""
    on_stage = next((r for r in rows if r.entrant.id == on_stage_id and r.status in TO_SCORE), None)
    return on_stage or next((r for r in rows if r.status in TO_SCORE), None)


@dataclass
class LiveGrid:
    entrants: list[Entrant]
    judges: list[User]
    chair_id: int | None
    cells: dict[tuple[int, int], str] = field(default_factory=dict)  # (judge, entrant) -> status
    sheet_ids: dict[tuple[int, int], int] = field(default_factory=dict)
    conflicts: dict[tuple[int, int], Conflict] = field(default_factory=dict)
    # (judge, entrant) -> the judge's private note for the organisers, where there is one
    private_notes: dict[tuple[int, int], str] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for s in self.cells.values() if s == status)

    @property
    def expected(self) -> int:
        return len(self.entrants) * len(self.judges) - self.count("conflict")


def build_live_grid(*, entrants: Sequence[Entrant], members: Sequence[PanelMember], sheets: Sequence[ScoreSheet],
                    conflicts: Sequence[Conflict]) -> LiveGrid:
    """Who has scored whom (status only, no values), from rows judging.results.load_live reads once for the
    grid and the provisional ranking."""
    grid = LiveGrid(list(entrants), [m.user for m in members],
                    next((m.user.id for m in members if m.assignment.is_chair), None))
    for sheet in sheets:
        grid.cells[(sheet.judge_id, sheet.entrant_id)] = sheet.status
        grid.sheet_ids[(sheet.judge_id, sheet.entrant_id)] = sheet.id
        if sheet.private_note:
            grid.private_notes[(sheet.judge_id, sheet.entrant_id)] = sheet.private_note
    for conflict in conflicts:
        grid.cells[(conflict.judge_id, conflict.entrant_id)] = "conflict"
        grid.conflicts[(conflict.judge_id, conflict.entrant_id)] = conflict
    return grid

