"""Door check-in under load: JSON scans (POST /door/events/{id}/scan) against a bare Starlette hello.

Measures
  checkin_rps       scans/s on denhub (SQLite, 1 uvicorn worker), a door staff session scanning an event of
                    2,000 tickets: 60% first scans of valid tickets, 30% duplicates, 10% forged QR codes
                    (every ticket is un-checked-in again before each run; a run that gets through all
                    2,000 first scans goes round again, as duplicates)
  checkin_p99_ms    99th percentile latency of those scans under 32 connections; target <= 50 ms
  checkin_hello_rps requests/s for GET / on bench/hello.py, same connections, same run (printed only; the
                    hello_rps row in BENCHMARKS.md is bench/listing.py's, at 64 connections)
  checkin_vs_hello  checkin req/s / hello req/s (median over the pairs of runs); target >= 0.15

Every scan is a write (the check-in row, and the ticket's first admission): this is the door's hot path when
a queue of people reaches the gate, or phones come back online with their offline queues. Each request
carries a unique client_scan_id, as the scanner sends it. The session cookie and CSRF token come from
signing in through the login form and opening the scanner page, as a phone does.

As in bench/listing.py, wrk loads one server at a time in back-to-back pairs whose order alternates.
Settings (environment): BENCH_DURATION (5 s), BENCH_RUNS (3 pairs), BENCH_CONNECTIONS (32),
BENCH_THREADS (2), BENCH_WARMUP (2 s), BENCH_CHECKIN_TICKETS (2000).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.cookiejar
import json
import os
import re
import secrets
import urllib.parse
import urllib.request
import uuid

from bench.common import (
    BenchError,
    WrkResult,
    bench_command,
    demo_database,
    emit,
    ensure_wrk,
    free_port,
    log,
    median,
    median_result,
    record,
    run_wrk,
    serve,
)

TARGET_P99_MS = 50.0
TARGET_RATIO = 0.15
STAFF_EMAIL = "bench.door@example.org"
STAFF_PASSWORD = secrets.token_urlsafe(18)
FORGED_COUNT = 50


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(f"BENCH_{name}")
    return float(raw) if raw else default


# --- data --------------------------------------------------------------------------------------------

async def prepare(url: str, tickets: int) -> dict:
    """An event with `tickets` booked tickets, a door staff account on its team; the QR payloads."""
    from kernel.accounts import Role, create_user
    from kernel.db import Database, utcnow
    from events.models import Event, EventStatus
    from ticketing import services
    from ticketing.models import DoorAssignment, EventKey, Ticket, TicketType
    from ticketing.outputs import qr_payload
    from ticketing.signing import generate_keypair, initials, sign_ticket

    db = Database(url)
    try:
        async with db.write() as session:
            starts = utcnow() + dt.timedelta(days=3)
            event = Event(slug=f"bench-screening-{uuid.uuid4().hex[:6]}", title="Bench screening",
                          venue_name="Soho House gardens", starts_at=starts, ends_at=starts + dt.timedelta(hours=3),
                          category="screening", status=EventStatus.PUBLISHED.value, capacity=None)
            session.add(event)
            await session.flush()
            ticket_type = TicketType(event_id=event.id, name="Lawn seat", tier="free", price_pence=0, capacity=None,
                                     max_per_order=100)
            session.add(ticket_type)
            staff = await create_user(session=session, email=STAFF_EMAIL, name="Bench gate", role=Role.DOOR_STAFF,
                                      password=STAFF_PASSWORD)
            await session.flush()
            session.add(DoorAssignment(event_id=event.id, user_id=staff.id))
            event_id, type_id = event.id, ticket_type.id
        booked = 0
        while booked < tickets:
            n = min(100, tickets - booked)
            async with db.write() as session:
                req = services.RegistrationRequest(
                    lines=[services.TicketLine(type_id, f"Guest {booked + i}") for i in range(n)],
                    email=f"guest{booked}@example.org", form_token=secrets.token_urlsafe(18))
                await services.register(session=session, event_id=event_id, req=req)
            booked += n
        async with db.read() as session:
            key = await session.get(EventKey, event_id)
            rows = list(await session.scalars(select_tickets(Ticket, event_id)))
            payloads = [qr_payload(key, t) for t in rows]
        forger, _ = generate_keypair()
        forged = [sign_ticket(forger, ticket_code=t.code, event_id=event_id, ticket_type_id=type_id,
                              initials=initials(t.attendee_name)) for t in rows[:FORGED_COUNT]]
        return {"event_id": event_id, "payloads": payloads, "forged": forged}
    finally:
        await db.dispose()


def select_tickets(ticket_model, event_id: int):
    from sqlalchemy import select

    return select(ticket_model).where(ticket_model.event_id == event_id).order_by(ticket_model.id)


def reset_check_ins(url: str, event_id: int) -> None:
    """Every ticket not yet checked in again, between runs, so each run meets the same mix of scans."""
    import sqlite3

    from sqlalchemy.engine import make_url

    with sqlite3.connect(make_url(url).database, timeout=15) as conn:
        conn.execute("UPDATE ticket SET checked_in_at = NULL, checked_in_device = '', checked_in_gate = '', "
                     "inside = 0 WHERE event_id = ?", (event_id,))


async def verdict_mix(url: str, event_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from kernel.db import Database
    from ticketing.models import CheckIn

    db = Database(url)
    try:
        async with db.read() as session:
            rows = await session.execute(select(CheckIn.verdict, func.count(CheckIn.id))
                                         .where(CheckIn.event_id == event_id).group_by(CheckIn.verdict))
            return {verdict: count for verdict, count in rows}
    finally:
        await db.dispose()


# --- a door staff session, as a phone gets it ----------------------------------------------------------

def sign_in(base: str, event_id: int) -> tuple[str, str]:
    """(Cookie header, CSRF token) for the door staff account, through the login form and the scanner page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    if not csrf:
        raise BenchError("the login page has no CSRF token")
    form = urllib.parse.urlencode({"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "csrf_token": csrf.group(1),
                                   "next": f"/door/events/{event_id}"}).encode()
    scanner = opener.open(f"{base}/login", data=form, timeout=10)
    page = scanner.read().decode()
    if not scanner.url.endswith(f"/door/events/{event_id}"):
        raise BenchError(f"signing in did not open the scanner (ended at {scanner.url})")
    token = re.search(r'data-csrf="([^"]+)"', page)
    if not token:
        raise BenchError("the scanner page has no data-csrf")
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token.group(1)


