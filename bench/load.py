"""Runs of wrk against servers side by side, and the figures drawn from them.

A benchmark names its contenders (a server and how to load it for so many seconds) and lets Rounds run them:
each warmed up, then in back-to-back pairs whose order alternates (A B, B A, A B, ...) so that drift in
the machine's speed falls on both. Every run is logged with the server CPU it cost per request, which
moves far less than req/s when the machine is busy. The yardstick is bench/hello.py: ratios against it,
measured in the same run, cancel out the machine, the server and the load generator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bench.common import BenchError, log, median
from bench.servers import Server, fetch
from bench.wrk import WrkResult, median_result, run_wrk


@dataclasses.dataclass(frozen=True)
class Contender:
    server: Server
    load: Callable[[float], WrkResult]  # one checked wrk run of so many seconds against the server


def get_load(url: str, *, connections: int, threads: int) -> Callable[[float], WrkResult]:
    """GETs of `url` with wrk, failing on any error answer (the yardstick's load, and the listing's)."""
    return lambda seconds: run_wrk(url, connections=connections, threads=threads, duration=seconds).check()


def check_hello(server: Server) -> None:
    """The yardstick answers what it should: 200 "hello"."""
    url = server.url + "/"
    page = fetch(url)
    if page.status != 200 or page.body != "hello":
        raise BenchError(f"GET {url} answered {page.status} {page.body[:200]!r}, not 200 'hello'")


class Rounds:
    """The runs of each contender that count, with the server CPU per request of each."""

    def __init__(self, contenders: dict[str, Contender]) -> None:
        self.contenders = contenders
        self.results: dict[str, list[WrkResult]] = {name: [] for name in contenders}
        self.cpu_us: dict[str, list[float]] = {name: [] for name in contenders}

    def run(self, name: str, seconds: float, *, counts: bool = True) -> WrkResult:
        """One run of `name`'s load; kept among the results unless `counts` is False (a warm-up)."""
        contender = self.contenders[name]
        cpu = contender.server.cpu_seconds()
        result = contender.load(seconds)
        cpu_us = (contender.server.cpu_seconds() - cpu) / result.requests * 1e6
        log(f"{name}: {result.summary}; server CPU {cpu_us:.0f} us/request")
        if counts:
            self.results[name].append(result)
            self.cpu_us[name].append(cpu_us)
        return result

    def warm_up(self, seconds: float) -> None:
        for name in self.contenders:
            log(f"warming up {name} ({seconds:g} s)")
            self.run(name, seconds, counts=False)

    def alternate(self, runs: int, seconds: float) -> None:
        """`runs` rounds of every contender, back to back, the order reversed every other round."""
        names = list(self.contenders)
        for i in range(runs):
            log(f"{'pair' if len(names) == 2 else 'round'} {i + 1}/{runs}")
            for name in names if i % 2 == 0 else reversed(names):
                self.run(name, seconds)

    def median(self, name: str) -> WrkResult:
        """The run of `name` with the median req/s."""
        return median_result(self.results[name])

    def median_p99_ms(self, name: str) -> float:
        return median([r.p99_ms for r in self.results[name]])

    def ratio(self, name: str, yardstick: str = "hello") -> float:
        """Median over the rounds of `name` req/s / `yardstick` req/s. Each round ran back to back, so a burst
        of other work on the machine mostly hits both; the median of the ratios is steadier than the ratio
        of the medians."""
        return median([a.rps / b.rps for a, b in zip(self.results[name], self.results[yardstick], strict=True)])

    def cpu(self, name: str) -> float:
        """Median server CPU per request of `name`'s runs, in microseconds."""
        return median(self.cpu_us[name])

    def cpu_ratio_note(self, name: str, yardstick: str = "hello") -> str:
        """"; CPU-time ratio 0.25" (`yardstick`'s CPU per request over `name`'s), or "" without figures."""
        return f"; CPU-time ratio {self.cpu(yardstick) / self.cpu(name):.2f}" if self.cpu(name) else ""
