"""The judge's scoring page, phone first, and what its script talks to.

Without JavaScript each entrant is a page of its own (/judging/{c}/entrants/{e}) with a plain form: save a
draft, or submit (which locks the sheet); the server answers with the next page.

With static/js/judge.js the same page carries the judge's own running order, their own scores and the
rubric as JSON (#judge-data), and the script turns it into the whole night on one page: it shows one
entrant at a time and moves between them without the network; every change is kept on the phone first
(localStorage, keyed by judge, competition and entrant) and then sent as JSON with the X-CSRF-Token header;
when the phone is offline or a request fails the entrant shows "saved on this phone — not synced" until a
retry (on the browser's online event, and on a timer) gets it through. The script builds each entrant's
form from the one list of criteria instead of the page carrying every entrant's form in HTML: fifty radio
buttons per entrant would make the page grow with the running order, and the judges are on venue Wi-Fi.

A judge only ever receives their own scores: nothing here reads another judge's sheet.

Reloading offline: judge.js registers a service worker (static/js/judge-sw.js, served as /judging/sw.js
with scope /judging/) so that a phone which reloads the scoring page with no network (a discarded tab, a
pull to refresh) gets the page and its two assets (judge.css, judge.js) from the worker's cache; judge.js
then shows what localStorage still holds ("not synced") and retries as before. Network first: the cache
answers only when a request fails. It keeps one copy of the scoring page per competition (judge.js
follows the entrant in the address), fetched again once when the worker installs, since the first page
loaded before it. Nothing else: no POST (saves go to the network, so offline a save is "not synced", never
a fake success), no JSON (state.json), no other page.

The page is sent `Cache-Control: no-store`, which is for HTTP caches (shared proxies, the browser's own);
the worker still keeps a copy in its Cache Storage, on purpose: it is the site's own storage on the
judge's phone, like the localStorage that holds their unsynced scores, holds only this judge's page (their
own scores and their session's CSRF token), and is read only when the network fails. It is dropped when
someone signs in by magic link on the phone, when a scoring page answers "signed out" (a redirect) or
403, and when the judge signs out from the scoring page (judge.js). A sign-out from another page followed
by someone else's password sign-in and an offline reload of a scoring address would still show the
previous judge's page: judges score on their own phones, and the page is gone at the next online load.
"""

from __future__ import annotations

import hashlib

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from judging import forms, judges, progress, sheets
from judging.competitions import get_competition
from judging.errors import (
    Conflicted,
    InvalidInput,
    JudgingError,
    NotAJudge,
    NotFound,
    PitchNotStarted,
    ScoringClosed,
    SheetLocked,
)
from judging.pages import judge_competition_for
from judging.rubric import criteria_for
from kernel.auth import JUDGES, PUBLIC, csrf_token, flash, form_int, guard
from kernel.settings import PROJECT_ROOT
from kernel.web import render

SERVICE_WORKER = (PROJECT_ROOT / "static" / "js" / "judge-sw.js").read_bytes()
SERVICE_WORKER_ETAG = '"' + hashlib.sha256(SERVICE_WORKER).hexdigest()[:16] + '"'

# What the script is told about a refusal; it retries only "not_started" (and network failures).
ERROR_CODES = {PitchNotStarted: "not_started", SheetLocked: "locked", Conflicted: "conflict",
               ScoringClosed: "closed", InvalidInput: "invalid", NotFound: "not_found", NotAJudge: "not_a_judge"}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def judge_data(request: Request, competition, criteria, rows, current_id: int) -> dict:
    """The page's JSON for judge.js: the rubric, and this judge's own running order and scores."""
    return {
        "judge": request.state.user.id, "competition": competition.id, "current": current_id,
        "closed": competition.is_closed, "csrf": csrf_token(request),
        "criteria": [{"id": c.id, "name": c.name, "hint": c.description, "min": c.scale_min, "max": c.scale_max}
                     for c in criteria],
        "entrants": [{
            "id": r.entrant.id, "enterprise": r.entrant.enterprise, "name": r.entrant.name,
            "pitch": r.entrant.pitch, "mission": r.entrant.social_mission, "status": r.status, "open": r.open,
            "values": {str(k): v for k, v in r.values.items()},
            "feedback": r.sheet.feedback if r.sheet else "",
            "private_note": r.sheet.private_note if r.sheet else "",
            "conflict": r.conflict.reason if r.conflict else None,
        } for r in rows],
    }


