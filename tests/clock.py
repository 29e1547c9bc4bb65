"""A clock for tests: time stands still until the test moves it, so nothing waits on the wall clock."""

from __future__ import annotations


class ManualClock:
    """Call it for the time in seconds (as time.time or time.monotonic answers); `advance` moves it on."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01 00:00 UTC
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
