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
import json
import os
import re
import secrets

from bench.common import BenchError, bench_command, emit, log, median, record, setting
from bench.databases import demo_database
from bench.load import Contender, Rounds
from bench.servers import free_port, post_json, serve, sign_in
from bench.wrk import THREADS_LUA, WrkResult, ensure_wrk, lua_string, run_wrk, tally, tally_lua

PAGE_TARGET_BYTES = 30 * 1024
SAVE_TARGET_P99_MS = 50.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PASSWORD = secrets.token_urlsafe(18)


# --- data --------------------------------------------------------------------------------------------

async def prepare(url: str, base_url: str, judges: int) -> dict:
    """Open scoring for the demo competition's entrants (the first by starting its pitch, as on the night),
    add `judges` bench judges with passwords, and make a sign-in link for the demo chair."""
    from sqlalchemy import select

    from judging import demo, night
    from judging.entrants import entrants_for
    from judging.judges import new_magic_link
    from judging.models import Competition, JudgeAssignment
    from judging.rubric import criteria_for
    from kernel.accounts import Role, User, create_user
    from kernel.db import Database

    db = Database(url)
    try:
        async with db.write() as session:
            competition = await session.scalar(select(Competition).where(Competition.name == demo.COMPETITION_NAME))
            if competition is None:
                raise BenchError("the demo database has no demo competition (judging/demo.py)")
            await night.next_entrant(session=session, competition=competition, actor_id=None,
                                     from_entrant_id=competition.current_entrant_id)
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

def judge_session(base: str, email: str, competition: int, entrant: int) -> tuple[str, str]:
    """(Cookie header, CSRF token) for one judge: the login form, then their scoring page's data."""
    cookie, page = sign_in(base, email=email, password=PASSWORD, next_path=f"/judging/{competition}/entrants/{entrant}")
    found = re.search(r'<script type="application/json" id="judge-data">(.*?)</script>', page, re.DOTALL)
    if not found:
        raise BenchError("the scoring page has no judge-data")
    return cookie, json.loads(found.group(1))["csrf"]


def save_once(base: str, path: str, cookie: str, csrf: str, criteria: list[int]) -> dict:
    body = {"values": {str(c): 5 for c in criteria}, "comment": "", "action": "save"}
    return post_json(base + path, body, cookie=cookie, csrf=csrf)


def lua_script(sessions: list[dict], criteria: list[int]) -> str:
    """Thread i is judge i: it saves its entrant's sheet again and again, every save changing the scores."""
    rows = ",".join(f"{{cookie={lua_string(s['cookie'])}, csrf={lua_string(s['csrf'])}, path={lua_string(s['path'])}}}"
                    for s in sessions)
    return THREADS_LUA + f"""
local sessions = {{{rows}}}
local criteria = {{{",".join(str(c) for c in criteria)}}}

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
""" + tally_lua("BENCH_SAVES", ["saved", "refused"])


def main() -> None:
    duration = setting("DURATION", 10)
    runs = int(setting("RUNS", 3))
    warmup = setting("WARMUP", 2)
    judges = int(setting("JUDGES", 20))
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
                cookie, csrf = judge_session(app.url, email, data["competition"], entrant)
                sessions.append({"cookie": cookie, "csrf": csrf,
                                 "path": f"/judging/{data['competition']}/entrants/{entrant}"})
            check = save_once(app.url, sessions[0]["path"], sessions[0]["cookie"], sessions[0]["csrf"],
                              data["criteria"])
            if not check.get("ok") or check.get("status") != "draft":
                raise BenchError(f"a save before the load did not work: {check}")
            script = lua_script(sessions, data["criteria"])

            def saves(seconds: float) -> WrkResult:
                result = run_wrk(app.url + sessions[0]["path"], connections=judges, threads=judges, duration=seconds,
                                 lua_script=script).check()
                if tally(result.output, "BENCH_SAVES")["refused"]:
                    raise BenchError(f"some saves were refused under load:\n{result.output}")
                return result

            rounds = Rounds({"saves": Contender(app, saves)})
            rounds.warm_up(warmup)
            rounds.alternate(runs, duration)
    load_average = os.getloadavg()[0]
    p99 = rounds.median_p99_ms("saves")
    rps = median([r.rps for r in rounds.results["saves"]])
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
                f"{rounds.cpu('saves'):.0f} us/save; SQLite, 1 uvicorn worker; {os.cpu_count()} CPUs, load "
                f"average {load_average:.1f}")
