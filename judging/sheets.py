"""Score sheets: a judge saves (draft) and submits (locks) scores; the organiser unlocks with a reason.

Beside the scores a sheet holds two texts: feedback for the entrant (printed, unsigned, in the feedback
pack) and a private note for the organisers (never printed for the entrant).

Every check runs before anything is written, and every change of a score, the feedback or the note goes to
the audit trail (who, when, old, new) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from judging.audit import audit
from judging.competitions import get_competition
from judging.errors import (
    Conflicted,
    InvalidInput,
    JudgingError,
    NotFound,
    PitchNotStarted,
    ScoringClosed,
    SheetLocked,
)
from judging.judges import require_judge
from judging.models import (
    AuditEntry,
    Competition,
    CompetitionStatus,
    Conflict,
    Criterion,
    Entrant,
    EntrantStatus,
    JudgeAssignment,
    Score,
    ScoreSheet,
    SheetStatus,
)
from judging.rubric import criteria_for, lock_rubric
from kernel import sqlite_direct
from kernel.db import utcnow

MAX_TEXT = 4000  # characters, for the feedback and for the private note


@dataclass
class SheetView:
    sheet: ScoreSheet | SheetRow | None
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


@dataclass(frozen=True)
class RubricRow:
    """What scores are checked against: plain values, so a locked rubric can be kept between requests."""

    id: int
    name: str
    scale_min: int
    scale_max: int


# A locked rubric never changes again (judging.rubric.save_rubric refuses once it is locked), so each
# worker keeps it, keyed by the moment it was locked: the truth, not a hint that could go stale.
_locked_rubrics: dict[tuple[int, object], tuple[RubricRow, ...]] = {}


async def rubric_for_scoring(*, session: AsyncSession, competition: Competition) -> tuple[RubricRow, ...]:
    key = (competition.id, competition.rubric_locked_at)
    rows = _locked_rubrics.get(key) if competition.rubric_locked else None
    if rows is None:
        rows = tuple(RubricRow(c.id, c.name, c.scale_min, c.scale_max)
                     for c in await criteria_for(session=session, competition_id=competition.id))
        if competition.rubric_locked:
            _locked_rubrics[key] = rows
    return rows


def check_values(values: Mapping[int, int], criteria: Sequence[Criterion | RubricRow]) -> None:
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


# The statements of a save, built once: judges' phones save on every change, all evening.
_TARGET = (
    select(Entrant.competition_id, Entrant.status, Entrant.enterprise, Entrant.scoring_opened_at,
           JudgeAssignment.id, Conflict.id).select_from(Entrant)
    .outerjoin(JudgeAssignment, and_(JudgeAssignment.competition_id == bindparam("competition_id"),
                                     JudgeAssignment.user_id == bindparam("judge_id")))
    .outerjoin(Conflict, and_(Conflict.judge_id == bindparam("judge_id"), Conflict.entrant_id == Entrant.id))
    .where(Entrant.id == bindparam("entrant_id")))
_scores, _sheets = Score.__table__, ScoreSheet.__table__
# The sheet's columns (made into the session's ScoreSheet by _sheet_from, without the ORM's loading) and its scores.
_SHEET = (
    select(*_sheets.c, _scores.c.id.label("score_id"), _scores.c.criterion_id.label("score_criterion_id"),
           _scores.c.value.label("score_value"))
    .select_from(_sheets).outerjoin(_scores, _scores.c.sheet_id == _sheets.c.id)
    .where(_sheets.c.judge_id == bindparam("judge_id"), _sheets.c.entrant_id == bindparam("entrant_id"))
    .with_for_update(of=_sheets))
_SHEET_COLUMNS = tuple(column.key for column in _sheets.c)


@dataclass
class SheetRow:
    """A judge's sheet as its row says, for a save that found it (what save_scores reads, changes and returns),
    without building the ORM's object: judges save on every change, all evening."""

    id: int
    competition_id: int
    judge_id: int
    entrant_id: int
    status: str
    feedback: str
    private_note: str
    submitted_at: dt.datetime | None
    unlocked_at: dt.datetime | None
    unlock_reason: str
    updated_at: dt.datetime

    @property
    def is_submitted(self) -> bool:
        return self.status == SheetStatus.SUBMITTED


