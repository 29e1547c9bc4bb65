"""Small descriptive statistics for the scoring maths (judging.scoring, judging.tie_breaks,
judging.agreement, judging.charts): plain numbers in, plain numbers out."""

from __future__ import annotations

import math
from collections.abc import Sequence

TOLERANCE = 1e-9  # two values closer than this are equal (ties)


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
