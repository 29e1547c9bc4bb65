"""Flash sale: 1,000 registration attempts over 64 connections for 200 free seats, against a bare hello.

Measures
  flash_sale_vs_hello     registration attempts/s (POST /events/<slug>/register, SQLite, 1 uvicorn worker)
                          ÷ hello req/s measured with the same connections in the same run; target >= 0.1
  flash_sale_oversold     tickets in the database beyond the capacity; target 0 (fewer than the capacity
                          sold is a failure too, not a 0)
  flash_sale_pg_vs_hello  the same sale on PostgreSQL with 2 uvicorn workers (skipped with a message when
  flash_sale_pg_oversold  PostgreSQL is not reachable)

How it runs. A fresh database (SQLite in a temporary directory; on PostgreSQL a new database
denhub_bench_<random>, dropped afterwards), migrated with `denhub db upgrade`, gets two published events,
each with one free ticket type and no event-wide cap: "flash-sale" with 200 seats and "flash-warm-up" with
20. denhub runs in production mode (random secret key) with its default per-address registration limit
and DENHUB_SMTP_URL empty, so the outbox sender writes each confirmation email,
PDF tickets attached, as an .eml file. The sender runs in the server as it does in production, on the same
cores as the requests: whatever it does during the sale is part of the figure. (Booking attempts ask it to
hold off, kernel.mail.hold_off, so its PDFs wait for the rush to pause; the notes give how long after the
sale the last of its 200 emails went.) A GET of each event's details page (urllib) gives the session cookie
and the CSRF token.

wrk (-t2 -c64) then sends exactly the attempts asked for: a Lua script builds every POST with a unique
form_token, from a visitor address of its own (X-Forwarded-For, as the reverse proxy in front of denhub
sends it: a sale is many people, each booking once; uvicorn trusts the header from 127.0.0.1 by default, as
`denhub serve` does), and each wrk thread hands out its share of the attempts from its `delay()` hook (one call
before every request), parks its connections once the share is given out, and stops itself when every
answer is in. wrk has no request cap and always sleeps its whole -d, so the script times the sale itself
(first request to last answer, LuaJIT ffi gettimeofday) and the harness interrupts wrk once every thread
has reported. 100 attempts at the warm-up event (20 seats) come first, and the harness waits until their
emails are sent, so the sale meets a warm server with an empty outbox.

Every answer must be 303 (booked) or 409 with the sold-out page (which links to the waiting list); any
other status, socket error, time-out or missing answer fails the benchmark. Afterwards the database must
hold exactly 200 tickets, 200 orders, ticket_type.sold == 200, event.tickets_sold == 200 and 200 queued
confirmation emails, and exactly 200 answers must have been 303.

Hello (bench/hello.py, GET /) is loaded with the same wrk threads and connections just before the sale
(3 s) and again after it (as long as the sale took, at least 2 s) once the sale's emails are sent; the
ratio uses the mean of the two.

Settings (environment, for quick looks; a run with other values says so in its BENCHMARKS.md notes):
  BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_FLASH_ATTEMPTS (1000), BENCH_FLASH_CAPACITY (200),
  BENCH_POSTGRES_URL (postgresql+asyncpg://postgres@127.0.0.1:5432; "off" skips PostgreSQL),
  BENCH_FLASH_ONE_ADDRESS (0; 1 sends every attempt from 127.0.0.1 with the registration limit lifted, as
  this benchmark did until 2026-11-25: each attempt then counts the one address's bookings so far).

The attempts (the booking form, wrk and its Lua script) are in bench/flash_sale_attempts.py; the two events
and the database's figures afterwards in bench/flash_sale_data.py.
"""

from __future__ import annotations

import dataclasses
import os

from bench.common import BenchError, bench_command, emit, log, record, setting
from bench.databases import BenchDatabase, demo_database, postgres_database, postgres_reachable
from bench.flash_sale_attempts import SaleRun, booking_form, run_sale
from bench.flash_sale_data import (
    SALE_SLUG,
    WARMUP_CAPACITY,
    WARMUP_SLUG,
    Counts,
    counts,
    seed,
    wait_for_outbox,
)
from bench.load import Contender, Rounds, get_load
from bench.servers import clean_env, free_port, serve
from bench.wrk import WrkResult, ensure_wrk