def _sheet_from(session: AsyncSession, row) -> ScoreSheet | SheetRow:
    """The session's ScoreSheet for a row of _SHEET if it holds one (its state is what this session knows),
    else the row's values."""
    sheet = session.sync_session.identity_map.get(identity_key(ScoreSheet, (row.id,)))
    if sheet is not None:
        return sheet
    values = row._mapping
    return SheetRow(**{key: values[key] for key in _SHEET_COLUMNS})


_SET_SCORE = _scores.update().where(_scores.c.id == bindparam("score_id")).values(value=bindparam("new_value"))
_ADD_SCORE = _scores.insert()
_SET_SHEET = (_sheets.update().where(_sheets.c.id == bindparam("sheet_id"))
              .values(feedback=bindparam("new_feedback"), private_note=bindparam("new_private_note"),
                      updated_at=bindparam("new_updated_at"),
                      status=bindparam("new_status"), submitted_at=bindparam("new_submitted_at")))
_ADD_AUDIT = AuditEntry.__table__.insert()


# What a save reads of its competition once the rubric is locked (every save after the first): plain columns,
# with the row locked as get_competition(for_update=True) locks it, so a save and the release of the results
# never cross. Until the rubric is locked the save loads the Competition itself (lock_rubric changes it).
_COMPETITION_STATE = (select(Competition.id, Competition.status, Competition.rubric_locked_at)
                      .where(Competition.id == bindparam("competition_id")).with_for_update())


@dataclass(frozen=True)
class LockedCompetition:
    """As much of a Competition as save_scores reads, for a competition whose rubric is locked."""

    id: int
    status: str
    rubric_locked_at: object

    @property
    def is_closed(self) -> bool:
        return self.status == CompetitionStatus.CLOSED

    @property
    def rubric_locked(self) -> bool:
        return self.rubric_locked_at is not None


async def competition_for_saving(*, session: AsyncSession, competition_id: int) -> Competition | LockedCompetition:
    """The competition a save runs against, its row locked (NotFound when there is none)."""
    row = (await sqlite_direct.execute(session, _COMPETITION_STATE, {"competition_id": competition_id})).first()
    if row is not None and row.rubric_locked_at is not None:
        return LockedCompetition(row.id, row.status, row.rubric_locked_at)
    return await get_competition(session=session, competition_id=competition_id, for_update=True)


async def _scoring_target(session: AsyncSession, competition: Competition, judge_id: int, entrant_id: int) -> str:
    """The entrant's enterprise, once the judge may score them: on the panel, no conflict, scoring open.
    One query, plain columns (no objects to build)."""
    row = (await sqlite_direct.execute(session, _TARGET, {"competition_id": competition.id, "judge_id": judge_id,
                                                          "entrant_id": entrant_id})).first()
    if row is None or row[4] is None:
        await require_judge(session=session, competition_id=competition.id, user_id=judge_id)
    if row is None or row[0] != competition.id or row[1] != EntrantStatus.ACCEPTED:
        raise NotFound("There is no entrant with that number in this competition.")
    _, _, enterprise, scoring_opened_at, _, conflict_id = row
    if conflict_id is not None:
        raise Conflicted("You declared a conflict of interest with this entrant, so you do not score them.")
    if scoring_opened_at is None:
        raise PitchNotStarted(f"Scoring for {enterprise} opens when their pitch starts. Your scores "
                              "are not saved yet: try again once the pitch has started.")
    return enterprise


async def save_sheet(*, session: AsyncSession, competition: Competition, judge_id: int, entrant_id: int,
                     values: Mapping[int, int], submit: bool, feedback: str = "", private_note: str = "") -> ScoreSheet:
    """Save a judge's scores for an entrant as a draft, or submit them (which locks the sheet)."""
    return (await save_scores(session=session, competition=competition, judge_id=judge_id, entrant_id=entrant_id,
                              values=values, feedback=feedback, private_note=private_note, submit=submit)).sheet


def _clean_text(text: str, what: str, field: str) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"Keep the {what} to {MAX_TEXT} characters.", field=field)
    return text


