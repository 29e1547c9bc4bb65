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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import html
import os
import queue
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import (
    PROJECT_ROOT,
    BenchError,
    Server,
    WrkResult,
    _denhub_command,
    bench_command,
    clean_env,
    demo_database,
    emit,
    ensure_wrk,
    fetch,
    free_port,
    log,
    record,
    run_wrk,
    serve,
)

TARGET_RATIO = 0.1
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"
SALE_SLUG, WARMUP_SLUG = "flash-sale", "flash-warm-up"
WARMUP_CAPACITY, WARMUP_ATTEMPTS = 20, 100
HELLO_BEFORE_SECONDS = 3
WRK_TIMEOUT_SECONDS = 10  # an answer slower than this counts as a time-out (a failure)
SALE_DEADLINE_SECONDS = 120  # every answer must be in by then
OUTBOX_DEADLINE_SECONDS = 300


def _setting(name: str, default: int) -> int:
    raw = os.environ.get(f"BENCH_{name}")
    return int(raw) if raw else default


# --- the database ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sale:
    event_id: int
    type_id: int
    slug: str
    title: str
    capacity: int


async def _seed(url: str, capacity: int) -> dict[str, Sale]:
    """The sale event and the warm-up event, each with one free ticket type and no event-wide cap."""
    from kernel.db import Database, utcnow
    from events.models import Event, EventStatus
    from ticketing import services
    from ticketing.forms import TicketTypeInput

    db = Database(url)
    sales = {}
    try:
        async with db.write() as session:
            starts = utcnow() + dt.timedelta(days=14)
            for slug, title, seats in ((SALE_SLUG, "Flash sale: Bangla Month opening night", capacity),
                                       (WARMUP_SLUG, "Flash sale warm-up", WARMUP_CAPACITY)):
                event = Event(
                    slug=slug, title=title, summary="Free tickets, released all at once.", description="",
                    category="festival", venue_name="Soho House – Visitor Centre",
                    venue_address="Soho Avenue, Handsworth, Birmingham B18 5LB", starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=3), capacity=None, status=EventStatus.PUBLISHED.value,
                )
                session.add(event)
                await session.flush()
                data = TicketTypeInput(name="Free entry", description="", tier="free", price_pence=0,
                                       capacity=seats, sales_start=None, sales_end=None, max_per_order=10,
                                       position=0, is_active=True)
                ticket_type = await services.save_ticket_type(session=session, event_id=event.id, data=data)
                sales[slug] = Sale(event.id, ticket_type.id, slug, title, seats)
    finally:
        await db.dispose()
    return sales


@dataclasses.dataclass(frozen=True)
class Counts:
    tickets: int
    orders: int
    type_sold: int
    event_sold: int
    emails: int  # confirmation emails queued for this event
    emails_pending: int  # every email in the outbox not sent yet (any event)


async def _counts(url: str, sale: Sale) -> Counts:
    from sqlalchemy import func, select

    from kernel.db import Database
    from kernel.mail import PENDING, OutboxMessage
    from events.models import Event
    from ticketing.models import Order, Ticket, TicketType

    db = Database(url, pool_size=1)
    try:
        async with db.read() as s:
            tickets = await s.scalar(select(func.count(Ticket.id)).where(Ticket.event_id == sale.event_id))
            orders = await s.scalar(select(func.count(Order.id)).where(Order.event_id == sale.event_id))
            type_sold = await s.scalar(select(TicketType.sold).where(TicketType.id == sale.type_id))
            event_sold = await s.scalar(select(Event.tickets_sold).where(Event.id == sale.event_id))
            emails = await s.scalar(select(func.count(OutboxMessage.id))
                                    .where(OutboxMessage.subject == f"Your tickets: {sale.title}"))
            pending = await s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == PENDING))
    finally:
        await db.dispose()
    return Counts(tickets, orders, type_sold, event_sold, emails, pending)


def counts(url: str, sale: Sale) -> Counts:
    return asyncio.run(_counts(url, sale))


def wait_for_outbox(url: str, sale: Sale, deadline_s: float = OUTBOX_DEADLINE_SECONDS) -> float:
    """Seconds until every queued email was sent (the sender renders a PDF for each), or a BenchError."""
    started = time.monotonic()
    while True:
        pending = counts(url, sale).emails_pending
        if pending == 0:
            return time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            raise BenchError(f"{pending} emails were still unsent {deadline_s:g} s after the sale")
        time.sleep(0.25)


