"""The results report's charts (judging/charts.py): pure functions from numbers to SVG, checked against
positions worked out by hand. The value axis runs from x = 6 pt to x = 310 pt (bars) or 292 pt (spread)."""

from __future__ import annotations

import re

from judging import scoring
from judging.charts import PATTERNS, criterion_chart, nice_ticks, spread_chart


def spec(i: int, lo: int = 1, hi: int = 10) -> scoring.CriterionSpec:
    return scoring.CriterionSpec(i, f"k{i}", f"Criterion {i}", lo, hi, 10)


def bars(svg) -> list[tuple[float, float, float]]:
    """(x, y, width) of each bar, top to bottom."""
    return [(float(x), float(y), float(w)) for x, y, w in
            re.findall(r'class="bar" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', str(svg))]


def test_ticks_are_round_steps_from_zero_with_at_most_ten_intervals():
    assert nice_ticks(10) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert nice_ticks(100) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert nice_ticks(5) == [0, 1, 2, 3, 4, 5]
    # 37 / 2 = 18.5 intervals is too many, 37 / 5 = 7.4 is not; the last tick stays within the axis
    assert nice_ticks(37) == [0, 5, 10, 15, 20, 25, 30, 35]


def test_bars_on_a_shared_scale_are_drawn_to_it_by_hand():
    # One scale (1-10) for both criteria: the axis is 0..10 over 304 pt, so 30.4 pt a point.
    chart = criterion_chart(entrants=[("Bike Kitchen", {"k0": 5, "k1": 10})], criteria=[spec(0), spec(1)],
                            prefix="h")
    svg = str(chart.rows[0].svg)
    # mean 5 ends at 6 + 5 * 30.4 = 158 (width 152); mean 10 at 310 (width 304). Rows of bars start 3.5 pt
    # down and are 6.5 pt tall with 1.5 pt between them: y = 3.5, then 11.5.
    assert bars(svg) == [(6, 3.5, 152), (6, 11.5, 304)]
    # the row is 3.5 + 6.5 + 1.5 + 6.5 + 3.5 = 21.5 pt tall; the value is written 2.5 pt past the bar's end
    assert 'height="21.5pt"' in svg and '<text x="160.5"' in svg and ">5.0</text>" in svg and ">10.0</text>" in svg
    assert 'aria-label="Bike Kitchen: Criterion 0 5.0, Criterion 1 10.0"' in svg
    # the first two fills are plain (black, white), so no pattern tiles are needed
    assert '<rect class="bar" x="6" y="3.5" width="152" height="6.5" fill="#000"' in svg and "<defs>" not in svg
    assert chart.axis_label == "Mean score of the judges who scored the entrant (scale 1–10)"
    assert '<text x="158" y="12" font-size="7" text-anchor="middle">5</text>' in str(chart.axis)


def test_bars_on_different_scales_are_percentages_of_each_scale():
    # 3 on 0-4 is 75 % of its scale: 6 + 0.75 * 304 = 234; 5.5 on 1-10 is (5.5 - 1) / 9 = 50 %: 158.
    chart = criterion_chart(entrants=[("Repair Café", {"k0": 3, "k1": 5.5})], criteria=[spec(0, 0, 4), spec(1)],
                            prefix="p")
    assert bars(chart.rows[0].svg) == [(6, 3.5, 228), (6, 11.5, 152)]
    assert ">3.0</text>" in str(chart.rows[0].svg) and ">5.5</text>" in str(chart.rows[0].svg)  # the raw mean
    assert chart.axis_label.startswith("Mean score, as a percentage of each criterion’s scale")


def test_a_zero_mean_still_shows_a_sliver_and_an_unscored_criterion_says_so():
    chart = criterion_chart(entrants=[("Nil", {"k0": 0})], criteria=[spec(0, 0, 10), spec(1, 0, 10)], prefix="z")
    svg = str(chart.rows[0].svg)
    assert bars(svg) == [(6, 3.5, 0.6)] and ">not scored</text>" in svg


