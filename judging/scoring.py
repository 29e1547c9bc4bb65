"""Pitch-night scoring maths: plain numbers in, plain numbers out (no database, no HTTP).

This module has the weighted totals, the z-scores, the audience share and `compute`, which puts every figure
together; ranking with the tie-break chain is judging.tie_breaks, Kendall's W judging.agreement, the small
statistics judging.statistics. The definitions of all of them are here, in one place.

Definitions (templates/judging/_method.html explains them in plain English on the results page):

Weighted total (one judge, one entrant), 0..100
    Each criterion score is put on 0..1 by its own scale, (value - min) / (max - min), multiplied by the
    criterion's weight, summed, divided by the sum of the weights and multiplied by 100. 0 means the
    lowest mark on every criterion, 100 the top mark on every one; a criterion weighted 30 counts twice as
    much as one weighted 15 whatever their scales.

Raw mean
    The mean of the weighted totals of the judges who scored the entrant. A judge who recused themselves
    from an entrant, or has not submitted a sheet for it, is left out of that entrant's mean: the mean is
    never pulled down by a missing score counted as zero.

Normalised (z) score
    Each judge's totals are standardised by that judge's own mean and population standard deviation over
    the entrants that judge scored: z = (total - mean) / sd. This takes out a judge's habit of marking
    high or low, and a wide or narrow range. A judge with zero spread (every total equal, which includes a
    judge who scored a single entrant) gives z = 0 to everyone they scored: they expressed no preference,
    so they neither help nor hurt anyone. The entrant's normalised score is the mean z over the judges who
    scored it.

Ties and the tie-break chain
    Entrants whose ranking values are equal (within 1e-9) are tied. The declared chain is applied in
    order, each rule only to the entrants still tied:
      "criterion:<key>"  higher mean raw score on that criterion (e.g. criterion:social_impact);
      "spread"           smaller standard deviation between the judges, measured on the ranking's own
                         values (weighted totals for the raw and combined rankings, z for the normalised);
      "chair"            the chair's casting decision: an explicit order of entrants given by the
                         organiser; entrants it does not list stay tied, after those it lists.
    Every tie records the rule that separated it (or "unresolved" when the whole chain could not), and
    entrants still tied after the chain share a rank (1, 2, 2, 4).

Kendall's W (agreement between judges), 0..1
    Over the complete block: the judges who scored at least one entrant, and the entrants every one of
    those judges scored. An entrant a judge recused from (or did not score) is excluded from W and the
    reason reported. Each judge's totals become ranks (ties get the mean of the ranks they span) and
    W = 12 S / (m^2 (n^3 - n) - m sum(T)), where S is the sum of squared deviations of the entrants' rank
    sums from their mean, m judges, n entrants, and T = sum(t^3 - t) over each judge's groups of t tied
    entrants (the tie correction).

Combined result (optional; weights fixed before scoring starts)
    combined = (100 - a)% x raw mean + a% x audience score, where a is the audience weight in percent and
    the audience score is 100 x votes / the most votes any entrant got (0 for everyone if nobody voted).
    The raw mean is used rather than z because it shares the audience score's 0..100 scale; z has none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from judging.agreement import Agreement, agreement
from judging.statistics import TOLERANCE, mean, pstdev
from judging.tie_breaks import CHAIR, CRITERION_PREFIX, SPREAD, Ranking, TieKey, rank, validate_chain

RAW, NORMALISED, COMBINED = "raw", "normalised", "combined"


@dataclass(frozen=True)
class CriterionSpec:
    id: int
    key: str
    name: str
    scale_min: int
    scale_max: int
    weight: float

    def __post_init__(self) -> None:
        if self.scale_max <= self.scale_min:
            raise ValueError(f"criterion {self.key!r}: the scale maximum must be above its minimum")
        if self.weight <= 0:
            raise ValueError(f"criterion {self.key!r}: the weight must be above zero")


@dataclass(frozen=True)
class Sheet:
    """One judge's submitted scores for one entrant: criterion id -> value on that criterion's scale."""

    judge: int
    entrant: int
    values: Mapping[int, float]


# --- A1: the weighted total ------------------------------------------------------------------------

def weighted_total(values: Mapping[int, float], criteria: Sequence[CriterionSpec]) -> float:
    """One sheet's weighted total on 0..100 (see the module docstring); every criterion must be scored."""
    if not criteria:
        raise ValueError("a rubric needs at least one criterion")
    missing = [c.key for c in criteria if values.get(c.id) is None]
    if missing:
        raise ValueError(f"scores missing for: {', '.join(missing)}")
    extra = set(values) - {c.id for c in criteria}
    if extra:
        raise ValueError(f"scores for criteria not in the rubric: {sorted(extra)}")
    weighted = 0.0
    for c in criteria:
        value = values[c.id]
        if not c.scale_min <= value <= c.scale_max:
            raise ValueError(f"{c.key}: {value} is outside {c.scale_min}..{c.scale_max}")
        weighted += c.weight * (value - c.scale_min) / (c.scale_max - c.scale_min)
    return 100.0 * weighted / math.fsum(c.weight for c in criteria)


