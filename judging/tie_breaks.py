"""Ranking with a tie-break chain: highest value first, ties split by the declared rules in order, what
the chain cannot split sharing a rank. The rules ("criterion:<key>", "spread", "chair") are defined in
judging.scoring's docstring, with the rest of the maths; no database, no HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from judging.statistics import close

SPREAD = "spread"
CHAIR = "chair"
CRITERION_PREFIX = "criterion:"
UNRESOLVED = "unresolved"


class NamedCriterion(Protocol):
    """What describe_rule reads of a criterion (judging.scoring.CriterionSpec, judging.models.Criterion)."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...


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


def partition(group: Sequence[int], keys: Mapping[int, float | None]) -> list[list[int]]:
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
        blocks = partition(group, {e: tie_key(rule, e) for e in group})
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
    groups = partition(list(values), {e: -v for e, v in values.items()})
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


def describe_rule(rule: str, criteria: Sequence[NamedCriterion] = ()) -> str:
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