def test_more_criteria_than_patterns_are_numbered():
    n = len(PATTERNS) + 1
    specs = [spec(i) for i in range(n)]
    chart = criterion_chart(entrants=[("Many", {s.key: 7 for s in specs})], criteria=specs, prefix="m")
    svg = str(chart.rows[0].svg)
    assert f'height="{3.5 * 2 + n * 6.5 + (n - 1) * 1.5:g}pt"' in svg  # 93.5
    assert ">7.0 (1)</text>" in svg and f">7.0 ({n})</text>" in svg
    assert next(label for _, label in chart.legend) == "1. Criterion 0"
    # the eleventh criterion wears the first one's fill again: the number tells them apart
    assert 'fill="#000"' in str(chart.legend[0][0]) and 'fill="#000"' in str(chart.legend[n - 1][0])


def test_charts_are_svg_shapes_with_patterns_not_colour_alone():
    specs = [spec(i) for i in range(4)]
    chart = criterion_chart(entrants=[("One", {"k0": 8, "k1": 5.5, "k2": 1, "k3": 10}), ("Two", {})],
                            criteria=specs, prefix="t")
    assert [row.label for row in chart.rows] == ["One", "Two"]
    first = str(chart.rows[0].svg)
    assert first.count('class="bar"') == 4 and "<pattern" in first and "8.0" in first and "5.5" in first
    assert 'fill="url(#t-r0-2)"' in first and "<image" not in first
    assert "not scored" in str(chart.rows[1].svg) and 'class="bar"' not in str(chart.rows[1].svg)
    # every criterion has its own fill in the legend, and no two look the same
    assert len(chart.legend) == 4 and len({label for _, label in chart.legend}) == 4
    looks = set()
    for swatch, _ in chart.legend:
        fill = re.search(r'<rect x="0.5"[^>]* fill="([^"]+)"', str(swatch)).group(1)
        looks.add(fill if fill.startswith("#") else re.search(r"<pattern[^>]*>(.*)</pattern>", str(swatch)).group(1))
    assert len(looks) == 4
    assert "scale 1–10" in chart.axis_label and ">10</text>" in str(chart.axis)


def test_spread_by_hand():
    # 0-100 over 286 pt (6 to 292): 40 -> 120.4, 60 -> 177.6, 80 -> 234.8. Mean 60; population sd
    # sqrt((20² + 0 + 0 + 20²) / 4) = sqrt(200) = 14.14.
    spread = spread_chart(judges=[("Amira", [40.0, 60.0, 60.0, 80.0]), ("Bob", []), ("Cal", [50.0, 50.0])])
    amira = str(spread.rows[0].svg)
    assert '<line x1="120.4" y1="10" x2="234.8" y2="10"' in amira  # lowest to highest, mid-row
    dots = re.findall(r'class="dot" cx="([\d.]+)" cy="([\d.]+)"', amira)
    # the two 60s are stacked (the second 3.6 pt higher), not drawn on top of each other
    assert dots == [("120.4", "10"), ("177.6", "10"), ("177.6", "6.4"), ("234.8", "10")]
    assert '<rect class="mean" x="176.7" y="3" width="1.8" height="14"' in amira  # 177.6 - 0.9
    assert (spread.rows[0].note, spread.rows[0].sub) == ("mean 60.0 · sd 14.1", "4 scored")
    assert spread.rows[1].note == "no submitted sheets" and 'class="dot"' not in str(spread.rows[1].svg)
    assert (spread.rows[2].note, spread.rows[2].sub) == ("mean 50.0 · sd 0.0", "2 scored, all alike (z = 0)")
    assert spread.axis_label == "Weighted total given by the judge (0–100)"
    assert [label for _, label in spread.legend] == ["one entrant’s weighted total", "the judge’s mean",
                                                     "lowest to highest total"]
