"""Pitch-night scoring maths: plain numbers in, plain numbers out (no database, no HTTP).

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
from dataclasses import dataclass, field

TOLERANCE = 1e-9
SPREAD = "spread"
CHAIR = "chair"
CRITERION_PREFIX = "criterion:"
UNRESOLVED = "unresolved"
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


# --- small statistics ------------------------------------------------------------------------------

def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("the mean of nothing is undefined")
    return math.fsum(values) / len(values)


def pstdev(values: Sequence[float]) -> float:
    """Population standard deviation (divide by n): the spread of exactly these values."""
    mu = mean(values)
    return math.sqrt(math.fsum((v - mu) ** 2 for v in values) / len(values))


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


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


# --- A5: ranking with a tie-break chain ------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    entrant: int
    rank: int  # shared by entrants still tied after the whole chain (1, 2, 2, 4)
    value: float


@dataclass(frozen=True)
class TieBreak:
    """Entrants tied on `value` (and on every earlier rule), and the rule that separated them."""

    entrants: tuple[int, ...]
    value: float
    rule: str  # a chain rule, or UNRESOLVED when no rule in the chain separated them
    order: tuple[tuple[int, ...], ...]  # blocks after the rule, best first; one block when unresolved


@dataclass(frozen=True)
class Ranking:
    measure: str  # RAW, NORMALISED or COMBINED
    places: tuple[Place, ...]
    ties: tuple[TieBreak, ...]

    def rank_of(self, entrant: int) -> int | None:
        return next((p.rank for p in self.places if p.entrant == entrant), None)

    def tie_rules(self, entrant: int) -> list[str]:
        return [t.rule for t in self.ties if entrant in t.entrants]


# tie_key(rule, entrant) -> a number where SMALLER is better, or None when the rule has nothing to say.
TieKey = Callable[[str, int], float | None]


def _partition(group: Sequence[int], keys: Mapping[int, float | None]) -> list[list[int]]:
    """Blocks of entrants with equal keys, best (smallest) first; entrants without a key last, together."""
    known = sorted((e for e in group if keys[e] is not None), key=lambda e: (keys[e], e))
    blocks: list[list[int]] = []
    for e in known:
        if blocks and close(keys[blocks[-1][0]], keys[e]):  # type: ignore[arg-type]
            blocks[-1].append(e)
        else:
            blocks.append([e])
    unknown = sorted(e for e in group if keys[e] is None)
    if unknown:
        blocks.append(unknown)
    return blocks


def _break_tie(group: list[int], rules: Sequence[str], tie_key: TieKey, value: float,
               ties: list[TieBreak]) -> list[list[int]]:
    if len(group) == 1:
        return [group]
    for i, rule in enumerate(rules):
        blocks = _partition(group, {e: tie_key(rule, e) for e in group})
        if len(blocks) > 1:
            ties.append(TieBreak(tuple(sorted(group)), value, rule, tuple(tuple(b) for b in blocks)))
            resolved: list[list[int]] = []
            for block in blocks:
                resolved += _break_tie(block, rules[i + 1:], tie_key, value, ties)
            return resolved
    ties.append(TieBreak(tuple(sorted(group)), value, UNRESOLVED, (tuple(sorted(group)),)))
    return [group]


def rank(values: Mapping[int, float], chain: Sequence[str], tie_key: TieKey, measure: str) -> Ranking:
    """Highest value first; ties go through `chain` in order; what the chain cannot split shares a rank."""
    groups = _partition(list(values), {e: -v for e, v in values.items()})
    places: list[Place] = []
    ties: list[TieBreak] = []
    position = 1
    for group in groups:
        for block in _break_tie(group, list(chain), tie_key, values[group[0]], ties):
            places += [Place(e, position, values[e]) for e in sorted(block)]
            position += len(block)
    return Ranking(measure, tuple(places), tuple(ties))


def validate_chain(chain: Sequence[str], criterion_keys: Iterable[str]) -> list[str]:
    """Problems with a declared tie-break chain (empty when it is fine)."""
    keys = set(criterion_keys)
    problems = []
    for rule in chain:
        if rule in (SPREAD, CHAIR):
            continue
        if rule.startswith(CRITERION_PREFIX) and rule[len(CRITERION_PREFIX):] in keys:
            continue
        problems.append(f"“{rule}” is not a tie-break rule for this rubric.")
    if len(set(chain)) != len(chain):
        problems.append("Each tie-break rule can be used once.")
    return problems


def describe_rule(rule: str, criteria: Sequence[CriterionSpec] = ()) -> str:
    """The rule in the customer's words, for pages."""
    if rule == SPREAD:
        return "smaller spread (standard deviation) between judges"
    if rule == CHAIR:
        return "the chair’s casting decision"
    if rule == UNRESOLVED:
        return "still tied after every tie-break rule (they share the place)"
    if rule.startswith(CRITERION_PREFIX):
        key = rule[len(CRITERION_PREFIX):]
        name = next((c.name for c in criteria if c.key == key), key.replace("_", " "))
        return f"higher mean “{name}” score"
    return rule


# --- A6: Kendall's W -------------------------------------------------------------------------------

def average_ranks(values: Mapping[int, float]) -> tuple[dict[int, float], float]:
    """(rank of each key, highest value = 1, ties get the mean rank they span; sum of t^3 - t over ties)."""
    ordered = _partition(list(values), {k: -v for k, v in values.items()})
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
