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
import re
import secrets
import uuid

from bench.common import BenchError, bench_command, emit, log, record, setting
from bench.databases import demo_database
from bench.load import Contender, Rounds, get_load
from bench.servers import free_port, post_json, serve, sign_in
from bench.wrk import THREADS_LUA, WrkResult, ensure_wrk, lua_string, run_wrk, tally, tally_lua

TARGET_P99_MS = 50.0
TARGET_RATIO = 0.15
STAFF_EMAIL = "bench.door@example.org"
STAFF_PASSWORD = secrets.token_urlsafe(18)
FORGED_COUNT = 50


# --- data --------------------------------------------------------------------------------------------

async def prepare(url: str, tickets: int) -> dict:
    """An event with `tickets` booked tickets, a door staff account on its team; the QR payloads."""
    from events.models import Event, EventStatus
    from kernel.accounts import Role, create_user
    from kernel.db import Database, utcnow
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

def door_session(base: str, event_id: int) -> tuple[str, str]:
    """(Cookie header, CSRF token) for the door staff account, through the login form and the scanner page."""
    cookie, page = sign_in(base, email=STAFF_EMAIL, password=STAFF_PASSWORD, next_path=f"/door/events/{event_id}")
    token = re.search(r'data-csrf="([^"]+)"', page)
    if not token:
        raise BenchError("the scanner page has no data-csrf")
    return cookie, token.group(1)


def scan_once(base: str, event_id: int, cookie: str, csrf: str, text: str, scan_id: str) -> dict:
    body = {"text": text, "direction": "in", "client_scan_id": scan_id}
    return post_json(f"{base}/door/events/{event_id}/scan", body, cookie=cookie, csrf=csrf)


# --- wrk --------------------------------------------------------------------------------------------

def lua_script(*, event_id: int, cookie: str, csrf: str, payloads: list[str], forged: list[str], run: str,
               start: int, threads: int) -> str:
    """Each thread walks its own share of the tickets for first scans, re-scans ones it admitted (duplicates),
    and now and then sends a forged code; it counts the verdicts it gets back."""
    return THREADS_LUA + f"""
local payloads = {{{",".join(lua_string(p) for p in payloads)}}}
local forged = {{{",".join(lua_string(p) for p in forged)}}}
local path = "/door/events/{event_id}/scan"
local headers = {{["Content-Type"] = "application/json", ["Accept"] = "application/json",
                  ["X-CSRF-Token"] = {lua_string(csrf)}, ["Cookie"] = {lua_string(cookie)}}}
local run, start, nthreads = {lua_string(run)}, {start}, {threads}

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
""" + tally_lua("BENCH_MIX", ["admitted", "already", "forged_seen", "other"])


# --- the benchmark ----------------------------------------------------------------------------------

def main() -> None:
    duration = setting("DURATION", 5)
    runs = int(setting("RUNS", 3))
    connections = int(setting("CONNECTIONS", 32))
    threads = int(setting("THREADS", 2))
    warmup = setting("WARMUP", 2)
    tickets = int(setting("CHECKIN_TICKETS", 2000))
    ensure_wrk()

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db:
        log(f"booking {tickets} tickets for the bench event")
        data = asyncio.run(prepare(db.url, tickets))
        event_id = data["event_id"]
        with serve("denhub.app:app_factory", env=db.env, port=port, ready_path="/healthz") as app, \
                serve("bench.hello:app_factory", env=db.env) as hello:
            cookie, csrf = door_session(app.url, event_id)
            # The endpoint under load answers what it should, before anything is measured.
            first = scan_once(app.url, event_id, cookie, csrf, data["payloads"][-1], "check-1")
            again = scan_once(app.url, event_id, cookie, csrf, data["payloads"][-1], "check-2")
            fake = scan_once(app.url, event_id, cookie, csrf, data["forged"][0], "check-3")
            if (first["verdict"], again["verdict"], fake["verdict"]) != ("admitted", "already_checked_in", "forged"):
                raise BenchError(f"unexpected verdicts before the load: {first}, {again}, {fake}")

            def scans(seconds: float) -> WrkResult:
                reset_check_ins(db.url, event_id)
                script = lua_script(event_id=event_id, cookie=cookie, csrf=csrf, payloads=data["payloads"],
                                    forged=data["forged"], run=uuid.uuid4().hex[:8], start=0, threads=threads)
                result = run_wrk(f"{app.url}/door/events/{event_id}/scan", connections=connections,
                                 threads=threads, duration=seconds, lua_script=script).check()
                mix = tally(result.output, "BENCH_MIX")
                if mix["other"]:
                    raise BenchError(f"{mix['other']} scans had an unexpected verdict: {mix}")
                return result

            rounds = Rounds({
                "checkin": Contender(app, scans),
                "hello": Contender(hello, get_load(hello.url + "/", connections=connections, threads=threads)),
            })
            rounds.warm_up(warmup)
            rounds.alternate(runs, duration)
        recorded = asyncio.run(verdict_mix(db.url, event_id))

    checkin, hello_ = rounds.median("checkin"), rounds.median("hello")
    p99 = rounds.median_p99_ms("checkin")
    ratio = rounds.ratio("checkin")
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
           f"SQLite; {how}; p50 {checkin.p50_ms:.2f} ms; server CPU {rounds.cpu('checkin'):.0f} us/request",
           target="—")
    record("checkin_p99_ms", p99, "ms", command,
           f"median over the runs of wrk's p99 for the scans above (-c{connections})", target=f"<= {TARGET_P99_MS:g}")
    record("checkin_vs_hello", ratio, "ratio", command,
           f"median over {runs} back-to-back pairs of check-in req/s / hello req/s (-c{connections}); "
           f"hello {hello_.rps:.0f} req/s, p99 {hello_.p99_ms:.2f} ms" + rounds.cpu_ratio_note("checkin"),
           target=f">= {TARGET_RATIO}")


if __name__ == "__main__":
    main()