async def _score_context(request: Request, competition, event, entrant_id: int) -> dict:
    """Context for judging/score.html: competition, event, entrant, criteria, sheet (or none), values
    (criterion id -> value or none), feedback (for the entrant), private_note (for the organisers), conflict
    (or none), position, count, previous, next,
    not_open (its pitch has not started), locked, error, reason, judge_data (for the script), plain (the
    page without the script: ?plain=1, where the script sends a judge to declare a conflict)."""
    judge_id = request.state.user.id
    async with request.app.state.db.read() as session:
        try:
            entrant = await sheets.scorable_entrant(session=session, competition=competition, entrant_id=entrant_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        criteria = await criteria_for(session=session, competition_id=competition.id)
        rows = await progress.judge_overview(session=session, competition=competition, judge_id=judge_id,
                                           with_values=True)
    index = next(i for i, r in enumerate(rows) if r.entrant.id == entrant.id)
    row = rows[index]
    not_open = not entrant.scoring_open
    return {
        "competition": competition, "event": event, "entrant": entrant, "criteria": criteria,
        "sheet": row.sheet, "values": {c.id: row.values.get(c.id) for c in criteria},
        "feedback": row.sheet.feedback if row.sheet else "",
        "private_note": row.sheet.private_note if row.sheet else "", "conflict": row.conflict,
        "position": index + 1, "count": len(rows),
        "previous": rows[index - 1].entrant if index > 0 else None,
        "next": rows[index + 1].entrant if index + 1 < len(rows) else None,
        "not_open": not_open,
        "locked": competition.is_closed or (row.sheet is not None and row.sheet.is_submitted)
        or row.conflict is not None or not_open,
        "error": None, "reason": "",
        "judge_data": judge_data(request, competition, criteria, rows, entrant.id),
        "plain": request.query_params.get("plain") == "1",
    }


def _next_to_score(rows, after_id: int):
    ids = [r.entrant.id for r in rows]
    start = ids.index(after_id) + 1 if after_id in ids else 0
    for row in rows[start:] + rows[:start]:
        if row.status in ("to score", "draft") and row.entrant.id != after_id:
            return row.entrant
    return None


async def _save(request: Request, competition_id: int, entrant_id: int, posted: forms.ScoreInput):
    """Save in one transaction: (the sheet, its scores). The competition row is locked first, so a save and
    the release of the results (or the rubric's locking by the first save) never cross."""
    async with request.app.state.db.write() as session:
        competition = await sheets.competition_for_saving(session=session, competition_id=competition_id)
        saved = await sheets.save_scores(session=session, competition=competition, judge_id=request.state.user.id,
                                         entrant_id=entrant_id, values=posted.values, feedback=posted.feedback,
                                         private_note=posted.private_note, submit=posted.action == "submit")
        return saved.sheet, saved.values


async def _score_json(request: Request, competition_id: int, entrant_id: int) -> Response:
    """The script's save: JSON in ({values: {criterion id: value}, feedback, private_note, action}), JSON
    out. The hot path
    of the night (every change on every judge's phone), so everything is checked inside the one write
    transaction, with no page context loaded."""
    try:
        try:
            body = await request.json()
        except ValueError:
            raise InvalidInput("That was not valid JSON.") from None
        sheet, saved = await _save(request, competition_id, entrant_id, forms.parse_json_scores(body))
    except JudgingError as exc:
        return JSONResponse({"ok": False, "error": str(exc), "code": ERROR_CODES.get(type(exc), "refused")},
                            status_code=exc.status)
    return JSONResponse({"ok": True, "status": sheet.status, "values": {str(k): v for k, v in saved.items()},
                         "feedback": sheet.feedback, "private_note": sheet.private_note,
                         "saved_at": sheet.updated_at.isoformat()})


@guard(JUDGES)
async def score(request: Request) -> Response:
    """One entrant: big buttons per criterion, feedback for the entrant, a private note for the organisers,
    save (draft) or submit (locks). JSON for the script."""
    entrant_id = request.path_params["entrant_id"]
    if request.method == "POST" and request.headers.get("content-type", "").startswith("application/json"):
        return await _score_json(request, request.path_params["competition_id"], entrant_id)
    competition, event, _ = await judge_competition_for(request)
    if request.method == "GET":
        return render(request, "judging/score.html", await _score_context(request, competition, event, entrant_id),
                      headers={"cache-control": "no-store"})
    form = await request.form()
    try:
        posted = forms.parse_scores(form)
        action = posted.action
        if action not in ("save", "submit"):
            raise JudgingError("Choose “Save draft” or “Submit scores”.")
        await _save(request, competition.id, entrant_id, posted)
    except JudgingError as exc:
        context = await _score_context(request, competition, event, entrant_id)
        if not context["locked"]:  # keep what the judge chose, so nothing is lost on a phone
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            for c in context["criteria"]:
                shown = form_int(fields.get(f"c{c.id}", ""), 0)
                if shown is not None:
                    context["values"][c.id] = shown
            for key in ("feedback", "private_note"):
                context[key] = str(form.get(key, ""))[:sheets.MAX_TEXT]
        context["error"] = str(exc)
        return render(request, "judging/score.html", context, status_code=exc.status)
    if action == "save":
        flash(request, "Draft saved. You can change it until you submit.")
        return _see_other(f"/judging/{competition.id}/entrants/{entrant_id}")
    async with request.app.state.db.read() as session:
        rows = await progress.judge_overview(session=session, competition=competition, judge_id=request.state.user.id)
    following = _next_to_score(rows, entrant_id)
    flash(request, "Scores submitted." + (f" Next: {following.enterprise}." if following else
                                          " You have scored every entrant. Thank you!"))
    if following is None:
        return _see_other(f"/judging/{competition.id}")
    return _see_other(f"/judging/{competition.id}/entrants/{following.id}")


@guard(JUDGES)
async def judge_state(request: Request) -> Response:
    """What the script polls: which entrants are open for scoring, and this judge's own sheet statuses."""
    competition, _, _ = await judge_competition_for(request)
    async with request.app.state.db.read() as session:
        rows = await progress.judge_overview(session=session, competition=competition, judge_id=request.state.user.id)
    return JSONResponse({"closed": competition.is_closed,
                         "entrants": [{"id": r.entrant.id, "open": r.open, "status": r.status} for r in rows]},
                        headers={"cache-control": "no-store"})


@guard(JUDGES)
async def declare_conflict(request: Request) -> Response:
    competition, event, _ = await judge_competition_for(request)
    entrant_id = request.path_params["entrant_id"]
    form = await request.form()
    reason = str(form.get("reason", ""))[:1000]
    try:
        async with request.app.state.db.write() as session:
            fresh = await get_competition(session=session, competition_id=competition.id)
            await judges.declare_conflict(session=session, competition=fresh, judge_id=request.state.user.id,
                                          entrant_id=entrant_id, reason=reason)
    except JudgingError as exc:
        context = await _score_context(request, competition, event, entrant_id)
        context.update(error=str(exc), reason=reason, conflict_open=True)
        return render(request, "judging/score.html", context, status_code=exc.status)
    flash(request, "Conflict declared: you will not score this entrant. The organiser can see it.")
    return _see_other(f"/judging/{competition.id}")


@guard(PUBLIC)
async def judge_service_worker(request: Request) -> Response:
    """The scoring page's service worker (see the module docstring). At /judging/ so that its scope is
    /judging/; no-cache so a phone always checks for a new version (an ETag makes that a 304)."""
    headers = {"cache-control": "no-cache", "etag": SERVICE_WORKER_ETAG}
    if request.headers.get("if-none-match") == SERVICE_WORKER_ETAG:
        return Response(status_code=304, headers=headers)
    return Response(SERVICE_WORKER, media_type="text/javascript", headers=headers)
