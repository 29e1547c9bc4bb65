"""Printed judging documents: blank paper score sheets, the entrants' feedback pack and the results report.

Three layers, as in ticketing/documents.py: `load_*` gathers plain values in a read session (no writes);
`*_html` builds the HTML (pure, templates/pdf/judging_*.html); `*_pdf` renders it through kernel.pdf, the one
rendering path. The organiser routes at the end serve each as a PDF.

- Score sheets: the fallback when phones fail. One section per judge (page break between): the rubric, the
  entrants in running order with a box per criterion and a comments box, the judge's name on every page and
  a QR code of the judge's scoring page (where the scores are typed in afterwards).
- Feedback pack: one section per entrant with their scores per criterion (the mean, and each judge's marks
  as "Judge A", "B"... never a name), the judges' comments, unsigned, and their place. Organisers may print it
  before the results are released: every page then says "PREVIEW — not released".
- Results report: the ranking (raw mean and normalised side by side), the tie-breaks applied, the audience
  vote, Kendall's W, recusals, and two charts as vector drawings (inline SVG).

Charts are SVG drawn here (no plotting library), one small SVG per row, with the names in HTML beside them:
WeasyPrint draws SVG text glyph by glyph, which breaks Bengali shaping, and HTML lets long names wrap and a
tall chart continue on the next page with its legend repeated. Bars are told apart by patterns and their
order, not colour, so the charts read in black-and-white print.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.auth import ORGANISERS, form_id, guard
from kernel.db import utcnow
from kernel.pdf import render_pdf
from kernel.qr import qr_svg
from kernel.web import env, london
from events.models import Event
from judging import scoring
from judging.errors import JudgingError, NotFound
from judging.judges import conflicts_for, panel
from judging.models import Competition, Criterion, Entrant, Score, ScoreSheet, SheetStatus
from judging.pages import load_competition, manage_url, refuse
from judging.results import Group, ResultsView, load_results
from judging.services import criteria_for, entrants_for, rounds_for

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
    # comments together across entrants.
    label: str
    values: dict[int, int]  # criterion id -> score
    total: float  # weighted total, 0..100
    comment: str


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
    """(judge, entrant) -> (criterion id -> value, comment) for submitted sheets of panel judges."""
    stmt = select(ScoreSheet).where(ScoreSheet.competition_id == competition_id,
                                    ScoreSheet.status == SheetStatus.SUBMITTED.value)
    sheets = {s.id: s for s in await session.scalars(stmt) if s.judge_id in judge_ids}
    values: dict[int, dict[int, int]] = {sid: {} for sid in sheets}
    if sheets:
        for score in await session.scalars(select(Score).where(Score.sheet_id.in_(list(sheets)))):
            values[score.sheet_id][score.criterion_id] = score.value
    return {(s.judge_id, s.entrant_id): (values[s.id], s.comment) for s in sheets.values()}


def decided_by(competition: Competition) -> str:
    a = competition.audience_weight_percent
    if a:
        return (f"the combined result: {100 - a} % the judges’ raw mean, {a} % the audience vote")
    return "the normalised ranking (each judge’s scores compared with that judge’s own average and spread)"


def headline(results: scoring.Results) -> scoring.Ranking:
    """The ranking that decides the places, as on the results page: combined when set, else normalised."""
    return results.combined or results.normalised


async def load_feedback(*, session: AsyncSession, competition: Competition) -> FeedbackDoc:
    """Each accepted entrant's scores, comments and place, judges anonymised (released or not)."""
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
                           if rule != scoring.UNRESOLVED],
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


# --- 3. charts (inline SVG, vector) ----------------------------------------------------------------

SVG_FONT = "Denhub Sans, Denhub Sans Ext, Denhub Bengali, sans-serif"
BARS_W, SPREAD_W = 340.0, 300.0  # pt: the plot column of each chart
PLOT_X0, BARS_X1, SPREAD_X1 = 6.0, 310.0, 292.0  # the value axis runs from x0 to x1 (labels beyond x1)
BAR_H, BAR_GAP, ROW_PAD = 6.5, 1.5, 3.5
SPREAD_ROW_H = 20.0

