"""The flash sale's attempts: the booking form that gives the cookie and the CSRF token, then wrk sending
exactly so many registration attempts and waiting for every answer (see bench/flash_sale.py for why)."""

from __future__ import annotations

import contextlib
import dataclasses
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

from bench.common import BenchError
from bench.flash_sale_data import Sale
from bench.servers import Server, fetch
from bench.wrk import ensure_wrk

WRK_TIMEOUT_SECONDS = 10  # an answer slower than this counts as a time-out (a failure)
SALE_DEADLINE_SECONDS = 120  # every answer must be in by then


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


def run_sale(server: Server, form: Form, *, attempts: int, connections: int, threads: int,
             one_address: bool) -> SaleRun:
    """Send exactly `attempts` POSTs with wrk and wait for every answer (or the deadline); with `one_address`
    all from 127.0.0.1, else each from a visitor address of its own."""
    wrk = ensure_wrk()
    lua = _SALE_LUA
    for key, value in {"ATTEMPTS": attempts, "THREADS": threads, "PATH": form.path, "COOKIE": form.cookie,
                       "FIELDS": form.fields, "NONCE": secrets.token_hex(4),
                       "ONE_ADDRESS": "true" if one_address else "false"}.items():
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
