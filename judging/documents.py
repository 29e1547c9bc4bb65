"""Printed judging documents: blank paper score sheets, the entrants' feedback pack and the results report.

Three layers, as in ticketing/documents.py: `load_*` gathers plain values in a read session (no writes);
`*_html` builds the HTML (pure, templates/pdf/judging_*.html); `*_pdf` renders it through kernel.pdf, the one
rendering path. judging.document_pages serves each to organisers as a PDF.

- Score sheets: the fallback when phones fail. One section per judge (page break between): the rubric, the
  entrants in running order with a box per criterion and a comments box, the judge's name on every page and
  a QR code of the judge's scoring page (where the scores are typed in afterwards).
- Feedback pack: one section per entrant with their scores per criterion (the mean, and each judge's marks
  as "Judge A", "B"... never a name), the judges' feedback, unsigned (never their private notes for the
  organisers), and their place. Organisers may print it before the results are released: every page then
  says "PREVIEW — not released".
- Results report: the ranking (raw mean and normalised side by side), the tie-breaks applied, the audience
  vote, Kendall's W, recusals, and two charts as vector drawings (inline SVG, judging.charts).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from judging import scoring, tie_breaks
from judging.charts import Chart, criterion_chart, spread_chart
from judging.entrants import entrants_for
from judging.errors import JudgingError, NotFound
from judging.judges import conflicts_for, panel
from judging.models import Competition, Criterion, Entrant, Score, ScoreSheet, SheetStatus
from judging.results import Group, ResultsView, load_results
from judging.rounds import rounds_for
from judging.rubric import criteria_for
from kernel.db import utcnow
from kernel.pdf import render_pdf
from kernel.qr import qr_svg
from kernel.web import env, london

PDF_MIMETYPE = "application/pdf"
STYLESHEETS = ("judging_documents.css",)
PREVIEW_LABEL = "PREVIEW — not released"


class NothingToPrint(JudgingError):
    """The competition has no entrants or no judges (or no rubric) yet: there is no document to print."""

    status = 409


# --- small helpers ---------------------------------------------------------------------------------

def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def judge_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: spreadsheet-style, so a panel of any size gets distinct labels."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def size_class(text: str) -> str:
    """A CSS class that shrinks long names (200 characters still wrap inside their box)."""
    n = len(text)
    return "len-xl" if n > 120 else "len-l" if n > 60 else "len-m" if n > 32 else ""


def _filename(kind: str, competition: Competition, extra: str = "") -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", f"{competition.name} {extra}").strip("-").lower()[:60].strip("-")
    return f"{kind}-{competition.id}{'-' + stem if stem else ''}.pdf"


def _when(event: Event | None) -> str:
    return london(event.starts_at, "%A %-d %B %Y") if event is not None and event.starts_at else ""


async def _panel_or_nothing(*, session: AsyncSession, competition: Competition, what: str):
    """(criteria, accepted entrants in running order, panel) or NothingToPrint saying what is missing."""
    criteria = await criteria_for(session=session, competition_id=competition.id)
    entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    members = await panel(session=session, competition_id=competition.id)
    needed = (("no accepted entrants", entrants), ("no judges on the panel", members),
              ("no criteria in the rubric", criteria))
    missing = [part for part, have in needed if not have]
    if missing:
        raise NothingToPrint(f"“{competition.name}” has {' and '.join(missing)} yet, so there are no {what} "
                             "to print. Add them on the competition’s pages, then print again.")
    return criteria, entrants, members


# --- 1. blank paper score sheets -------------------------------------------------------------------

@dataclass
class SheetJudge:
    id: int
    name: str
    is_chair: bool
    conflicts: frozenset[int]  # entrant ids this judge declared a conflict with: they do not score them


@dataclass
class ScoreSheetsDoc:
    competition: Competition
    event: Event | None
    criteria: list[Criterion]
    entrants: list[Entrant]
    rounds: dict[int, str]
    judges: list[SheetJudge]
    scoring_url: str  # the judge's scoring page, where the paper scores are typed in


def scoring_url(base_url: str, competition_id: int) -> str:
    """The judge's scoring page for the competition (/judging/{id}); a signed-in judge sees their own."""
    return f"{base_url.rstrip('/')}/judging/{competition_id}"


