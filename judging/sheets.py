"""Score sheets: a judge saves (draft) and submits (locks) scores; the organiser unlocks with a reason.

Every check runs before anything is written, and every change of a score or comment goes to the audit
trail (who, when, old, new) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from denhub.accounts import User
from denhub.db import utcnow
from judging.errors import (
    Conflicted,
    InvalidInput,
    JudgingError,
    NotFound,
    PitchNotStarted,
    ScoringClosed,
    SheetLocked,
)
from judging.judges import panel, require_judge
from judging.models import (
    Competition,
    Conflict,
    Criterion,
    Entrant,
    EntrantStatus,
    Score,
    ScoreSheet,
    SheetStatus,
)
from judging.services import audit, criteria_for, entrants_for, get_competition, lock_rubric

MAX_COMMENT = 4000


@dataclass
class SheetView:
    sheet: ScoreSheet | None
    values: dict[int, int]  # criterion id -> value

    @property
    def status(self) -> str | None:
        return self.sheet.status if self.sheet else None


async def load_sheet(*, session: AsyncSession, judge_id: int, entrant_id: int,
                     for_update: bool = False) -> SheetView:
    stmt = select(ScoreSheet).where(ScoreSheet.judge_id == judge_id, ScoreSheet.entrant_id == entrant_id)
    if for_update:
        stmt = stmt.with_for_update()
    sheet = await session.scalar(stmt)
    values: dict[int, int] = {}
    if sheet is not None:
        values = {s.criterion_id: s.value for s in await session.scalars(select(Score).where(Score.sheet_id == sheet.id))}
    return SheetView(sheet, values)


async def scorable_entrant(*, session: AsyncSession, competition: Competition, entrant_id: int) -> Entrant:
    entrant = await session.get(Entrant, entrant_id)
    if entrant is None or entrant.competition_id != competition.id or entrant.status != EntrantStatus.ACCEPTED:
        raise NotFound("There is no entrant with that number in this competition.")
    return entrant


async def conflict_of(*, session: AsyncSession, judge_id: int, entrant_id: int) -> Conflict | None:
    return await session.scalar(select(Conflict).where(Conflict.judge_id == judge_id,
                                                       Conflict.entrant_id == entrant_id))


def check_values(values: Mapping[int, int], criteria: list[Criterion]) -> None:
    """InvalidInput for a criterion of another competition or a value off its scale."""
    by_id = {c.id: c for c in criteria}
    for criterion_id, value in values.items():
        criterion = by_id.get(criterion_id)
        if criterion is None:
            raise InvalidInput("One of those scores is for a criterion that is not in this competition’s rubric. "
                               "Reload the page and score again.")
        if not isinstance(value, int) or not criterion.scale_min <= value <= criterion.scale_max:
            raise InvalidInput(f"“{criterion.name}” is scored from {criterion.scale_min} to {criterion.scale_max}.",
                               field=f"c{criterion.id}")


async def save_sheet(*, session: AsyncSession, competition: Competition, judge_id: int, entrant_id: int,
                     values: Mapping[int, int], comment: str, submit: bool) -> ScoreSheet:
    """Save a judge's scores for an entrant as a draft, or submit them (which locks the sheet)."""
    if competition.is_closed:
        raise ScoringClosed("Scoring has closed and the results are out: scores can no longer change.")
    await require_judge(session=session, competition_id=competition.id, user_id=judge_id)
    entrant = await scorable_entrant(session=session, competition=competition, entrant_id=entrant_id)
    if await conflict_of(session=session, judge_id=judge_id, entrant_id=entrant_id):
        raise Conflicted("You declared a conflict of interest with this entrant, so you do not score them.")
    if not entrant.scoring_open:
        raise PitchNotStarted(f"Scoring for {entrant.enterprise} opens when their pitch starts. Your scores "
                              "are not saved yet: try again once the pitch has started.")
    criteria = await criteria_for(session=session, competition_id=competition.id)
    check_values(values, criteria)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"Keep the comment to {MAX_COMMENT} characters.", field="comment")
    current = await load_sheet(session=session, judge_id=judge_id, entrant_id=entrant_id, for_update=True)
    if current.sheet is not None and current.sheet.is_submitted:
        if submit and values == current.values and comment == current.sheet.comment:
            # The same submission again (a phone retrying after its first answer was lost): already done.
            return current.sheet
        raise SheetLocked("You have submitted this sheet, so it is locked. Ask the organiser to unlock it if "
                          "you need to change a score.")
    merged = {**current.values, **values}
    if submit:
        missing = [c.name for c in criteria if c.id not in merged]
        if missing:
            raise InvalidInput("Score every criterion before submitting. Still to score: " + ", ".join(missing) + ".")
    if not values and current.sheet is None and not comment and not submit:
        raise InvalidInput("Choose at least one score before saving.")

    now = utcnow()
    sheet = current.sheet
    if sheet is None:
        sheet = ScoreSheet(competition_id=competition.id, judge_id=judge_id, entrant_id=entrant_id,
                           status=SheetStatus.DRAFT.value, comment="", unlock_reason="", updated_at=now)
        session.add(sheet)
        await session.flush()
    names = {c.id: c.name for c in criteria}
    existing = {s.criterion_id: s for s in await session.scalars(select(Score).where(Score.sheet_id == sheet.id))}
    for criterion_id, value in values.items():
        old = current.values.get(criterion_id)
        if old == value:
            continue
        if criterion_id in existing:
            existing[criterion_id].value = value
        else:
            session.add(Score(sheet_id=sheet.id, criterion_id=criterion_id, value=value))
        await audit(session=session, competition_id=competition.id, actor_id=judge_id, action="score.set",
                    subject=f"{entrant.enterprise}: {names[criterion_id]}", old=old, new=value)
    if comment != sheet.comment:
        await audit(session=session, competition_id=competition.id, actor_id=judge_id, action="comment.set",
                    subject=entrant.enterprise, old=sheet.comment or None, new=comment or None)
        sheet.comment = comment
    sheet.updated_at = now
    if submit:
        sheet.status = SheetStatus.SUBMITTED.value
        sheet.submitted_at = now
        await audit(session=session, competition_id=competition.id, actor_id=judge_id, action="sheet.submit",
                    subject=entrant.enterprise, old=SheetStatus.DRAFT.value, new=SheetStatus.SUBMITTED.value)
    await lock_rubric(session=session, competition=competition, actor_id=judge_id,
                      why="the first score was saved")
    await session.flush()
    return sheet


