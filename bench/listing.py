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

from bench.common import BenchError, bench_command, emit, record, setting
from bench.databases import demo_database
from bench.load import Contender, Rounds, check_hello, get_load
from bench.servers import fetch, free_port, serve
from bench.wrk import ensure_wrk

TARGET_RATIO = 0.5


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


def main() -> None:
    duration = setting("DURATION", 5)
    runs = int(setting("RUNS", 5))
    connections = int(setting("CONNECTIONS", 64))
    threads = int(setting("THREADS", 2))
    warmup = setting("WARMUP", 3)
    ensure_wrk()

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db, \
            serve("denhub.app:app_factory", env=db.env, port=port, ready_path="/healthz") as app, \
            serve("bench.hello:app_factory", env=db.env) as hello:
        check_listing_page(app.url + "/")
        check_hello(hello)
        rounds = Rounds({
            "listing": Contender(app, get_load(app.url + "/", connections=connections, threads=threads)),
            "hello": Contender(hello, get_load(hello.url + "/", connections=connections, threads=threads)),
        })
        rounds.warm_up(warmup)
        rounds.alternate(runs, duration)
        # Still the real listing after the load (not an error page cached under load).
        check_listing_page(app.url + "/")

    listing, hello_ = rounds.median("listing"), rounds.median("hello")
    ratio = rounds.ratio("listing")
    emit("listing_rps", listing.rps, "req/s")
    emit("hello_rps", hello_.rps, "req/s")
    emit("listing_vs_hello", ratio, "ratio")

    how = (f"median of {runs} alternated wrk runs, -t{threads} -c{connections} -d{duration:g}s, "
           f"1 uvicorn worker each")
    command = bench_command("listing")
    record("listing_rps", listing.rps, "req/s", command,
           f"GET / signed out, SQLite demo programme; {how}; p50 {listing.p50_ms:.2f} ms, "
           f"p99 {listing.p99_ms:.2f} ms; server CPU {rounds.cpu('listing'):.0f} us/request", target="—")
    record("hello_rps", hello_.rps, "req/s", command,
           f"bare Starlette PlainTextResponse; {how}; p50 {hello_.p50_ms:.2f} ms, p99 {hello_.p99_ms:.2f} ms; "
           f"server CPU {rounds.cpu('hello'):.0f} us/request", target="—")
    record("listing_vs_hello", ratio, "ratio", command,
           f"median over {runs} back-to-back pairs of listing req/s / hello req/s"
           + rounds.cpu_ratio_note("listing"),
           target=f">= {TARGET_RATIO}")


if __name__ == "__main__":
    main()