@dataclasses.dataclass(frozen=True)
class BenchDatabase:
    url: str
    env: dict[str, str]
    label: str  # for notes: "SQLite" or "PostgreSQL"


def _one_address() -> bool:
    return os.environ.get("BENCH_FLASH_ONE_ADDRESS", "0") not in ("", "0")


def _server_settings() -> dict[str, str]:
    # No SMTP: .eml files. Every attempt from one address only when asked (the limit lifted for it).
    return {"registration_limit": "1000000000", "smtp_url": ""} if _one_address() else {"smtp_url": ""}


@contextlib.contextmanager
def sqlite_database(port: int) -> Iterator[BenchDatabase]:
    with demo_database(base_url=f"http://127.0.0.1:{port}", demo=False, **_server_settings()) as db:
        yield BenchDatabase(db.url, db.env, "SQLite")


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    url = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_reachable(server_url: str) -> str | None:
    """None when PostgreSQL answers at `server_url`, else why not."""
    try:
        asyncio.run(_pg_admin(_admin_url(server_url), "SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "skip", with the reason shown
        return f"{type(exc).__name__}: {exc}"
    return None


def _database_url(server_url: str, database: str) -> str:
    """`server_url` (with or without a database in it) pointing at `database`."""
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _admin_url(server_url: str) -> str:
    return _database_url(server_url, "postgres")


@contextlib.contextmanager
def postgres_database(server_url: str, port: int) -> Iterator[BenchDatabase]:
    """A new database on the server, migrated, dropped at the end (also when the benchmark fails)."""
    name = f"denhub_bench_{secrets.token_hex(6)}"
    admin = _admin_url(server_url)
    asyncio.run(_pg_admin(admin, f'CREATE DATABASE "{name}"'))
    log(f"created PostgreSQL database {name}")
    try:
        with tempfile.TemporaryDirectory(prefix="denhub-bench-pg-") as tmp:
            url = _database_url(server_url, name)
            env = clean_env(
                DENHUB_DATABASE_URL=url, DENHUB_VAR_DIR=str(Path(tmp) / "var"), DENHUB_ENV="production",
                DENHUB_SECRET_KEY=secrets.token_urlsafe(36), DENHUB_BASE_URL=f"http://127.0.0.1:{port}",
                **{f"DENHUB_{k.upper()}": v for k, v in _server_settings().items()},
            )
            done = subprocess.run(_denhub_command() + ["db", "upgrade"], env=env, cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise BenchError(f"`denhub db upgrade` on {name} failed:\n{done.stdout}{done.stderr}")
            yield BenchDatabase(url, env, "PostgreSQL")
    finally:
        asyncio.run(_pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        log(f"dropped PostgreSQL database {name}")


# --- the page that gives the cookie and the CSRF token ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class Form:
    path: str
    cookie: str  # "denhub_session=..."
    fields: str  # urlencoded fields every attempt shares: csrf_token, type_0


def booking_form(server: Server, sale: Sale) -> Form:
    """GET the details step as a browser would after choosing one ticket on the event page."""
    url = f"{server.url}/events/{sale.slug}/register?qty_{sale.type_id}=1"
    page = fetch(url)
    if page.status != 200:
        raise BenchError(f"GET {url} answered {page.status}, not 200:\n{page.body[:2000]}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.body)
    type_field = re.search(r'name="type_0" value="(\d+)"', page.body)
    if not csrf or not type_field or not re.search(r'name="form_token"', page.body):
        raise BenchError(f"GET {url} has no booking form (csrf_token, form_token, type_0):\n{page.body[:2000]}")
    cookie = re.match(r"(denhub_session=[^;]+)", page.headers.get("set-cookie", ""))
    if not cookie:
        raise BenchError(f"GET {url} set no session cookie (headers: {page.headers})")
    # Both are URL-safe already (token_urlsafe, digits): no escaping needed in the body.
    token = html.unescape(csrf.group(1))
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise BenchError(f"unexpected CSRF token {token!r}")
    return Form(path=f"/events/{sale.slug}/register", cookie=cookie.group(1),
                fields=f"csrf_token={token}&type_0={type_field.group(1)}")


# --- wrk with an exact number of requests --------------------------------------------------------------

_SALE_LUA = r"""
-- Exactly ATTEMPTS registration attempts, shared between the wrk threads. Each thread gives out its
-- share in delay() (wrk calls it once before every request when the script defines it), parks a
-- connection for an hour once the share is given out, and stops when every answer is in.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } flash_timeval;
int gettimeofday(flash_timeval *tv, void *tz);
]]
local tv = ffi.new("flash_timeval")
local function now_us()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local ATTEMPTS, THREADS = @ATTEMPTS@, @THREADS@
local PATH, COOKIE, FIELDS, NONCE = "@PATH@", "@COOKIE@", "@FIELDS@", "@NONCE@"
local ONE_ADDRESS = @ONE_ADDRESS@
local PARK_MS = 3600000

-- Main state: number the threads and give each its share.
local threads = {}
function setup(thread)
  local i = #threads + 1
  threads[i] = thread
  thread:set("tid", i)
  local share = math.floor(ATTEMPTS / THREADS)
  if i <= ATTEMPTS % THREADS then share = share + 1 end
  thread:set("quota", share)
end

-- Thread state: globals, so that done() can read them with thread:get().
reserved, sent, received, first_us, last_us, sold_out_pages, finished = 0, 0, 0, 0, 0, 0, false
statuses = {}
local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = COOKIE}

function delay()
  if reserved < quota then
    reserved = reserved + 1
    return 0
  end
  return PARK_MS
end

function request()
  -- wrk calls request() once to check the script before any delay(): that call is not an attempt.
  local verifying = reserved == 0
  if not verifying then sent = sent + 1 end
  if first_us == 0 and not verifying then first_us = now_us() end
  local who = tid .. "-" .. (verifying and "check" or sent)
  local body = FIELDS .. "&form_token=flash-" .. NONCE .. "-" .. who .. "&name_0=Buyer+" .. who
    .. "&email=buyer-" .. who .. "%40example.org&organisation=&access_needs=&consent=on&website="
  if not ONE_ADDRESS then
    -- A visitor address per attempt, as a reverse proxy passes it on: 10.<thread>.<attempt / 256>.<attempt % 256>
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", tid, math.floor(sent / 256) % 256, sent % 256)
  end
  return wrk.format("POST", PATH, headers, body)
end

function response(status, hdrs, body)
  received = received + 1
  last_us = now_us()
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 409 and string.find(body, "sold out", 1, true) and string.find(body, "waiting list", 1, true) then
    sold_out_pages = sold_out_pages + 1
  end
  if received >= quota and not finished then
    finished = true
    io.stderr:write("FLASH_THREAD_DONE " .. tid .. "\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FLASH_WRK requests=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d "
    .. "max_us=%d\n", summary.requests, e.connect, e.read, e.write, e.timeout, latency:percentile(50),
    latency:percentile(99), latency.max))
  for _, t in ipairs(threads) do
    local parts = {}
    for k, v in pairs(t:get("statuses")) do parts[#parts + 1] = k .. ":" .. v end
    io.write(string.format("FLASH_THREAD tid=%d quota=%d sent=%d received=%d first_us=%.0f last_us=%.0f "
      .. "sold_out_pages=%d statuses=%s\n", t:get("tid"), t:get("quota"), t:get("sent"), t:get("received"),
      t:get("first_us"), t:get("last_us"), t:get("sold_out_pages"), table.concat(parts, ",")))
  end
end
"""


@dataclasses.dataclass(frozen=True)
class SaleRun:
    attempts: int
    sent: int
    received: int
    statuses: dict[int, int]
    sold_out_pages: int  # 409s with the sold-out message and the waiting-list link
    duration_s: float  # first request to last answer
    socket_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    command: str

    @property
    def rps(self) -> float:
        return self.received / self.duration_s if self.duration_s else 0.0

    @property
    def booked(self) -> int:
        return self.statuses.get(303, 0)

    def problems(self) -> list[str]:
        found = []
        if self.sent != self.attempts or self.received != self.attempts:
            found.append(f"wrk sent {self.sent} and got {self.received} answers, not {self.attempts} "
                         f"(no answer within {SALE_DEADLINE_SECONDS} s counts as a time-out)")
        others = {s: n for s, n in self.statuses.items() if s not in (303, 409)}
        if others:
            found.append("answers other than 303 booked / 409 sold out: "
                         + ", ".join(f"{n} x {s}" for s, n in sorted(others.items())))
        if self.statuses.get(409, 0) != self.sold_out_pages:
            found.append(f"{self.statuses.get(409, 0) - self.sold_out_pages} 409 answers were not the sold-out "
                         "page with the waiting-list link")
        if self.socket_errors or self.timeouts:
            found.append(f"{self.socket_errors} socket errors and {self.timeouts} time-outs "
                         f"(answers slower than {WRK_TIMEOUT_SECONDS} s)")
        return found

    @property
    def summary(self) -> str:
        status = ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items()))
        return (f"{self.received}/{self.attempts} answers in {self.duration_s:.2f} s = {self.rps:.0f} attempts/s "
                f"({status}); p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms")


def run_sale(server: Server, form: Form, *, attempts: int, connections: int, threads: int) -> SaleRun:
    """Send exactly `attempts` POSTs with wrk and wait for every answer (or the deadline)."""
    wrk = ensure_wrk()
    lua = _SALE_LUA
    for key, value in {"ATTEMPTS": attempts, "THREADS": threads, "PATH": form.path, "COOKIE": form.cookie,
                       "FIELDS": form.fields, "NONCE": secrets.token_hex(4),
                       "ONE_ADDRESS": "true" if _one_address() else "false"}.items():
        lua = lua.replace(f"@{key}@", str(value))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-flash-", delete=False) as script:
        script.write(lua)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{SALE_DEADLINE_SECONDS}s",
               f"--timeout={WRK_TIMEOUT_SECONDS}s", "-s", script.name, server.url + form.path]
    shown = " ".join(["wrk", *command[1:5], "-s", "flash_sale.lua", command[-1]])
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str | None] = queue.Queue()
        stdout: list[str] = []
        stderr: list[str] = []

        def read_stderr() -> None:
            for line in process.stderr:
                stderr.append(line)
                lines.put(line)
            lines.put(None)

        readers = [threading.Thread(target=read_stderr, daemon=True),
                   threading.Thread(target=lambda: stdout.append(process.stdout.read()), daemon=True)]
        for reader in readers:
            reader.start()
        finished: set[str] = set()
        deadline = time.monotonic() + SALE_DEADLINE_SECONDS + 10
        while len(finished) < threads and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break  # wrk exited (its -d ran out, or it failed)
            if line.startswith("FLASH_THREAD_DONE"):
                finished.add(line.split()[1])
        # wrk's main thread sleeps for the whole -d; SIGINT ends that sleep, and wrk then prints its
        # summary (our done()). A signal that lands on a worker thread just before it exits is not enough,
        # hence the repeats.
        for _ in range(50):
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
        else:
            process.kill()
            process.wait()
        for reader in readers:
            reader.join(timeout=10)
    finally:
        os.unlink(script.name)
    out = "".join(stdout)
    summary = re.search(r"^FLASH_WRK (.*)$", out, re.MULTILINE)
    per_thread = re.findall(r"^FLASH_THREAD (.*)$", out, re.MULTILINE)
    if not summary or len(per_thread) != threads:
        raise BenchError(f"`{shown}` failed (exit {process.returncode}):\n{out}{''.join(stderr)}")
    w = dict(pair.split("=") for pair in summary.group(1).split())
    statuses: dict[int, int] = {}
    sent = received = sold_out_pages = 0
    first, last = [], []
    for line in per_thread:
        t = dict(pair.split("=", 1) for pair in line.split())
        sent += int(t["sent"])
        received += int(t["received"])
        sold_out_pages += int(t["sold_out_pages"])
        if int(t["received"]):
            first.append(int(t["first_us"]))
            last.append(int(t["last_us"]))
        for item in filter(None, t["statuses"].split(",")):
            status, n = item.split(":")
            statuses[int(status)] = statuses.get(int(status), 0) + int(n)
    return SaleRun(
        attempts=attempts, sent=sent, received=received, statuses=statuses, sold_out_pages=sold_out_pages,
        duration_s=(max(last) - min(first)) / 1e6 if first else 0.0,
        socket_errors=int(w["connect"]) + int(w["read"]) + int(w["write"]), timeouts=int(w["timeout"]),
        p50_ms=int(w["p50_us"]) / 1000, p99_ms=int(w["p99_us"]) / 1000, max_ms=int(w["max_us"]) / 1000,
        command=shown,
    )


# --- one sale, start to finish ----------------------------------------------------------------------


def tree_cpu_seconds(server: Server) -> float:
    """CPU time of the server and its worker processes (uvicorn --workers forks them)."""
    total, pids = 0.0, [server.process.pid]
    while pids:
        pid = pids.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


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
    sales = asyncio.run(_seed(db.url, capacity))
    sale, warm = sales[SALE_SLUG], sales[WARMUP_SLUG]
    with serve("denhub.app:app_factory", env=db.env, port=port, workers=workers, ready_path="/healthz") as app, \
            serve("bench.hello:app_factory", env=clean_env()) as hello:
        def load_hello(seconds: float) -> WrkResult:
            result = run_wrk(hello.url + "/", connections=connections, threads=threads, duration=seconds).check()
            log(f"hello: {result.summary}")
            return result

        sale_form, warm_form = booking_form(app, sale), booking_form(app, warm)
        log(f"warming up: {WARMUP_ATTEMPTS} attempts for {WARMUP_CAPACITY} seats at /events/{warm.slug}")
        warm_run = run_sale(app, warm_form, attempts=WARMUP_ATTEMPTS, connections=connections, threads=threads)
        log(f"warm-up: {warm_run.summary}")
        if warm_run.problems() or warm_run.booked != WARMUP_CAPACITY:
            raise BenchError(f"the warm-up went wrong ({warm_run.booked} booked): {'; '.join(warm_run.problems())}")
        wait_for_outbox(db.url, warm)
        load_hello(2)  # warm-up
        hello_runs = [load_hello(HELLO_BEFORE_SECONDS)]

        log(f"flash sale: {attempts} attempts for {capacity} seats, -t{threads} -c{connections}, "
            f"{db.label}, {workers} uvicorn worker{'s' if workers > 1 else ''}")
        cpu = tree_cpu_seconds(app)
        run = run_sale(app, sale_form, attempts=attempts, connections=connections, threads=threads)
        cpu_us = (tree_cpu_seconds(app) - cpu) / max(run.received, 1) * 1e6
        log(f"sale: {run.summary}; server CPU {cpu_us:.0f} us/attempt")
        email_seconds = wait_for_outbox(db.url, sale)
        log(f"every confirmation email was sent {email_seconds:.1f} s after the sale")
        hello_runs.append(load_hello(max(2, round(run.duration_s))))
        if app.process.poll() is not None:
            raise BenchError(f"the server exited during the sale:\n{app.log_text()}")
    result = Outcome(label=db.label, workers=workers, sale=run, hello=hello_runs, counts=counts(db.url, sale),
                     capacity=capacity, cpu_us=cpu_us, email_seconds=email_seconds)
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
           + ("all from 127.0.0.1, registration limit lifted" if _one_address()
              else "each from its own address (X-Forwarded-For), default registration limit")
           + f"), {sale.rps:.0f} attempts/s over {sale.duration_s:.2f} s "
           f"(first request to last answer) ÷ hello {outcome.hello_rps:.0f} req/s (mean of {hello_note}, "
           f"before and after); p50 {sale.p50_ms:.0f} ms, p99 {sale.p99_ms:.0f} ms, max {sale.max_ms:.0f} ms; "
           f"server CPU {outcome.cpu_us:.0f} us/attempt; outbox sender on (PDF tickets as .eml), all "
           f"{c.emails} emails sent {outcome.email_seconds:.1f} s after the sale",
           target=f">= {target}" if target else "—")
    if target and outcome.ratio < target:
        log(f"{prefix}_vs_hello {outcome.ratio:.3f} is below the target {target}")
    return []


def main() -> None:
    connections = _setting("CONNECTIONS", 64)
    threads = _setting("THREADS", 2)
    attempts = _setting("FLASH_ATTEMPTS", 1000)
    capacity = _setting("FLASH_CAPACITY", 200)
    if attempts <= capacity:
        raise BenchError("a flash sale needs more attempts than seats")
    ensure_wrk()
    problems: list[str] = []
    options = dict(attempts=attempts, capacity=capacity, connections=connections, threads=threads)

    port = free_port()
    with sqlite_database(port) as db:
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
        with postgres_database(pg_url, port) as db:
            outcome = flash_sale(db, port, workers=2, **options)
        problems += [f"PostgreSQL: {p}" for p in report(outcome, "flash_sale_pg", connections=connections,
                                                         threads=threads, target=None)]
    if problems:
        raise BenchError("the flash sale failed:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