async def unlock_sheet(*, session: AsyncSession, sheet_id: int, reason: str, actor_id: int | None) -> ScoreSheet:
    """The organiser reopens a submitted sheet so the judge can correct it; the reason is kept."""
    sheet = await session.scalar(select(ScoreSheet).where(ScoreSheet.id == sheet_id).with_for_update())
    if sheet is None:
        raise NotFound("There is no score sheet with that number.")
    competition = await get_competition(session=session, competition_id=sheet.competition_id)
    if competition.is_closed:
        raise ScoringClosed("The results have been released: sheets can no longer be unlocked.")
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("Give a reason for unlocking (up to 500 characters); it is kept in the audit trail.",
                           field="reason")
    if not sheet.is_submitted:
        raise JudgingError("That sheet is not submitted, so it is not locked.")
    sheet.status = SheetStatus.DRAFT.value
    sheet.unlocked_at = utcnow()
    sheet.unlock_reason = reason
    entrant = await session.get(Entrant, sheet.entrant_id)
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="sheet.unlock",
                subject=f"{entrant.enterprise if entrant else sheet.entrant_id}: judge {sheet.judge_id}",
                old=SheetStatus.SUBMITTED.value, new=SheetStatus.DRAFT.value)
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="sheet.unlock_reason",
                subject=f"sheet {sheet.id}", new=reason)
    return sheet


# --- what judges and organisers see ----------------------------------------------------------------

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


@dataclass
class LiveGrid:
    entrants: list[Entrant]
    judges: list[User]
    chair_id: int | None
    cells: dict[tuple[int, int], str] = field(default_factory=dict)  # (judge, entrant) -> status
    sheet_ids: dict[tuple[int, int], int] = field(default_factory=dict)
    conflicts: dict[tuple[int, int], Conflict] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for s in self.cells.values() if s == status)

    @property
    def expected(self) -> int:
        return len(self.entrants) * len(self.judges) - self.count("conflict")


async def live_grid(*, session: AsyncSession, competition: Competition) -> LiveGrid:
    """Who has scored whom (status only, no values): the organiser's live view."""
    entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    members = await panel(session=session, competition_id=competition.id)
    grid = LiveGrid(entrants, [m.user for m in members],
                    next((m.user.id for m in members if m.assignment.is_chair), None))
    for sheet in await session.scalars(select(ScoreSheet).where(ScoreSheet.competition_id == competition.id)):
        grid.cells[(sheet.judge_id, sheet.entrant_id)] = sheet.status
        grid.sheet_ids[(sheet.judge_id, sheet.entrant_id)] = sheet.id
    for conflict in await session.scalars(select(Conflict).where(Conflict.competition_id == competition.id)):
        grid.cells[(conflict.judge_id, conflict.entrant_id)] = "conflict"
        grid.conflicts[(conflict.judge_id, conflict.entrant_id)] = conflict
    return grid