# Fills that stay distinct in black-and-white print: (what it looks like, a plain fill colour, or the body
# of a 4 x 4 pattern tile). Plain fills are not patterns: viewers draw hairline seams between pattern tiles.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("solid black", "#000"),
    ("white", "#fff"),
    ("diagonal lines", '<path d="M-1,1 l2,-2 M0,4 l4,-4 M3,5 l2,-2" stroke="#000" stroke-width="0.7"/>'),
    ("dots", '<circle cx="2" cy="2" r="0.85" fill="#000"/>'),
    ("grey", "#9c9c9c"),
    ("cross-hatch", '<path d="M0,0 L4,4 M4,0 L0,4" stroke="#000" stroke-width="0.5"/>'),
    ("horizontal lines", '<path d="M0,2 H4" stroke="#000" stroke-width="0.9"/>'),
    ("back-diagonal lines", '<path d="M-1,3 l2,2 M0,0 l4,4 M3,-1 l2,2" stroke="#000" stroke-width="0.7"/>'),
    ("vertical lines", '<path d="M2,0 V4" stroke="#000" stroke-width="0.9"/>'),
    ("checks", '<rect width="2" height="2" fill="#000"/><rect x="2" y="2" width="2" height="2" fill="#000"/>'),
)


def _n(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, body: str, label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" '
        f'aria-label="{Markup.escape(label)}" width="{_n(width)}pt" height="{_n(height)}pt" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{SVG_FONT}">{body}</svg>')


def _fill(prefix: str, i: int) -> str:
    """The fill of the i-th criterion: a colour, or the pattern _pattern_defs(prefix, ...) defines."""
    look = PATTERNS[i % len(PATTERNS)][1]
    return look if look.startswith("#") else f"url(#{prefix}-{i})"


def _pattern_defs(prefix: str, indexes: Sequence[int]) -> str:
    tiles = []
    for i in indexes:
        look = PATTERNS[i % len(PATTERNS)][1]
        if not look.startswith("#"):
            tiles.append(f'<pattern id="{prefix}-{i}" patternUnits="userSpaceOnUse" width="4" height="4">'
                         f'<rect width="4" height="4" fill="#fff"/>{look}</pattern>')
    return "<defs>" + "".join(tiles) + "</defs>" if tiles else ""


