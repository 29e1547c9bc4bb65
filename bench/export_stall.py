"""Door check-in while organisers export and search a 20,000-attendee event: does the door stall?

Measures
  checkin_p99_during_export_ratio  wrk's p99 of door scans while organisers download the event's CSV and
                                   search its attendee list over and over, divided by the p99 of the same
                                   scans with the organisers idle, in the same run (median over the pairs of
                                   runs); target <= 2.0
  checkin_p99_idle_ms, checkin_p99_during_export_ms
                                   those two p99s (medians over the runs; printed only)
  export_csv_seconds               how long one download of the whole CSV took during the scans (median;
                                   printed only)

On SQLite the app's statements run on the event loop's thread (kernel/db.py; Database.slow_read() excepted),
so whatever an organiser's request does between two awaits, every scan at the door waits for. Two organisers'
browsers here, for as long as the scans run: one downloads the CSV export of the whole event again and again;
the other opens the attendee list unfiltered, searches by a surname (about 1,600 matches) and by an order
reference, and again.

The event: `BENCH_EXPORT_ATTENDEES` (20,000) tickets in orders of 1 to 4 made by the registration service,
three ticket types (free, standard at £8 with a third of those orders marked paid, community rate at £3
with a declaration and access needs on some orders). The door load is bench/checkin.py's (a door staff
session, 60 % first scans, 30 % duplicates, 10 % forged), on free tickets (a paid one unpaid is another verdict).

Runs go in pairs, idle then busy or busy then idle (alternating), each `BENCH_DURATION` s, after a warm-up.
Settings (environment): BENCH_DURATION (5 s), BENCH_RUNS (3 pairs), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
BENCH_WARMUP (2 s), BENCH_EXPORT_ATTENDEES (20000).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import http.cookiejar
import io
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict

from bench import checkin
from bench.common import BenchError, bench_command, emit, log, median, record, setting
from bench.databases import demo_database
from bench.servers import free_port, serve
from bench.wrk import WrkResult, ensure_wrk, run_wrk, tally

TARGET_RATIO = 2.0
ORGANISER_EMAIL = "bench.organiser@example.org"
ORGANISER_PASSWORD = secrets.token_urlsafe(18)
FIRST_NAMES = ["Amina", "Yusuf", "Rahim", "Priya", "Tendai", "Grace", "Kwame", "Siobhan", "Imran", "Mei",
               "Olu", "Sana", "Dev", "Marcus", "Fatima", "Jaspreet", "Leon", "Nia", "Tariq", "Ewa"]
SURNAMES = ["Khatun", "Uddin", "Patel", "Okafor", "Mensah", "Begum", "Smith", "Kaur", "Ali", "Nowak",
            "Campbell", "Hussain", "Singh", "Chen", "Williams", "Ahmed", "Brown", "Clarke", "Mahmood", "Osei"]
SEARCH_SURNAME = "Mahmood"
DOOR_PAYLOADS = 6000


# --- data --------------------------------------------------------------------------------------------

async def prepare(url: str, attendees: int) -> dict:
    """The event, its attendees, a door staff account on its team and an organiser; the door's QR payloads."""
    from sqlalchemy import select, update

    from events.models import Event, EventStatus
    from kernel.accounts import Role, create_user
    from kernel.db import Database, utcnow
    from ticketing import services
    from ticketing.checkin import DoorAssignment
    from ticketing.models import EventKey, Order, Ticket, TicketType
    from ticketing.outputs import qr_payload
    from ticketing.signing import generate_keypair, initials, sign_ticket

    db = Database(url)
    try:
        async with db.write() as session:
            starts = utcnow() + dt.timedelta(days=3)
            event = Event(slug=f"bench-festival-{uuid.uuid4().hex[:6]}", title="Bench festival",
                          venue_name="Soho House gardens", starts_at=starts, ends_at=starts + dt.timedelta(hours=8),
                          category="festival", status=EventStatus.PUBLISHED.value, capacity=None)
            session.add(event)
            await session.flush()
            types = [TicketType(event_id=event.id, name=name, tier=tier, price_pence=price, capacity=None,
                                max_per_order=10, position=i)
                     for i, (name, tier, price) in enumerate([("Day pass", "free", 0), ("Supporter", "standard", 800),
                                                              ("Community", "community", 300)])]
            session.add_all(types)
            staff = await create_user(session=session, email=checkin.STAFF_EMAIL, name="Bench gate",
                                      role=Role.DOOR_STAFF, password=checkin.STAFF_PASSWORD)
            await create_user(session=session, email=ORGANISER_EMAIL, name="Bench organiser", role=Role.ORGANISER,
                              password=ORGANISER_PASSWORD)
            await session.flush()
            session.add(DoorAssignment(event_id=event.id, user_id=staff.id))
            event_id, type_ids = event.id, [t.id for t in types]
        booked, order_no = 0, 0
        while booked < attendees:
            async with db.write() as session:
                for _ in range(500):
                    if booked >= attendees:
                        break
                    size = min(1 + order_no % 4, attendees - booked)
                    kind = (0, 0, 0, 1, 2)[order_no % 5]
                    names = [f"{FIRST_NAMES[n % 20]} {SURNAMES[(n * 7 + n // 20) % 20]}"
                             for n in range(booked, booked + size)]
                    req = services.RegistrationRequest(
                        lines=[services.TicketLine(type_ids[kind], name) for name in names],
                        email=f"{names[0].replace(' ', '.').lower()}.{order_no}@example.org",
                        access_needs="Step-free route, please" if order_no % 11 == 0 else "",
                        community_declaration="resident" if kind == 2 else "",
                        form_token=secrets.token_urlsafe(18))
                    await services.book(session=session, event_id=event_id, req=req)
                    booked += size
                    order_no += 1
        async with db.write() as session:
            # A third of the supporters' orders paid; the rest still to pay at the door.
            await session.execute(update(Order).where(Order.event_id == event_id, Order.total_pence > 0,
                                                      Order.id % 3 == 0)
                                  .values(paid_at=utcnow(), paid_note="Bank transfer", status="confirmed"))
        async with db.read() as session:
            key = await session.get(EventKey, event_id)
            rows = list(await session.scalars(
                select(Ticket).where(Ticket.event_id == event_id, Ticket.ticket_type_id == type_ids[0])
                .order_by(Ticket.id).limit(DOOR_PAYLOADS)))
            payloads = [qr_payload(key, t) for t in rows]
            reference = await session.scalar(select(Order.reference).where(Order.event_id == event_id)
                                             .order_by(Order.id).offset(order_no // 2).limit(1))
        forger, _ = generate_keypair()
        forged = [sign_ticket(forger, ticket_code=t.code, event_id=event_id, ticket_type_id=type_ids[0],
                              initials=initials(t.attendee_name)) for t in rows[:checkin.FORGED_COUNT]]
        return {"event_id": event_id, "payloads": payloads, "forged": forged, "reference": reference,
                "orders": order_no}
    finally:
        await db.dispose()


# --- the organiser -------------------------------------------------------------------------------------

def organiser_cookie(base: str, event_id: int) -> str:
    """The organiser's session cookie, through the login form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not csrf:
        raise BenchError("the login page has no CSRF token")
    target = f"/organiser/events/{event_id}/attendees?q=nobody"
    form = urllib.parse.urlencode({"email": ORGANISER_EMAIL, "password": ORGANISER_PASSWORD,
                                   "csrf_token": csrf.group(1), "next": target}).encode()
    landed = opener.open(f"{base}/login", data=form, timeout=30)
    landed.read()
    if not landed.url.endswith(target):
        raise BenchError(f"signing in did not open the attendee list (ended at {landed.url})")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def organiser_requests(base: str, event_id: int, reference: str) -> dict[str, list[tuple[str, str]]]:
    """What the two organisers' browsers ask for, in turn: one exports, the other searches."""
    prefix = f"{base}/organiser/events/{event_id}/attendees"
    return {"export": [("csv", f"{prefix}.csv")],
            "search": [("list", prefix), ("surname", f"{prefix}?q={SEARCH_SURNAME}"),
                       ("reference", f"{prefix}?q={reference.lower()}")]}


class Organiser(threading.Thread):
    """An organiser's browser asking for `requests` one after the other, over and over, until stopped.

    Each answer is checked (a fast wrong answer would flatter the door), and timed per kind of request.
    """

    def __init__(self, cookie: str, requests: list[tuple[str, str]], reference: str):
        super().__init__(daemon=True)
        self.cookie, self.requests, self.reference = cookie, requests, reference
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.csv_rows = 0
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=120)
        if self.error is not None:
            raise BenchError(f"the organiser's requests failed: {self.error!r}")

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                for kind, url in self.requests:
                    if self._stop_event.is_set():
                        return
                    started = time.monotonic()
                    request = urllib.request.Request(url, headers={"Cookie": self.cookie})
                    with urllib.request.urlopen(request, timeout=120) as response:
                        status, body = response.status, response.read().decode("utf-8-sig")
                    self.timings[kind].append(time.monotonic() - started)
                    self._check(kind, status, body)
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def _check(self, kind: str, status: int, body: str) -> None:
        if status != 200:
            raise BenchError(f"{kind}: status {status}")
        if kind == "csv":
            rows = list(csv.reader(io.StringIO(body)))
            if rows[0][:2] != ["ticket_code", "attendee"]:
                raise BenchError(f"the CSV starts with {rows[0]}")
            self.csv_rows = len(rows) - 1
        elif kind == "surname" and SEARCH_SURNAME not in body:
            raise BenchError(f"the search for {SEARCH_SURNAME} found nobody")
        elif kind == "reference" and self.reference not in body:
            raise BenchError(f"the search for order {self.reference} did not find it")


# --- the benchmark ----------------------------------------------------------------------------------

def main() -> None:
    duration = setting("DURATION", 5)
    runs = int(setting("RUNS", 3))
    connections = int(setting("CONNECTIONS", 32))
    threads = int(setting("THREADS", 2))
    warmup = setting("WARMUP", 2)
    attendees = int(setting("EXPORT_ATTENDEES", 20000))
    ensure_wrk()

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db:
        log(f"booking {attendees} attendees for the bench event")
        started = time.monotonic()
        data = asyncio.run(prepare(db.url, attendees))
        log(f"booked in {time.monotonic() - started:.0f} s ({data['orders']} orders)")
        event_id = data["event_id"]
        with serve("denhub.app:app_factory", env=db.env, port=port, ready_path="/healthz") as app:
            cookie, csrf = checkin.door_session(app.url, event_id)
            first = checkin.scan_once(app.url, event_id, cookie, csrf, data["payloads"][-1], "check-1")
            fake = checkin.scan_once(app.url, event_id, cookie, csrf, data["forged"][0], "check-2")
            if (first["verdict"], fake["verdict"]) != ("admitted", "forged"):
                raise BenchError(f"unexpected verdicts before the load: {first}, {fake}")
            organiser = organiser_cookie(app.url, event_id)
            scan_url = f"{app.url}/door/events/{event_id}/scan"
            cpu_start = app.cpu_seconds()

            def scans(seconds: float) -> WrkResult:
                checkin.reset_check_ins(db.url, event_id)
                cpu = app.cpu_seconds()
                script = checkin.lua_script(event_id=event_id, cookie=cookie, csrf=csrf, payloads=data["payloads"],
                                            forged=data["forged"], run=uuid.uuid4().hex[:8], start=0,
                                            threads=threads)
                # A long timeout: a scan that waits seconds behind an export is the figure, not a failure.
                result = run_wrk(scan_url, connections=connections, threads=threads, duration=seconds,
                                 lua_script=script, timeout=30).check()
                mix = tally(result.output, "BENCH_MIX")
                if mix["other"]:
                    raise BenchError(f"{mix['other']} scans had an unexpected verdict: {mix}")
                log(f"server CPU {app.cpu_seconds() - cpu:.1f} s over the {seconds:g} s of scans")
                return result

            def busy(seconds: float) -> tuple[WrkResult, dict[str, list[float]], int]:
                loads = [Organiser(organiser, requests, data["reference"])
                         for requests in organiser_requests(app.url, event_id, data["reference"]).values()]
                for load in loads:
                    load.start()
                try:
                    result = scans(seconds)
                finally:
                    for load in loads:
                        load.stop()
                timings = {k: v for load in loads for k, v in load.timings.items()}
                return result, timings, max(load.csv_rows for load in loads)

            log(f"warming up ({warmup:g} s idle, {warmup:g} s busy)")
            scans(warmup)
            busy(warmup)
            idle_runs: list[WrkResult] = []
            busy_runs: list[WrkResult] = []
            timings: dict[str, list[float]] = defaultdict(list)
            csv_rows: set[int] = set()
            for i in range(runs):
                log(f"pair {i + 1}/{runs}")
                for which in (("idle", "busy") if i % 2 == 0 else ("busy", "idle")):
                    if which == "idle":
                        idle_runs.append(scans(duration))
                        log(f"idle: {idle_runs[-1].summary}")
                    else:
                        result, done, rows = busy(duration)
                        busy_runs.append(result)
                        csv_rows |= {rows} if rows else set()
                        for kind, values in done.items():
                            timings[kind] += values
                        done_text = ", ".join(f"{len(v)} {k} ({median(v):.2f} s)" for k, v in done.items())
                        log(f"busy: {result.summary}; organisers: {done_text}")
            cpu = app.cpu_seconds() - cpu_start

    if csv_rows != {attendees}:
        raise BenchError(f"the CSV export had {csv_rows} rows for {attendees} attendees")
    ratio = median([b.p99_ms / i.p99_ms for b, i in zip(busy_runs, idle_runs)])
    idle_p99 = median([r.p99_ms for r in idle_runs])
    busy_p99 = median([r.p99_ms for r in busy_runs])
    missing = [kind for kind in ("csv", "list", "surname", "reference") if not timings[kind]]
    if missing:
        raise BenchError(f"no {', '.join(missing)} request finished during the busy runs; make BENCH_DURATION longer")
    export_s = median(timings["csv"])
    emit("checkin_p99_during_export_ratio", ratio, "ratio")
    emit("checkin_p99_idle_ms", idle_p99, "ms")
    emit("checkin_p99_during_export_ms", busy_p99, "ms")
    emit("export_csv_seconds", export_s, "s")

    organiser_did = ", ".join(f"{len(v)} {k} {median(v):.2f} s" for k, v in timings.items())
    rps = (median([r.rps for r in idle_runs]), median([r.rps for r in busy_runs]))
    record("checkin_p99_during_export_ratio", ratio, "ratio", bench_command("export_stall"),
           f"door scans as in checkin (wrk -t{threads} -c{connections} -d{duration:g}s, SQLite, 1 uvicorn worker) "
           f"while two organisers repeat, one the CSV export of all {attendees} attendees ({data['orders']} "
           f"orders), the other the attendee list, a search by surname and one by order reference; median over {runs} alternated "
           f"pairs of busy p99 / idle p99; p99 {idle_p99:.1f} ms idle, {busy_p99:.1f} ms busy; scans/s "
           f"{rps[0]:.0f} idle, {rps[1]:.0f} busy; organiser requests (count, median time): {organiser_did}; "
           f"server CPU {cpu:.0f} s",
           target=f"<= {TARGET_RATIO:g}")
    if ratio > TARGET_RATIO:
        log(f"checkin_p99_during_export_ratio {ratio:.2f} is above the target {TARGET_RATIO:g}")


if __name__ == "__main__":
    main()