# --- A2/A3: per-judge z-scores ---------------------------------------------------------------------

@dataclass(frozen=True)
class JudgeStats:
    judge: int
    scored: int
    mean: float
    sd: float

    @property
    def zero_spread(self) -> bool:
        """All this judge's totals are equal: z = 0 for everyone they scored."""
        return self.sd < TOLERANCE


def z_scores(totals: Mapping[tuple[int, int], float]) -> tuple[dict[tuple[int, int], float], dict[int, JudgeStats]]:
    """(z for each (judge, entrant) total, each judge's mean and sd): standardised per judge."""
    by_judge: dict[int, list[tuple[int, float]]] = {}
    for (judge, entrant), total in totals.items():
        by_judge.setdefault(judge, []).append((entrant, total))
    z: dict[tuple[int, int], float] = {}
    stats: dict[int, JudgeStats] = {}
    for judge, rows in by_judge.items():
        values = [t for _, t in rows]
        s = JudgeStats(judge, len(values), mean(values), pstdev(values))
        stats[judge] = s
        for entrant, total in rows:
            z[(judge, entrant)] = 0.0 if s.zero_spread else (total - s.mean) / s.sd
    return z, stats


# --- A7: the audience share ------------------------------------------------------------------------

def audience_scores(votes: Mapping[int, int]) -> dict[int, float]:
    """100 x votes / the most votes any entrant got; 0 for everyone when nobody voted."""
    top = max(votes.values(), default=0)
    return {e: (100.0 * v / top if top > 0 else 0.0) for e, v in votes.items()}


def combine(judge_score: float, audience_score: float, audience_percent: int) -> float:
    if not 0 <= audience_percent <= 100:
        raise ValueError("the audience weight must be 0 to 100 per cent")
    return ((100 - audience_percent) * judge_score + audience_percent * audience_score) / 100


# --- everything together ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EntrantResult:
    entrant: int
    judges: tuple[int, ...]  # who scored it (submitted)
    recused: tuple[int, ...]  # judges who declared a conflict
    missing: tuple[int, ...]  # judges on the panel with no submitted sheet and no recusal
    raw_mean: float | None
    raw_sd: float | None
    mean_z: float | None
    z_sd: float | None
    criterion_means: dict[str, float]
    audience_votes: int
    audience_score: float
    combined: float | None


@dataclass(frozen=True)
class Results:
    criteria: tuple[CriterionSpec, ...]
    totals: dict[tuple[int, int], float]  # (judge, entrant) -> weighted total
    z: dict[tuple[int, int], float]
    judge_stats: dict[int, JudgeStats]
    entrants: dict[int, EntrantResult]
    raw: Ranking
    normalised: Ranking
    combined: Ranking | None  # None when the audience weight is 0
    agreement: Agreement
    recusals: tuple[tuple[int, int], ...]
    unscored: tuple[int, ...]  # entrants no judge has scored: not ranked
    tie_break: tuple[str, ...]
    audience_percent: int