async def save_scores(*, session: AsyncSession, competition: Competition, judge_id: int, entrant_id: int,
                      values: Mapping[int, int], feedback: str, private_note: str, submit: bool) -> SheetView:
    """As save_sheet, returning the sheet with every score it now holds.

    Judges save often (the phone script sends every change), so this stays at a handful of statements:
    one query for the checks, the locked rubric from memory, one for the sheet and its scores, and the
    writes batched (the scores in one UPDATE, the audit entries in one INSERT)."""
    if competition.is_closed:
        raise ScoringClosed("Scoring has closed and the results are out: scores can no longer change.")
    enterprise = await _scoring_target(session, competition, judge_id, entrant_id)
    criteria = await rubric_for_scoring(session=session, competition=competition)
    check_values(values, criteria)
    feedback = _clean_text(feedback, "feedback", "feedback")
    private_note = _clean_text(private_note, "private note", "private_note")
    rows = (await sqlite_direct.execute(session, _SHEET, {"judge_id": judge_id, "entrant_id": entrant_id})).all()
    sheet = _sheet_from(session, rows[0]) if rows else None
    score_ids = {r.score_criterion_id: r.score_id for r in rows if r.score_id is not None}
    current = {r.score_criterion_id: r.score_value for r in rows if r.score_id is not None}
    if sheet is not None and sheet.is_submitted:
        if submit and values == current and (feedback, private_note) == (sheet.feedback, sheet.private_note):
            # The same submission again (a phone retrying after its first answer was lost): already done.
            return SheetView(sheet, current)
        raise SheetLocked("You have submitted this sheet, so it is locked. Ask the organiser to unlock it if "
                          "you need to change a score.")
    merged = {**current, **values}
    if submit:
        missing = [c.name for c in criteria if c.id not in merged]
        if missing:
            raise InvalidInput("Score every criterion before submitting. Still to score: " + ", ".join(missing) + ".")
    if not values and sheet is None and not feedback and not private_note and not submit:
        raise InvalidInput("Choose at least one score before saving.")

    now = utcnow()
    if sheet is None:
        sheet = ScoreSheet(competition_id=competition.id, judge_id=judge_id, entrant_id=entrant_id,
                           status=SheetStatus.DRAFT.value, feedback="", private_note="",
                           unlock_reason="", updated_at=now)
        session.add(sheet)
        await session.flush()
    names = {c.id: c.name for c in criteria}
    trail: list[dict] = []

    def note(action: str, subject: str, old, new) -> None:
        trail.append({"competition_id": competition.id, "actor_id": judge_id, "at": now, "action": action,
                      "subject": subject[:200], "old": old, "new": new})

    changed: list[dict] = []
    added: list[dict] = []
    for criterion_id, value in values.items():
        old = current.get(criterion_id)
        if old == value:
            continue
        if criterion_id in score_ids:
            changed.append({"score_id": score_ids[criterion_id], "new_value": value})
        else:
            added.append({"sheet_id": sheet.id, "criterion_id": criterion_id, "value": value})
        note("score.set", f"{enterprise}: {names[criterion_id]}", old, value)
    if feedback != sheet.feedback:
        note("feedback.set", enterprise, sheet.feedback or None, feedback or None)
    if private_note != sheet.private_note:
        note("note.set", enterprise, sheet.private_note or None, private_note or None)
    row = {"feedback": feedback, "private_note": private_note, "updated_at": now, "status": sheet.status, "submitted_at": sheet.submitted_at}
    if submit:
        row.update(status=SheetStatus.SUBMITTED.value, submitted_at=now)
        note("sheet.submit", enterprise, SheetStatus.DRAFT.value, SheetStatus.SUBMITTED.value)
    # Plain statements on the transaction's connection (on SQLite straight on sqlite3, see kernel.sqlite_direct),
    # each batch in one executemany.
    if changed:
        await sqlite_direct.execute(session, _SET_SCORE, changed)
    if added:
        await sqlite_direct.execute(session, _ADD_SCORE, added)
    await sqlite_direct.execute(session, _SET_SHEET, {"sheet_id": sheet.id, **{f"new_{k}": v for k, v in row.items()}})
    for key, value in row.items():  # the object says what the row now says
        if isinstance(sheet, SheetRow):
            setattr(sheet, key, value)
        else:
            set_committed_value(sheet, key, value)
    if trail:  # the rows judging.audit.audit would add
        await sqlite_direct.execute(session, _ADD_AUDIT, trail)
    if not competition.rubric_locked:
        await lock_rubric(session=session, competition=competition, actor_id=judge_id,
                          why="the first score was saved")
        await session.flush()
    return SheetView(sheet, merged)


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
