"""Pitch judging: what a judge's phone downloads, and saving scores with twenty judges at once.

Measures
  judge_page_bytes    the scoring page as a judge's phone loads it, everything included: the HTML and every
                      response the page then requests (CSS, scripts, fonts if any), summed (decoded body
                      sizes), in headless Chromium (Debian's, via Playwright) on a phone viewport with an empty
                      cache; no request may leave the server (no CDN, no third party). Target <= 30 KB.
  score_save_p99_ms   99th percentile latency of a judge's JSON save (POST /judging/{c}/entrants/{e} with the
                      X-CSRF-Token header, as static/js/judge.js sends it) with 20 judges saving at once: wrk,
                      20 threads of 1 connection, each thread a different judge with their own signed-in
                      session, saving changed scores as fast as the server answers. Target <= 50 ms.

Both run against denhub on the demo database (SQLite, 1 uvicorn worker, production mode): the demo pitch
night's competition (judging/demo.py: five entrants, default rubric), with scoring opened for every entrant
and twenty bench judges added to its panel.
Settings (environment): BENCH_DURATION (10 s), BENCH_RUNS (3), BENCH_WARMUP (2 s), BENCH_JUDGES (20).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import re
import secrets
import urllib.parse
import urllib.request

from bench.common import (
    BenchError,
    bench_command,
    demo_database,
    emit,
    ensure_wrk,
    free_port,
    log,
    median,
    record,
    run_wrk,
    serve,
)

PAGE_TARGET_BYTES = 30 * 1024
SAVE_TARGET_P99_MS = 50.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PASSWORD = secrets.token_urlsafe(18)


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(f"BENCH_{name}")
    return float(raw) if raw else default


# --- data --------------------------------------------------------------------------------------------

async def prepare(url: str, base_url: str, judges: int) -> dict:
    """Open scoring for the demo competition's entrants (the first by starting its pitch, as on the night),
    add `judges` bench judges with passwords, and make a sign-in link for the demo chair."""
    from sqlalchemy import select

    from kernel.accounts import Role, User, create_user
    from kernel.db import Database
    from judging import demo, night
    from judging.entrants import entrants_for
    from judging.judges import new_magic_link
    from judging.models import Competition, JudgeAssignment
    from judging.rubric import criteria_for

    db = Database(url)
    try:
        async with db.write() as session:
            competition = await session.scalar(select(Competition).where(Competition.name == demo.COMPETITION_NAME))
            if competition is None:
                raise BenchError("the demo database has no demo competition (judging/demo.py)")
            await night.next_entrant(session=session, competition=competition, actor_id=None)
            await night.start_pitch(session=session, competition=competition, actor_id=None)
            entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
            for entrant in entrants[1:]:
                await night.open_scoring(session=session, competition=competition, entrant_id=entrant.id,
                                         actor_id=None)
            emails = []
            for n in range(judges):
                user = await create_user(session=session, email=f"bench.judge{n}@example.org",
                                         name=f"Bench judge {n}", role=Role.JUDGE, password=PASSWORD)
                session.add(JudgeAssignment(competition_id=competition.id, user_id=user.id, is_chair=False))
                emails.append(user.email)
            chair = await session.scalar(select(User).where(User.email == demo.JUDGES[0][0]))
            token, _ = await new_magic_link(session=session, user=chair, competition=competition, base_url=base_url)
            criteria = [c.id for c in await criteria_for(session=session, competition_id=competition.id)]
            return {"competition": competition.id, "entrants": [e.id for e in entrants], "emails": emails,
                    "criteria": criteria, "chair": chair.name, "token": token}
    finally:
        await db.dispose()


# --- what a judge's phone downloads ------------------------------------------------------------------

async def page_bytes(base: str, data: dict) -> tuple[int, list[tuple[str, int]]]:
    """(total bytes, (url, bytes) per response) for the first entrant's scoring page, from an empty cache."""
    from playwright.async_api import async_playwright

    path = f"/judging/{data['competition']}/entrants/{data['entrants'][0]}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            signing_in = await browser.new_context(**PHONE)
            page = await signing_in.new_page()
            await page.goto(f"{base}/judging/magic/{data['token']}")
            await page.get_by_role("button", name=f"Sign in as {data['chair']}").click()
            await page.wait_for_url(re.compile(rf"/judging/{data['competition']}$"))
            # A new context with only the session cookie: nothing the sign-in pages loaded is in its cache.
            context = await browser.new_context(**PHONE, storage_state=await signing_in.storage_state())
            page = await context.new_page()
            requested: list[str] = []
            responses = []
            page.on("request", lambda r: requested.append(r.url))
            page.on("response", lambda r: responses.append(r))
            await page.goto(base + path, wait_until="networkidle")
            if not await page.get_by_role("heading", name="All entrants").is_visible():
                raise BenchError("judge.js did not build the page: the measure would miss what it does")
            outside = [u for u in requested if not u.startswith(base + "/")]
            if outside:
                raise BenchError(f"the scoring page asked for something outside the server: {outside}")
            sizes = []
            for response in responses:
                if response.status != 200:
                    raise BenchError(f"{response.url} answered {response.status}")
                sizes.append((response.url[len(base):], len(await response.body())))
            return sum(n for _, n in sizes), sizes
        finally:
            await browser.close()