def scan_once(base: str, event_id: int, cookie: str, csrf: str, text: str, scan_id: str) -> dict:
    body = json.dumps({"text": text, "direction": "in", "client_scan_id": scan_id}).encode()
    request = urllib.request.Request(f"{base}/door/events/{event_id}/scan", data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf, "Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# --- wrk --------------------------------------------------------------------------------------------

def _lua_string(value: str) -> str:
    return json.dumps(value)  # ASCII payloads: a JSON string is a valid Lua string literal


def lua_script(*, event_id: int, cookie: str, csrf: str, payloads: list[str], forged: list[str], run: str,
               start: int, threads: int) -> str:
    """Each thread walks its own share of the tickets for first scans, re-scans ones it admitted (duplicates),
    and now and then sends a forged code; it counts the verdicts it gets back."""
    return f"""
local payloads = {{{",".join(_lua_string(p) for p in payloads)}}}
local forged = {{{",".join(_lua_string(p) for p in forged)}}}
local path = "/door/events/{event_id}/scan"
local headers = {{["Content-Type"] = "application/json", ["Accept"] = "application/json",
                  ["X-CSRF-Token"] = {_lua_string(csrf)}, ["Cookie"] = {_lua_string(cookie)}}}
local run, start, nthreads = {_lua_string(run)}, {start}, {threads}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  n, firsts = 0, 0
  admitted, already, forged_seen, other = 0, 0, 0, 0
end

local function pick()
  local r = n % 10
  if r < 6 then
    firsts = firsts + 1
    return payloads[((start + (firsts - 1) * nthreads + tid - 1) % #payloads) + 1]
  elseif r < 9 then
    local back = (firsts > 0) and ((start + ((n * 7919) % firsts) * nthreads + tid - 1) % #payloads) or n
    return payloads[(back % #payloads) + 1]
  end
  return forged[(n % #forged) + 1]
end

function request()
  n = n + 1
  local body = '{{"text":"' .. pick() .. '","direction":"in","client_scan_id":"' .. run .. "-" .. tid .. "-" .. n .. '"}}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  local verdict = body:match('"verdict":"([a-z_]+)"')
  if verdict == "admitted" then admitted = admitted + 1
  elseif verdict == "already_checked_in" then already = already + 1
  elseif verdict == "forged" then forged_seen = forged_seen + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local a, d, f, o, firsts_max = 0, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("admitted"); d = d + thread:get("already")
    f = f + thread:get("forged_seen"); o = o + thread:get("other")
    firsts_max = math.max(firsts_max, thread:get("firsts"))
  end
  io.write(string.format("BENCH_MIX admitted=%d already=%d forged=%d other=%d firsts=%d\\n", a, d, f, o, firsts_max))
end
"""


def parse_mix(output: str) -> dict[str, int]:
    match = re.search(r"^BENCH_MIX (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"wrk did not report the verdicts:\n{output}")
    return {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


# --- the benchmark ----------------------------------------------------------------------------------

def main() -> None:
    duration = _setting("DURATION", 5)
    runs = int(_setting("RUNS", 3))
    connections = int(_setting("CONNECTIONS", 32))
    threads = int(_setting("THREADS", 2))
    warmup = _setting("WARMUP", 2)
    tickets = int(_setting("CHECKIN_TICKETS", 2000))
    ensure_wrk()

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db:
        log(f"booking {tickets} tickets for the bench event")
        data = asyncio.run(prepare(db.url, tickets))
        event_id = data["event_id"]
        with serve("denhub.app:app_factory", env=db.env, port=port, ready_path="/healthz") as app, \
                serve("bench.hello:app_factory", env=db.env) as hello:
            cookie, csrf = sign_in(app.url, event_id)
            # The endpoint under load answers what it should, before anything is measured.
            first = scan_once(app.url, event_id, cookie, csrf, data["payloads"][-1], "check-1")
            again = scan_once(app.url, event_id, cookie, csrf, data["payloads"][-1], "check-2")
            fake = scan_once(app.url, event_id, cookie, csrf, data["forged"][0], "check-3")
            if (first["verdict"], again["verdict"], fake["verdict"]) != ("admitted", "already_checked_in", "forged"):
                raise BenchError(f"unexpected verdicts before the load: {first}, {again}, {fake}")

            scan_url = f"{app.url}/door/events/{event_id}/scan"
            servers = {"checkin": app, "hello": hello}
            cpu_per_request: dict[str, list[float]] = {name: [] for name in servers}

            def load(name: str, seconds: float) -> WrkResult:
                server = servers[name]
                cpu = server.cpu_seconds()
                if name == "checkin":
                    reset_check_ins(db.url, event_id)
                    script = lua_script(event_id=event_id, cookie=cookie, csrf=csrf, payloads=data["payloads"],
                                        forged=data["forged"], run=uuid.uuid4().hex[:8], start=0,
                                        threads=threads)
                    result = run_wrk(scan_url, connections=connections, threads=threads, duration=seconds,
                                     lua_script=script).check()
                    mix = parse_mix(result.output)
                    if mix["other"]:
                        raise BenchError(f"{mix['other']} scans had an unexpected verdict: {mix}")
                else:
                    result = run_wrk(server.url + "/", connections=connections, threads=threads,
                                     duration=seconds).check()
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
                order = ("checkin", "hello") if i % 2 == 0 else ("hello", "checkin")
                log(f"pair {i + 1}/{runs}")
                for name in order:
                    results[name].append(load(name, duration))
        recorded = asyncio.run(verdict_mix(db.url, event_id))

    checkin, hello_ = median_result(results["checkin"]), median_result(results["hello"])
    p99 = median([r.p99_ms for r in results["checkin"]])
    ratio = median([c.rps / h.rps for c, h in zip(results["checkin"], results["hello"])])
    cpu_us = {name: median(values) for name, values in cpu_per_request.items()}
    emit("checkin_rps", checkin.rps, "req/s")
    emit("checkin_p99_ms", p99, "ms")
    emit("checkin_hello_rps", hello_.rps, "req/s")
    emit("checkin_vs_hello", ratio, "ratio")

    mix = ", ".join(f"{recorded.get(v, 0)} {v}" for v in ("admitted", "already_checked_in", "forged"))
    how = (f"median of {runs} alternated wrk runs, -t{threads} -c{connections} -d{duration:g}s, 1 uvicorn worker "
           f"each; event of {tickets} tickets; check-in rows written: {mix}")
    command = bench_command("checkin")
    record("checkin_rps", checkin.rps, "req/s", command,
           f"POST /door/events/{{id}}/scan JSON (door staff session, CSRF header, unique client_scan_id), "
           f"SQLite; {how}; p50 {checkin.p50_ms:.2f} ms; server CPU {cpu_us['checkin']:.0f} us/request",
           target="—")
    record("checkin_p99_ms", p99, "ms", command,
           f"median over the runs of wrk's p99 for the scans above (-c{connections})", target=f"<= {TARGET_P99_MS:g}")
    record("checkin_vs_hello", ratio, "ratio", command,
           f"median over {runs} back-to-back pairs of check-in req/s / hello req/s (-c{connections}); "
           f"hello {hello_.rps:.0f} req/s, p99 {hello_.p99_ms:.2f} ms"
           + (f"; CPU-time ratio {cpu_us['hello'] / cpu_us['checkin']:.2f}" if cpu_us["checkin"] else ""),
           target=f">= {TARGET_RATIO}")
    if p99 > TARGET_P99_MS:
        log(f"checkin_p99_ms {p99:.1f} is above the target {TARGET_P99_MS:g}")
    if ratio < TARGET_RATIO:
        log(f"checkin_vs_hello {ratio:.3f} is below the target {TARGET_RATIO}")


if __name__ == "__main__":
    main()