def nice_ticks(hi: float) -> list[float]:
    """0, step, ... hi with at most 10 intervals and a round step."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000):
        if hi / step <= 10:
            break
    ticks = [0.0]
    while ticks[-1] + step <= hi + 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


class _Axis:
    def __init__(self, hi: float, x1: float):
        self.hi, self.x1 = hi, x1
        self.ticks = nice_ticks(hi)

    def x(self, value: float) -> float:
        return PLOT_X0 + (self.x1 - PLOT_X0) * max(0.0, min(value, self.hi)) / self.hi

    def grid(self, height: float) -> str:
        return "".join(f'<line x1="{_n(self.x(t))}" y1="0" x2="{_n(self.x(t))}" y2="{_n(height)}" '
                       f'stroke="#a8a8a8" stroke-width="0.4" stroke-dasharray="1.5,1.5"/>' for t in self.ticks[1:])

    def svg(self, width: float, label: str) -> Markup:
        parts = [f'<line x1="{_n(PLOT_X0)}" y1="1" x2="{_n(self.x1)}" y2="1" stroke="#000" stroke-width="0.8"/>']
        for t in self.ticks:
            x = _n(self.x(t))
            parts.append(f'<line x1="{x}" y1="1" x2="{x}" y2="4" stroke="#000" stroke-width="0.6"/>'
                         f'<text x="{x}" y="12" font-size="7" text-anchor="middle">{t:g}</text>')
        return _svg(width, 15, "".join(parts), label)


@dataclass
class ChartRow:
    label: str
    svg: Markup
    note: str = ""  # beside the row (the spread chart's mean and sd)
    sub: str = ""


@dataclass
class Chart:
    kind: str  # "bars" or "spread"
    title: str
    caption: str
    legend: list[tuple[Markup, str]]
    rows: list[ChartRow]
    axis: Markup
    axis_label: str


def criterion_chart(*, entrants: Sequence[tuple[str, dict[str, float]]],
                    criteria: Sequence[scoring.CriterionSpec], prefix: str) -> Chart:
    """Grouped horizontal bars: for each entrant, one bar per criterion (the mean score of the judges who
    scored it), in rubric order with the legend's patterns. `entrants`: (name, criterion key -> mean)."""
    scales = {(c.scale_min, c.scale_max) for c in criteria}
    shared = len(scales) == 1 and min(scales)[0] >= 0
    hi = float(criteria[0].scale_max) if shared else 100.0
    axis = _Axis(hi, BARS_X1)
    n = len(criteria)
    height = 2 * ROW_PAD + n * BAR_H + (n - 1) * BAR_GAP
    numbered = n > len(PATTERNS)  # patterns repeat: number the bars too
    rows = []
    for r, (name, means) in enumerate(entrants):
        row_prefix = f"{prefix}-r{r}"
        parts = [_pattern_defs(row_prefix, range(n)), axis.grid(height),
                 f'<line x1="{_n(PLOT_X0)}" y1="0" x2="{_n(PLOT_X0)}" y2="{_n(height)}" stroke="#000" '
                 f'stroke-width="0.8"/>']
        described = []
        for i, c in enumerate(criteria):
            y = ROW_PAD + i * (BAR_H + BAR_GAP)
            mean_value = means.get(c.key)
            if mean_value is None:
                parts.append(f'<text x="{_n(PLOT_X0 + 3)}" y="{_n(y + BAR_H - 1)}" font-size="6">'
                             'not scored</text>')
                continue
            shown = mean_value if shared else 100 * (mean_value - c.scale_min) / (c.scale_max - c.scale_min)
            x = axis.x(shown)
            parts.append(f'<rect class="bar" x="{_n(PLOT_X0)}" y="{_n(y)}" '
                         f'width="{_n(max(x - PLOT_X0, 0.6))}" height="{_n(BAR_H)}" '
                         f'fill="{_fill(row_prefix, i)}" stroke="#000" stroke-width="0.5"/>')
            text = f"{mean_value:.1f}" + (f" ({i + 1})" if numbered else "")
            parts.append(f'<text x="{_n(x + 2.5)}" y="{_n(y + BAR_H - 0.9)}" font-size="6.5">{text}</text>')
            described.append(f"{c.name} {mean_value:.1f}")
        rows.append(ChartRow(name, _svg(BARS_W, height, "".join(parts), f"{name}: " + ", ".join(described))))
    legend = []
    for i, c in enumerate(criteria):
        swatch = _svg(16, 9, _pattern_defs(f"{prefix}-k", [i])
                      + f'<rect x="0.5" y="0.5" width="15" height="8" fill="{_fill(f"{prefix}-k", i)}" '
                        f'stroke="#000" stroke-width="0.6"/>', PATTERNS[i % len(PATTERNS)][0])
        legend.append((swatch, (f"{i + 1}. " if numbered else "") + c.name))
    if shared:
        axis_label = f"Mean score of the judges who scored the entrant (scale {criteria[0].scale_min}–{hi:g})"
    else:
        axis_label = "Mean score, as a percentage of each criterion’s scale (0 = bottom, 100 = top)"
    caption = ("Bars in each group follow the legend’s order, top to bottom; the number at the end of a bar "
               "is the mean score.")
    return Chart("bars", "Scores per criterion", caption, legend, rows, axis.svg(BARS_W, axis_label),
                 axis_label)


def spread_chart(*, judges: Sequence[tuple[str, list[float]]]) -> Chart:
    """Each judge's weighted totals (0..100) as dots on a line from their lowest to highest, with a bar at
    their mean: how generous and how spread out each judge marked. `judges`: (name, totals)."""
    axis = _Axis(100.0, SPREAD_X1)
    mid = SPREAD_ROW_H / 2
    rows = []
    for name, totals in judges:
        parts = [axis.grid(SPREAD_ROW_H)]
        note, sub = "no submitted sheets", ""
        if totals:
            lo, hi = min(totals), max(totals)
            mu = scoring.mean(totals)
            parts.append(f'<line x1="{_n(axis.x(lo))}" y1="{_n(mid)}" x2="{_n(axis.x(hi))}" y2="{_n(mid)}" '
                         f'stroke="#000" stroke-width="1.1"/>')
            seen: dict[float, int] = {}
            for total in sorted(totals):
                key = round(total * 2) / 2  # dots closer than half a point are stacked, not hidden
                k = seen[key] = seen.get(key, -1) + 1
                dy = (0, -3.6, 3.6, -7.2, 7.2)[k % 5]
                parts.append(f'<circle class="dot" cx="{_n(axis.x(total))}" cy="{_n(mid + dy)}" r="2.3" '
                             f'fill="#fff" stroke="#000" stroke-width="0.8"/>')
            parts.append(f'<rect class="mean" x="{_n(axis.x(mu) - 0.9)}" y="{_n(mid - 7)}" width="1.8" '
                         'height="14" fill="#000"/>')
            sd = scoring.pstdev(totals)
            note = f"mean {mu:.1f} · sd {sd:.1f}"
            sub = f"{len(totals)} scored" + (", all alike (z = 0)" if sd < 1e-9 else "")
        svg = _svg(SPREAD_W, SPREAD_ROW_H, "".join(parts), f"{name}: {note}")
        rows.append(ChartRow(name, svg, note, sub))
    legend = [
        (_svg(16, 9, '<circle cx="8" cy="4.5" r="2.3" fill="#fff" stroke="#000" stroke-width="0.8"/>', "dot"),
         "one entrant’s weighted total"),
        (_svg(16, 9, '<rect x="7.1" y="0" width="1.8" height="9" fill="#000"/>', "bar"), "the judge’s mean"),
        (_svg(16, 9, '<line x1="1" y1="4.5" x2="15" y2="4.5" stroke="#000" stroke-width="1.1"/>', "line"),
         "lowest to highest total"),
    ]
    axis_label = "Weighted total given by the judge (0–100)"
    caption = ("A judge whose dots sit to the right marked generously; a short line means they rated the "
               "entrants alike. The normalised ranking evens these out.")
    return Chart("spread", "Each judge’s spread", caption, legend, rows, axis.svg(SPREAD_W, axis_label),
                 axis_label)