# --- twenty judges saving -----------------------------------------------------------------------------

def sign_in(base: str, email: str, competition: int, entrant: int) -> tuple[str, str]:
    """(Cookie header, CSRF token) for one judge: the login form, then their scoring page's data."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    if not csrf:
        raise BenchError("the login page has no CSRF token")
    path = f"/judging/{competition}/entrants/{entrant}"
    form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": csrf.group(1),
                                   "next": path}).encode()
    response = opener.open(f"{base}/login", data=form, timeout=10)
    page = response.read().decode()
    if not response.url.endswith(path):
        raise BenchError(f"signing in did not open the scoring page (ended at {response.url})")
    found = re.search(r'<script type="application/json" id="judge-data">(.*?)</script>', page, re.DOTALL)
    if not found:
        raise BenchError("the scoring page has no judge-data")
    return "; ".join(f"{c.name}={c.value}" for c in jar), json.loads(found.group(1))["csrf"]


def save_once(base: str, path: str, cookie: str, csrf: str, criteria: list[int]) -> dict:
    body = json.dumps({"values": {str(c): 5 for c in criteria}, "comment": "", "action": "save"}).encode()
    request = urllib.request.Request(base + path, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf, "Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def lua_script(sessions: list[dict], criteria: list[int]) -> str:
    """Thread i is judge i: it saves its entrant's sheet again and again, every save changing the scores."""
    rows = ",".join(f"{{cookie={json.dumps(s['cookie'])}, csrf={json.dumps(s['csrf'])}, path={json.dumps(s['path'])}}}"
                    for s in sessions)
    return f"""
local sessions = {{{rows}}}
local criteria = {{{",".join(str(c) for c in criteria)}}}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  n, saved, refused = 0, 0, 0
  me = sessions[((tid - 1) % #sessions) + 1]
  headers = {{["Content-Type"] = "application/json", ["Accept"] = "application/json",
             ["X-CSRF-Token"] = me.csrf, ["Cookie"] = me.cookie}}
end

function request()
  n = n + 1
  local parts = {{}}
  for i, c in ipairs(criteria) do parts[i] = '"' .. c .. '":' .. ((n + tid + i) % 10 + 1) end
  return wrk.format("POST", me.path, headers, '{{"values":{{' .. table.concat(parts, ",") .. '}},"comment":"","action":"save"}}')
end

function response(status, headers, body)
  if status == 200 and body:find('"ok":true', 1, true) then saved = saved + 1 else refused = refused + 1 end
end

function done(summary, latency, requests)
  local s, r = 0, 0
  for _, thread in ipairs(threads) do s = s + thread:get("saved"); r = r + thread:get("refused") end
  io.write(string.format("BENCH_SAVES saved=%d refused=%d\\n", s, r))
end
"""