TARGET_RATIO = 0.1
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"
WARMUP_ATTEMPTS = 100
HELLO_BEFORE_SECONDS = 3


def one_address() -> bool:
    return os.environ.get("BENCH_FLASH_ONE_ADDRESS", "0") not in ("", "0")


def server_settings() -> dict[str, str]:
    # No SMTP: .eml files. Every attempt from one address only when asked (the limit lifted for it).
    return {"registration_limit": "1000000000", "smtp_url": ""} if one_address() else {"smtp_url": ""}


# --- one sale, start to finish ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    label: str
    workers: int
    sale: SaleRun
    hello: list[WrkResult]
    counts: Counts
    capacity: int
    cpu_us: float  # server CPU per attempt during the sale (all workers)
    email_seconds: float  # after the sale, until every confirmation email was sent

    @property
    def hello_rps(self) -> float:
        return sum(r.rps for r in self.hello) / len(self.hello)

    @property
    def ratio(self) -> float:
        return self.sale.rps / self.hello_rps

    @property
    def oversold(self) -> int:
        return max(0, self.counts.tickets - self.capacity)

    def problems(self) -> list[str]:
        found = list(self.sale.problems())
        c, cap = self.counts, self.capacity
        if c.tickets < cap:
            found.append(f"only {c.tickets} tickets were sold for {cap} seats with {self.sale.attempts} attempts")
        if c.tickets > cap:
            found.append(f"OVERSOLD: {c.tickets} tickets for {cap} seats")
        if not c.tickets == c.orders == c.type_sold == c.event_sold == c.emails == self.sale.booked:
            found.append(f"the figures disagree: {c.tickets} tickets, {c.orders} orders, ticket_type.sold "
                         f"{c.type_sold}, event.tickets_sold {c.event_sold}, {c.emails} confirmation emails, "
                         f"{self.sale.booked} answers 303 booked")
        return found


def flash_sale(db: BenchDatabase, port: int, *, workers: int, attempts: int, capacity: int, connections: int,
               threads: int) -> Outcome:
    sales = seed(db.url, capacity)
    sale, warm = sales[SALE_SLUG], sales[WARMUP_SLUG]
    with serve("denhub.app:app_factory", env=db.env, port=port, workers=workers, ready_path="/healthz") as app, \
            serve("bench.hello:app_factory", env=clean_env()) as hello:
        rounds = Rounds({"hello": Contender(hello, get_load(hello.url + "/", connections=connections,
                                                            threads=threads))})
        sale_form, warm_form = booking_form(app, sale), booking_form(app, warm)
        log(f"warming up: {WARMUP_ATTEMPTS} attempts for {WARMUP_CAPACITY} seats at /events/{warm.slug}")
        warm_run = run_sale(app, warm_form, attempts=WARMUP_ATTEMPTS, connections=connections, threads=threads,
                            one_address=one_address())
        log(f"warm-up: {warm_run.summary}")
        if warm_run.problems() or warm_run.booked != WARMUP_CAPACITY:
            raise BenchError(f"the warm-up went wrong ({warm_run.booked} booked): {'; '.join(warm_run.problems())}")
        wait_for_outbox(db.url, warm)
        rounds.warm_up(2)
        rounds.run("hello", HELLO_BEFORE_SECONDS)

        log(f"flash sale: {attempts} attempts for {capacity} seats, -t{threads} -c{connections}, "
            f"{db.label}, {workers} uvicorn worker{'s' if workers > 1 else ''}")
        cpu = app.tree_cpu_seconds()
        run = run_sale(app, sale_form, attempts=attempts, connections=connections, threads=threads,
                       one_address=one_address())
        cpu_us = (app.tree_cpu_seconds() - cpu) / max(run.received, 1) * 1e6
        log(f"sale: {run.summary}; server CPU {cpu_us:.0f} us/attempt")
        email_seconds = wait_for_outbox(db.url, sale)
        log(f"every confirmation email was sent {email_seconds:.1f} s after the sale")
        rounds.run("hello", max(2, round(run.duration_s)))
        if app.process.poll() is not None:
            raise BenchError(f"the server exited during the sale:\n{app.log_text()}")
    result = Outcome(label=db.label, workers=workers, sale=run, hello=rounds.results["hello"],
                     counts=counts(db.url, sale), capacity=capacity, cpu_us=cpu_us, email_seconds=email_seconds)
    log(f"database: {result.counts}")
    return result