def compute(
    *,
    criteria: Sequence[CriterionSpec],
    entrants: Sequence[int],
    judges: Sequence[int],
    sheets: Iterable[Sheet],
    recusals: Iterable[tuple[int, int]] = (),
    tie_break: Sequence[str] = (),
    chair_order: Sequence[int] = (),
    audience_votes: Mapping[int, int] | None = None,
    audience_percent: int = 0,
) -> Results:
    """Every figure on the results page from submitted sheets; see the module docstring for the rules."""
    criteria = tuple(criteria)
    entrant_set, judge_set = set(entrants), set(judges)
    recused = {(j, e) for j, e in recusals if j in judge_set and e in entrant_set}
    problems = validate_chain(tie_break, [c.key for c in criteria])
    if not 0 <= audience_percent <= 100:
        problems.append("The audience weight must be 0 to 100 per cent.")
    if problems:
        raise ValueError(" ".join(problems))
    totals: dict[tuple[int, int], float] = {}
    values: dict[tuple[int, int], Mapping[int, float]] = {}
    for sheet in sheets:
        pair = (sheet.judge, sheet.entrant)
        if sheet.judge not in judge_set or sheet.entrant not in entrant_set:
            raise ValueError(f"sheet {pair} is for a judge or entrant outside this competition")
        if pair in recused:
            raise ValueError(f"judge {sheet.judge} recused from entrant {sheet.entrant} but has a sheet")
        if pair in totals:
            raise ValueError(f"two sheets for judge {sheet.judge} and entrant {sheet.entrant}")
        totals[pair] = weighted_total(sheet.values, criteria)
        values[pair] = sheet.values
    z, stats = z_scores(totals)

    votes = {e: int((audience_votes or {}).get(e, 0)) for e in entrants}
    audience = audience_scores(votes)
    results: dict[int, EntrantResult] = {}
    for e in entrants:
        scored_by = tuple(sorted(j for j in judge_set if (j, e) in totals))
        raw = [totals[(j, e)] for j in scored_by]
        zs = [z[(j, e)] for j in scored_by]
        raw_mean = mean(raw) if raw else None
        results[e] = EntrantResult(
            entrant=e,
            judges=scored_by,
            recused=tuple(sorted(j for j in judge_set if (j, e) in recused)),
            missing=tuple(sorted(j for j in judge_set if (j, e) not in totals and (j, e) not in recused)),
            raw_mean=raw_mean,
            raw_sd=pstdev(raw) if raw else None,
            mean_z=mean(zs) if zs else None,
            z_sd=pstdev(zs) if zs else None,
            criterion_means={c.key: mean([values[(j, e)][c.id] for j in scored_by]) for c in criteria}
            if scored_by else {},
            audience_votes=votes[e],
            audience_score=audience[e],
            combined=combine(raw_mean, audience[e], audience_percent) if raw_mean is not None else None,
        )
    ranked = [e for e in entrants if results[e].judges]
    chair_position = {e: i for i, e in enumerate(chair_order)}

    def keys_for(spread_of: Callable[[EntrantResult], float | None]) -> TieKey:
        def tie_key(rule: str, e: int) -> float | None:
            r = results[e]
            if rule == SPREAD:
                return spread_of(r)
            if rule == CHAIR:
                return chair_position.get(e)
            if rule.startswith(CRITERION_PREFIX):
                mean_value = r.criterion_means.get(rule[len(CRITERION_PREFIX):])
                return None if mean_value is None else -mean_value  # higher is better
            raise ValueError(f"unknown tie-break rule {rule!r}")

        return tie_key

    raw_ranking = rank({e: results[e].raw_mean for e in ranked}, tie_break, keys_for(lambda r: r.raw_sd), RAW)
    normalised = rank({e: results[e].mean_z for e in ranked}, tie_break, keys_for(lambda r: r.z_sd), NORMALISED)
    combined = None
    if audience_percent:
        combined = rank({e: results[e].combined for e in ranked}, tie_break, keys_for(lambda r: r.raw_sd),
                        COMBINED)
    return Results(
        criteria=criteria, totals=totals, z=z, judge_stats=stats, entrants=results,
        raw=raw_ranking, normalised=normalised, combined=combined,
        agreement=agreement(totals, judges, entrants, recused),
        recusals=tuple(sorted(recused)),
        unscored=tuple(e for e in entrants if not results[e].judges),
        tie_break=tuple(tie_break), audience_percent=audience_percent,
    )