async def load_score_sheets(*, session: AsyncSession, competition: Competition, base_url: str,
                            judge_id: int | None = None) -> ScoreSheetsDoc:
    """Everything the blank sheets print, for every judge on the panel or only `judge_id`."""
    criteria, entrants, members = await _panel_or_nothing(session=session, competition=competition,
                                                          what="score sheets")
    if judge_id is not None:
        members = [m for m in members if m.user.id == judge_id]
        if not members:
            raise NotFound("That judge is not on this competition’s panel.")
    conflicts: dict[int, set[int]] = {}
    for c in await conflicts_for(session=session, competition_id=competition.id):
        conflicts.setdefault(c.judge_id, set()).add(c.entrant_id)
    rounds = {r.id: r.name for r in await rounds_for(session=session, competition_id=competition.id)}
    return ScoreSheetsDoc(
        competition=competition, event=await session.get(Event, competition.event_id), criteria=criteria,
        entrants=entrants, rounds=rounds,
        judges=[SheetJudge(m.user.id, m.user.name, m.assignment.is_chair,
                           frozenset(conflicts.get(m.user.id, ()))) for m in members],
        scoring_url=scoring_url(base_url, competition.id),
    )


def score_sheets_html(doc: ScoreSheetsDoc) -> str:
    return env.get_template("pdf/judging_score_sheets.html").render(
        doc=doc, when=_when(doc.event), qr=Markup(qr_svg(doc.scoring_url, border=4)), size_class=size_class,
        title=f"Score sheets: {doc.competition.name}")


async def score_sheets_pdf(doc: ScoreSheetsDoc) -> tuple[str, str, bytes]:
    """(filename, mimetype, bytes): one section per judge, each starting on a new page."""
    extra = doc.judges[0].name if len(doc.judges) == 1 else ""
    pdf = await render_pdf(score_sheets_html(doc), stylesheets=STYLESHEETS)
    return _filename("score-sheets", doc.competition, extra), PDF_MIMETYPE, pdf


# --- 2. the feedback pack --------------------------------------------------------------------------

@dataclass
class JudgeMarks:
    # "Judge A", "Judge B"...: given per entrant to the judges who scored them, in the order the judges
    # joined the panel; never a name. Per entrant, so packs compared side by side do not tie one judge's
    # feedback together across entrants.
    label: str
    values: dict[int, int]  # criterion id -> score
    total: float  # weighted total, 0..100
    feedback: str  # the judge's feedback for the entrant; never their private note for the organisers


@dataclass
class FeedbackEntrant:
    entrant: Entrant
    round_name: str
    place: int | None  # in the deciding ranking (combined, else normalised); None when not ranked
    ranked: int  # how many entrants were ranked with this one (its round, or the whole competition)
    joint: bool
    tie_rules: list[str]  # tie-break rules that placed it, in words
    judges: list[JudgeMarks]
    criterion_means: dict[int, float]  # criterion id -> mean over the judges who scored
    raw_mean: float | None
    recused: int  # judges who declared a conflict and did not score
    votes: int

    @property
    def place_label(self) -> str:
        return ("Joint " if self.joint else "") + ordinal(self.place) if self.place else "Not ranked"


@dataclass
class FeedbackDoc:
    competition: Competition
    event: Event | None
    criteria: list[Criterion]
    entrants: list[FeedbackEntrant]
    decided_by: str  # how places were decided, in words
    voting: bool  # the audience vote took place

    @property
    def preview(self) -> bool:
        return not self.competition.released


async def _submitted_sheets(*, session: AsyncSession, competition_id: int,
                            judge_ids: set[int]) -> dict[tuple[int, int], tuple[dict[int, int], str]]:
    """(judge, entrant) -> (criterion id -> value, feedback for the entrant) for submitted sheets of panel
    judges. The private note for the organisers is not read: nothing here may print it."""
    stmt = select(ScoreSheet).where(ScoreSheet.competition_id == competition_id,
                                    ScoreSheet.status == SheetStatus.SUBMITTED.value)
    sheets = {s.id: s for s in await session.scalars(stmt) if s.judge_id in judge_ids}
    values: dict[int, dict[int, int]] = {sid: {} for sid in sheets}
    if sheets:
        for score in await session.scalars(select(Score).where(Score.sheet_id.in_(list(sheets)))):
            values[score.sheet_id][score.criterion_id] = score.value
    return {(s.judge_id, s.entrant_id): (values[s.id], s.feedback) for s in sheets.values()}


def decided_by(competition: Competition) -> str:
    a = competition.audience_weight_percent
    if a:
        return (f"the combined result: {100 - a} % the judges’ raw mean, {a} % the audience vote")
    return "the normalised ranking (each judge’s scores compared with that judge’s own average and spread)"


def headline(results: scoring.Results) -> tie_breaks.Ranking:
    """The ranking that decides the places, as on the results page: combined when set, else normalised."""
    return results.combined or results.normalised