def report(outcome: Outcome, prefix: str, *, connections: int, threads: int, target: float | None) -> list[str]:
    """Emit and record the figures; returns the problems (the caller fails after the other parts ran)."""
    problems = outcome.problems()
    command = bench_command("flash_sale")
    sale, c = outcome.sale, outcome.counts
    where = f"{outcome.label}, {outcome.workers} uvicorn worker{'s' if outcome.workers > 1 else ''}"
    if c.tickets >= outcome.capacity:
        emit(f"{prefix}_oversold", outcome.oversold, "tickets")
        record(f"{prefix}_oversold", outcome.oversold, "tickets", command,
               f"{where}: {c.tickets} tickets, {c.orders} orders, ticket_type.sold {c.type_sold} for "
               f"{outcome.capacity} seats after {sale.attempts} attempts; "
               + ", ".join(f"{n} x {s}" for s, n in sorted(sale.statuses.items())), target="0")
    if problems:
        return problems
    emit(f"{prefix}_vs_hello", outcome.ratio, "ratio")
    hello_note = " and ".join(f"{r.rps:.0f}" for r in outcome.hello)
    record(f"{prefix}_vs_hello", outcome.ratio, "ratio", command,
           f"{where}: {sale.attempts} attempts for {outcome.capacity} free seats, wrk -t{threads} -c{connections} "
           f"(exactly {sale.attempts} requests, "
           + ("all from 127.0.0.1, registration limit lifted" if one_address()
              else "each from its own address (X-Forwarded-For), default registration limit")
           + f"), {sale.rps:.0f} attempts/s over {sale.duration_s:.2f} s "
           f"(first request to last answer) ÷ hello {outcome.hello_rps:.0f} req/s (mean of {hello_note}, "
           f"before and after); p50 {sale.p50_ms:.0f} ms, p99 {sale.p99_ms:.0f} ms, max {sale.max_ms:.0f} ms; "
           f"server CPU {outcome.cpu_us:.0f} us/attempt; outbox sender on (PDF tickets as .eml), all "
           f"{c.emails} emails sent {outcome.email_seconds:.1f} s after the sale",
           target=f">= {target}" if target else "—")
    return []


def main() -> None:
    connections = int(setting("CONNECTIONS", 64))
    threads = int(setting("THREADS", 2))
    attempts = int(setting("FLASH_ATTEMPTS", 1000))
    capacity = int(setting("FLASH_CAPACITY", 200))
    if attempts <= capacity:
        raise BenchError("a flash sale needs more attempts than seats")
    ensure_wrk()
    problems: list[str] = []
    options = {"attempts": attempts, "capacity": capacity, "connections": connections, "threads": threads}

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}", demo=False, **server_settings()) as db:
        outcome = flash_sale(db, port, workers=1, **options)
    problems += [f"SQLite: {p}" for p in report(outcome, "flash_sale", connections=connections, threads=threads,
                                                 target=TARGET_RATIO)]

    pg_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    why_not = "BENCH_POSTGRES_URL=off" if pg_url == "off" else postgres_reachable(pg_url)
    if why_not:
        log(f"PostgreSQL is not reachable at {pg_url} ({why_not}): skipping flash_sale_pg_* "
            "(set BENCH_POSTGRES_URL to a server where the user may CREATE DATABASE)")
    else:
        port = free_port()
        with postgres_database(pg_url, base_url=f"http://127.0.0.1:{port}", **server_settings()) as db:
            outcome = flash_sale(db, port, workers=2, **options)
        problems += [f"PostgreSQL: {p}" for p in report(outcome, "flash_sale_pg", connections=connections,
                                                         threads=threads, target=None)]
    if problems:
        raise BenchError("the flash sale failed:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
