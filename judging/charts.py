"""Charts for the printed results report, drawn as inline SVG (no plotting library): pure functions from
numbers to markup, used by judging.documents.

One small SVG per row, with the names in HTML beside them: WeasyPrint draws SVG text glyph by glyph, which
breaks Bengali shaping, and HTML lets long names wrap and a tall chart continue on the next page with its
legend repeated. Bars are told apart by patterns and their order, not colour, so the charts read in
black-and-white print. Units are points (pt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from judging import scoring, statistics

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
                 (f'<line x1="{_n(PLOT_X0)}" y1="0" x2="{_n(PLOT_X0)}" y2="{_n(height)}" stroke="#000" '
                 f'stroke-width="0.8"/>')]
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
            mu = statistics.mean(totals)
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
            sd = statistics.pstdev(totals)
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