async def load_feedback(*, session: AsyncSession, competition: Competition) -> FeedbackDoc:
    """Each accepted entrant's scores, the judges' feedback and place, judges anonymised (released or not)."""
    criteria, _, members = await _panel_or_nothing(session=session, competition=competition,
                                                   what="feedback pages")
    view = await load_results(session=session, competition=competition)
    joined = {m.user.id: (m.assignment.id, m.user.id) for m in members}
    sheets = await _submitted_sheets(session=session, competition_id=competition.id, judge_ids=set(joined))
    rows: dict[int, FeedbackEntrant] = {}
    for group in view.groups:
        results, ranking = group.results, headline(group.results)
        for entrant in group.entrants:
            r = results.entrants[entrant.id]
            scored_by = sorted(r.judges, key=lambda j: joined.get(j, (math.inf, j)))
            place = ranking.rank_of(entrant.id)
            rows[entrant.id] = FeedbackEntrant(
                entrant=entrant, round_name=group.round.name if group.round else "", place=place,
                ranked=len(ranking.places),
                joint=place is not None and sum(p.rank == place for p in ranking.places) > 1,
                tie_rules=[view.rule(rule) for rule in ranking.tie_rules(entrant.id)
                           if rule != tie_breaks.UNRESOLVED],
                judges=[JudgeMarks(f"Judge {judge_letter(i)}", sheets[(j, entrant.id)][0],
                                   results.totals[(j, entrant.id)], sheets[(j, entrant.id)][1].strip())
                        for i, j in enumerate(scored_by)],
                criterion_means={c.id: r.criterion_means[c.key] for c in view.criteria
                                 if c.key in r.criterion_means},
                raw_mean=r.raw_mean, recused=len(r.recused), votes=r.audience_votes,
            )
    ordered = [rows[e.id] for e in view.entrants.values() if e.id in rows]  # running order
    return FeedbackDoc(competition=competition, event=await session.get(Event, competition.event_id),
                       criteria=criteria, entrants=ordered, decided_by=decided_by(competition),
                       voting=competition.voting_opened_at is not None or view.total_votes > 0)


def feedback_html(doc: FeedbackDoc) -> str:
    return env.get_template("pdf/judging_feedback.html").render(
        doc=doc, when=_when(doc.event), preview_label=PREVIEW_LABEL, size_class=size_class,
        title=f"Feedback: {doc.competition.name}" + (f" ({PREVIEW_LABEL})" if doc.preview else ""))


async def feedback_pdf(doc: FeedbackDoc) -> tuple[str, str, bytes]:
    """(filename, mimetype, bytes): one section per entrant in running order, each on a new page."""
    pdf = await render_pdf(feedback_html(doc), stylesheets=STYLESHEETS)
    return _filename("feedback", doc.competition, "preview" if doc.preview else ""), PDF_MIMETYPE, pdf


# --- 3. the results report -------------------------------------------------------------------------

@dataclass
class ReportGroup:
    group: Group
    headline: tie_breaks.Ranking
    charts: list[Chart] = field(default_factory=list)


@dataclass
class ResultsDoc:
    view: ResultsView
    event: Event | None
    groups: list[ReportGroup]
    decided_by: str
    generated_at: dt.datetime

    @property
    def preview(self) -> bool:
        return not self.view.competition.released


def report_groups(view: ResultsView) -> list[ReportGroup]:
    """Each ranked group (a round, or the whole competition) with its deciding ranking and its two charts."""
    groups = []
    for g, group in enumerate(view.groups):
        r = group.results
        ranking = headline(r)
        order = [p.entrant for p in ranking.places] + list(r.unscored)
        charts = []
        if ranking.places:
            charts.append(criterion_chart(
                entrants=[(view.entrant_name(e), r.entrants[e].criterion_means) for e in order],
                criteria=view.criteria, prefix=f"g{g}c"))
            by_judge = {j: [t for (jj, _), t in r.totals.items() if jj == j] for j in view.judges}
            charts.append(spread_chart(judges=[(view.judge_name(j), by_judge[j]) for j in view.judges]))
        groups.append(ReportGroup(group, ranking, charts))
    return groups


async def load_report(*, session: AsyncSession, competition: Competition) -> ResultsDoc:
    """The results as the organiser's results page computes them, with the charts' data."""
    await _panel_or_nothing(session=session, competition=competition, what="results")
    view = await load_results(session=session, competition=competition)
    event = await session.get(Event, competition.event_id)
    return ResultsDoc(view=view, event=event, groups=report_groups(view), decided_by=decided_by(competition),
                      generated_at=utcnow())


def results_html(doc: ResultsDoc) -> str:
    competition = doc.view.competition
    return env.get_template("pdf/judging_results.html").render(
        doc=doc, view=doc.view, competition=competition, when=_when(doc.event), preview_label=PREVIEW_LABEL,
        size_class=size_class, unresolved=tie_breaks.UNRESOLVED,
        title=f"Results report: {competition.name}" + (f" ({PREVIEW_LABEL})" if doc.preview else ""))


async def results_pdf(doc: ResultsDoc) -> tuple[str, str, bytes]:
    pdf = await render_pdf(results_html(doc), stylesheets=STYLESHEETS)
    return _filename("results", doc.view.competition, "preview" if doc.preview else ""), PDF_MIMETYPE, pdf
