"""The public listing (GET /, signed out) against a bare Starlette hello, both served the same way.

Measures
  listing_rps       requests/s for GET / on denhub with the demo programme (SQLite, 1 uvicorn worker)
  hello_rps         requests/s for GET / on bench/hello.py (same uvicorn flags, 1 worker), same run
  listing_vs_hello  listing req/s / hello req/s (median over the pairs of runs); target >= 0.5

Both servers run side by side; wrk loads one at a time, in back-to-back pairs whose order alternates
(L H, H L, L H, ...) so that drift in the machine's speed falls on both. listing_rps and hello_rps are the
medians of the runs; listing_vs_hello is the median of the pairs' ratios. The notes in BENCHMARKS.md also
give each server's CPU time per request, which moves far less than req/s when the machine is busy.

Settings (environment, for quick looks; a run with other values says so in its BENCHMARKS.md notes):
  BENCH_DURATION (5 s), BENCH_RUNS (5 pairs), BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_WARMUP (3 s).
"""

from __future__ import annotations

import datetime as dt
import html
import os

from bench.common import (
    BenchError,
    WrkResult,
    bench_command,
    demo_database,
    emit,
    ensure_wrk,
    fetch,
    free_port,
    log,
    median,
    median_result,
    record,
    run_wrk,
    serve,
)

TARGET_RATIO = 0.5


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(f"BENCH_{name}")
    return float(raw) if raw else default


def check_listing_page(url: str) -> None:
    """The page under load must be the real listing: 200, a demo event on it, the security headers."""
    from denhub.demo import programme

    page = fetch(url)
    if page.status != 200:
        raise BenchError(f"GET {url} answered {page.status}, not 200:\n{page.body[:2000]}")
    titles = [event["title"] for event in programme(dt.datetime.now(dt.UTC))]
    if not any(html.escape(t) in page.body or t in page.body for t in titles):
        raise BenchError(f"GET {url} has none of the demo events on it ({', '.join(titles)}):\n"
                         f"{page.body[:2000]}")
    if "content-security-policy" not in page.headers:
        raise BenchError(f"GET {url} has no Content-Security-Policy header: not the page as served")


def check_hello_page(url: str) -> None:
    page = fetch(url)
    if page.status != 200 or page.body != "hello":
        raise BenchError(f"GET {url} answered {page.status} {page.body[:200]!r}, not 200 'hello'")


def main() -> None:
    duration = _setting("DURATION", 5)
    runs = int(_setting("RUNS", 5))
    connections = int(_setting("CONNECTIONS", 64))
    threads = int(_setting("THREADS", 2))
    warmup = _setting("WARMUP", 3)
    ensure_wrk()

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db, \
            serve("denhub.app:app_factory", env=db.env, port=port, ready_path="/healthz") as app, \
            serve("bench.hello:app_factory", env=db.env) as hello:
        servers = {"listing": app, "hello": hello}
        check_listing_page(app.url + "/")
        check_hello_page(hello.url + "/")

        cpu_per_request: dict[str, list[float]] = {name: [] for name in servers}

        def load(name: str, seconds: float) -> WrkResult:
            server = servers[name]
            cpu = server.cpu_seconds()
            result = run_wrk(server.url + "/", connections=connections, threads=threads, duration=seconds)
            result.check()
            cpu_us = (server.cpu_seconds() - cpu) / result.requests * 1e6
            log(f"{name}: {result.summary}; server CPU {cpu_us:.0f} us/request")
            cpu_per_request[name].append(cpu_us)
            return result

        for name in servers:
            log(f"warming up {name} ({warmup:g} s)")
            load(name, warmup)
            cpu_per_request[name].clear()

        results: dict[str, list[WrkResult]] = {name: [] for name in servers}
        for i in range(runs):
            order = ("listing", "hello") if i % 2 == 0 else ("hello", "listing")
            log(f"pair {i + 1}/{runs}")
            for name in order:
                results[name].append(load(name, duration))

        # Still the real listing after the load (not an error page cached under load).
        check_listing_page(app.url + "/")

    listing, hello_ = median_result(results["listing"]), median_result(results["hello"])
    # Each pair ran back to back, so a burst of other work on the machine mostly hits both halves of a
    # pair; the median of the pairs' ratios is steadier than the ratio of the two medians.
    ratio = median([lst.rps / hel.rps for lst, hel in zip(results["listing"], results["hello"])])
    cpu_us = {name: median(values) for name, values in cpu_per_request.items()}
    emit("listing_rps", listing.rps, "req/s")
    emit("hello_rps", hello_.rps, "req/s")
    emit("listing_vs_hello", ratio, "ratio")

    how = (f"median of {runs} alternated wrk runs, -t{threads} -c{connections} -d{duration:g}s, "
           f"1 uvicorn worker each")
    command = bench_command("listing")
    record("listing_rps", listing.rps, "req/s", command,
           f"GET / signed out, SQLite demo programme; {how}; p50 {listing.p50_ms:.2f} ms, "
           f"p99 {listing.p99_ms:.2f} ms; server CPU {cpu_us['listing']:.0f} us/request", target="—")
    record("hello_rps", hello_.rps, "req/s", command,
           f"bare Starlette PlainTextResponse; {how}; p50 {hello_.p50_ms:.2f} ms, p99 {hello_.p99_ms:.2f} ms; "
           f"server CPU {cpu_us['hello']:.0f} us/request", target="—")
    record("listing_vs_hello", ratio, "ratio", command,
           f"median over {runs} back-to-back pairs of listing req/s / hello req/s"
           + (f"; CPU-time ratio {cpu_us['hello'] / cpu_us['listing']:.2f}" if cpu_us["listing"] else ""),
           target=f">= {TARGET_RATIO}")
    if ratio < TARGET_RATIO:
        log(f"listing_vs_hello {ratio:.3f} is below the target {TARGET_RATIO}")


if __name__ == "__main__":
    main()