def main() -> None:
    duration = _setting("DURATION", 10)
    runs = int(_setting("RUNS", 3))
    warmup = _setting("WARMUP", 2)
    judges = int(_setting("JUDGES", 20))
    ensure_wrk()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with demo_database(base_url=base) as db:
        data = asyncio.run(prepare(db.url, base, judges))
        with serve("denhub.app:app_factory", env=db.env, port=port, ready_path="/healthz") as app:
            total, sizes = asyncio.run(page_bytes(app.url, data))
            for url, size in sizes:
                log(f"judge page: {size:6d} bytes {url}")
            log(f"judge page: {total} bytes in {len(sizes)} responses")

            entrants = data["entrants"]
            sessions = []
            for n, email in enumerate(data["emails"]):
                entrant = entrants[n % len(entrants)]
                cookie, csrf = sign_in(app.url, email, data["competition"], entrant)
                sessions.append({"cookie": cookie, "csrf": csrf,
                                 "path": f"/judging/{data['competition']}/entrants/{entrant}"})
            check = save_once(app.url, sessions[0]["path"], sessions[0]["cookie"], sessions[0]["csrf"],
                              data["criteria"])
            if not check.get("ok") or check.get("status") != "draft":
                raise BenchError(f"a save before the load did not work: {check}")
            script = lua_script(sessions, data["criteria"])
            url = app.url + sessions[0]["path"]

            cpu_per_save: list[float] = []

            def load(seconds: float):
                cpu = app.cpu_seconds()
                result = run_wrk(url, connections=judges, threads=judges, duration=seconds, lua_script=script).check()
                saves = re.search(r"BENCH_SAVES saved=(\d+) refused=(\d+)", result.output)
                if not saves or int(saves.group(2)):
                    raise BenchError(f"some saves were refused under load:\n{result.output}")
                cpu_per_save.append((app.cpu_seconds() - cpu) / result.requests * 1e6)
                log(f"saves: {result.summary}; server CPU {cpu_per_save[-1]:.0f} us/save")
                return result

            log(f"warming up ({warmup:g} s)")
            load(warmup)
            cpu_per_save.clear()
            results = [load(duration) for _ in range(runs)]
    load_average = os.getloadavg()[0]
    p99 = median([r.p99_ms for r in results])
    rps = median([r.rps for r in results])
    emit("judge_page_bytes", total, "bytes")
    emit("score_save_p99_ms", p99, "ms")
    command = bench_command("judging")
    parts = ", ".join(f"{'HTML' if i == 0 else url.rsplit('/', 1)[-1]} {size}" for i, (url, size) in enumerate(sizes))
    record("judge_page_bytes", total, "bytes", command, target=f"<= {PAGE_TARGET_BYTES}",
           note=f"scoring page of the demo competition (5 entrants), headless Chromium, phone, empty cache; "
                f"{len(sizes)} responses: {parts}; no third-party requests")
    record("score_save_p99_ms", p99, "ms", command, target=f"<= {SAVE_TARGET_P99_MS:g}",
           note=f"median p99 of {runs} wrk runs of {duration:g} s, {judges} judges (-t{judges} -c{judges}), each "
                f"its own session saving all five scores changed each time (JSON + X-CSRF-Token; 5 audit rows a "
                f"save); {rps:.0f} saves/s; server CPU "
                f"{median(cpu_per_save):.0f} us/save; SQLite, 1 uvicorn worker; {os.cpu_count()} CPUs, load "
                f"average {load_average:.1f}")
    if total > PAGE_TARGET_BYTES:
        log(f"judge_page_bytes {total} is over the target of {PAGE_TARGET_BYTES}")
    if p99 > SAVE_TARGET_P99_MS:
        log(f"score_save_p99_ms {p99:.1f} is over the target of {SAVE_TARGET_P99_MS:g} ms")
