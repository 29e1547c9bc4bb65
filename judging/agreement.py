"""Agreement between judges: Kendall's W over the complete block of judges and entrants, with every judge
and entrant left out and why (defined in judging.scoring's docstring); no database, no HTTP."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from judging.statistics import TOLERANCE
from judging.tie_breaks import partition


def average_ranks(values: Mapping[int, float]) -> tuple[dict[int, float], float]:
    """(rank of each key, highest value = 1, ties get the mean rank they span; sum of t^3 - t over ties)."""
    ordered = partition(list(values), {k: -v for k, v in values.items()})
    ranks: dict[int, float] = {}
    correction = 0.0
    start = 1
    for block in ordered:
        t = len(block)
        for k in block:
            ranks[k] = start + (t - 1) / 2
        correction += t ** 3 - t
        start += t
    return ranks, correction


@dataclass(frozen=True)
class Exclusion:
    """Why an entrant is left out of Kendall's W: the judges who recused, and those with no score for it."""

    recused_by: tuple[int, ...] = ()
    not_scored_by: tuple[int, ...] = ()

    def __str__(self) -> str:
        parts = []
        if self.recused_by:
            parts.append("recusal by judge " + ", ".join(map(str, self.recused_by)))
        if self.not_scored_by:
            parts.append("no score from judge " + ", ".join(map(str, self.not_scored_by)))
        return "; ".join(parts)


@dataclass(frozen=True)
class Agreement:
    w: float | None  # None when it cannot be computed (reason says why)
    judges: tuple[int, ...]
    entrants: tuple[int, ...]
    excluded_entrants: dict[int, Exclusion] = field(default_factory=dict)
    excluded_judges: tuple[int, ...] = ()  # on the panel but scored none of these entrants
    reason: str = ""

    @property
    def interpretation(self) -> str:
        return interpret_w(self.w) if self.w is not None else self.reason


def kendalls_w(table: Mapping[int, Mapping[int, float]]) -> float | None:
    """W for a complete table judge -> entrant -> total (every judge scored the same entrants).

    None when every judge tied every entrant (W is 0/0)."""
    judges = list(table)
    entrants = sorted(next(iter(table.values()))) if judges else []
    m, n = len(judges), len(entrants)
    if m < 2 or n < 2:
        raise ValueError("Kendall's W needs at least two judges and two entrants")
    sums = dict.fromkeys(entrants, 0.0)
    ties = 0.0
    for judge in judges:
        if sorted(table[judge]) != entrants:
            raise ValueError("Kendall's W needs every judge to score the same entrants")
        ranks, correction = average_ranks(table[judge])
        ties += correction
        for e in entrants:
            sums[e] += ranks[e]
    mean_sum = m * (n + 1) / 2
    s = math.fsum((r - mean_sum) ** 2 for r in sums.values())
    denominator = m * m * (n ** 3 - n) - m * ties
    if denominator <= TOLERANCE:
        return None
    return 12 * s / denominator


def agreement(totals: Mapping[tuple[int, int], float], judges: Iterable[int], entrants: Iterable[int],
              recusals: Iterable[tuple[int, int]] = ()) -> Agreement:
    """Kendall's W over the complete block, reporting every judge and entrant left out and why."""
    recused = set(recusals)
    judges, entrants = sorted(set(judges)), sorted(set(entrants))
    excluded_judges = tuple(j for j in judges if not any((j, e) in totals for e in entrants))
    panel = [j for j in judges if j not in excluded_judges]
    excluded_entrants: dict[int, Exclusion] = {}
    block: list[int] = []
    for e in entrants:
        recused_by = tuple(j for j in panel if (j, e) in recused)
        missing = tuple(j for j in panel if (j, e) not in totals and (j, e) not in recused)
        if recused_by or missing:
            excluded_entrants[e] = Exclusion(recused_by, missing)
        else:
            block.append(e)
    base = {"judges": tuple(panel), "entrants": tuple(block), "excluded_entrants": excluded_entrants,
            "excluded_judges": excluded_judges}
    if len(panel) < 2:
        return Agreement(None, **base, reason="Needs at least two judges with scores.")
    if len(block) < 2:
        return Agreement(None, **base, reason="Needs at least two entrants scored by every judge.")
    w = kendalls_w({j: {e: totals[(j, e)] for e in block} for j in panel})
    if w is None:
        return Agreement(None, **base, reason="Every judge gave every entrant the same total: no ranking to "
                                              "agree on.")
    return Agreement(w, **base)


def interpret_w(w: float) -> str:
    """A one-line reading of W (bands after Schmidt, 1997)."""
    if w < 0.1:
        band = "very weak: the judges ranked the entrants almost independently of each other"
    elif w < 0.3:
        band = "weak: the judges agreed a little"
    elif w < 0.5:
        band = "moderate: the judges broadly agreed, with notable differences"
    elif w < 0.7:
        band = "strong: the judges mostly agreed on the order"
    else:
        band = "very strong: the judges ranked the entrants in nearly the same order"
    return f"W = {w:.2f}, {band}."