# --- 4. the results report -------------------------------------------------------------------------

@dataclass
class ReportGroup:
    group: Group
    headline: scoring.Ranking
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
        size_class=size_class, unresolved=scoring.UNRESOLVED,
        title=f"Results report: {competition.name}" + (f" ({PREVIEW_LABEL})" if doc.preview else ""))


async def results_pdf(doc: ResultsDoc) -> tuple[str, str, bytes]:
    pdf = await render_pdf(results_html(doc), stylesheets=STYLESHEETS)
    return _filename("results", doc.view.competition, "preview" if doc.preview else ""), PDF_MIMETYPE, pdf


# --- organiser routes ------------------------------------------------------------------------------

def _pdf_response(filename: str, mimetype: str, body: bytes) -> Response:
    # inline: the browser opens its PDF viewer, from which organisers print straight away
    return Response(body, media_type=mimetype, headers={
        "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, no-store"})


def _judge_param(request: Request) -> int | None:
    raw = request.query_params.get("judge", "").strip()
    if not raw:
        return None
    judge_id = form_id(raw)
    if judge_id is None:
        raise HTTPException(400, "Choose a judge by their number, e.g. ?judge=12, or leave it out for "
                                 "everyone.")
    return judge_id


@guard(ORGANISERS)
async def score_sheets_route(request: Request) -> Response:
    """Blank paper score sheets: every judge, or one with ?judge=<user id>."""
    competition, _ = await load_competition(request)
    judge_id = _judge_param(request)
    try:
        async with request.app.state.db.read() as session:
            doc = await load_score_sheets(session=session, competition=competition, judge_id=judge_id,
                                          base_url=request.app.state.settings.base_url)
    except JudgingError as exc:
        return refuse(request, exc, back=manage_url(competition), back_label="Back to the competition")
    return _pdf_response(*await score_sheets_pdf(doc))


@guard(ORGANISERS)
async def feedback_route(request: Request) -> Response:
    """The entrants' feedback pack; marked as a preview on every page until the results are released."""
    competition, _ = await load_competition(request)
    try:
        async with request.app.state.db.read() as session:
            doc = await load_feedback(session=session, competition=competition)
    except JudgingError as exc:
        return refuse(request, exc, back=manage_url(competition), back_label="Back to the competition")
    return _pdf_response(*await feedback_pdf(doc))


@guard(ORGANISERS)
async def results_route(request: Request) -> Response:
    """The results report with its charts; marked as a preview until the results are released."""
    competition, _ = await load_competition(request)
    try:
        async with request.app.state.db.read() as session:
            doc = await load_report(session=session, competition=competition)
    except JudgingError as exc:
        return refuse(request, exc, back=manage_url(competition), back_label="Back to the competition")
    return _pdf_response(*await results_pdf(doc))


# Mounted under /organiser with the other competition pages (judging.manage.routes).
routes = [
    Route("/competitions/{competition_id:int}/score-sheets.pdf", score_sheets_route, methods=["GET"],
          name="judging_score_sheets_pdf"),
    Route("/competitions/{competition_id:int}/feedback.pdf", feedback_route, methods=["GET"],
          name="judging_feedback_pdf"),
    Route("/competitions/{competition_id:int}/results.pdf", results_route, methods=["GET"],
          name="judging_results_pdf"),
]
