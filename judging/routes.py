"""Public and judge pages under /judging: applying to pitch, magic-link sign-in, scoring, released results."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from events.access import may_manage_event
from judging import forms, judges, progress
from judging.competitions import get_competition
from judging.entrants import apply
from judging.errors import JudgingError
from judging.models import CompetitionStatus, ResultsVisibility
from judging.pages import judge_competition_for, load_competition, refusing
from judging.results import load_results
from judging.rounds import rounds_for
from judging.score_pages import declare_conflict, judge_service_worker, judge_state, score
from kernel import ratelimit
from kernel.accounts import Role, open_session
from kernel.auth import JUDGES, PUBLIC, begin_session, client_address, flash, guard
from kernel.web import render


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- applying --------------------------------------------------------------------------------------

def _applications_open(competition) -> bool:
    return competition.applications_open and competition.status == CompetitionStatus.SETUP


@guard(PUBLIC)
async def apply_page(request: Request) -> Response:
    """The public application form: creates an applied entrant the organiser accepts or rejects."""
    competition, event = await load_competition(request)
    context = {"competition": competition, "event": event, "values": {}, "errors": {},
               "honeypot": forms.HONEYPOT_FIELD, "open": _applications_open(competition)}
    if request.method == "GET":
        return render(request, "judging/apply.html", context)
    if not context["open"]:
        return render(request, "judging/apply.html", context, status_code=409)
    form = await request.form()
    if str(form.get(forms.HONEYPOT_FIELD, "")).strip():
        raise HTTPException(400, "Sorry, we could not process that application. Please try again.")
    data, errors, values = forms.parse_entrant(form)
    if values.get("consent") not in ("on", "1", "yes"):
        errors["consent"] = "Please agree that we may keep these details to run the competition."
        data = None
    if data is None:
        return render(request, "judging/apply.html", {**context, "values": values, "errors": errors},
                      status_code=422)
    settings = request.app.state.settings
    db = request.app.state.db
    async with db.read() as session:
        used = await ratelimit.count_recent(session=session, bucket="judging-apply", key=client_address(request),
                                            window_seconds=settings.registration_window_seconds,
                                            up_to=settings.registration_limit)
    if used >= settings.registration_limit:
        raise HTTPException(429, "Too many applications from your connection in a short time. Please wait a few "
                                 "minutes and try again.")
    try:
        async with db.write() as session:
            fresh = await get_competition(session=session, competition_id=competition.id)
            await apply(session=session, competition=fresh, data=data)
            await ratelimit.record(session=session, bucket="judging-apply", key=client_address(request))
    except JudgingError as exc:
        return render(request, "judging/apply.html", {**context, "values": values, "errors": {"__all__": str(exc)}},
                      status_code=exc.status)
    flash(request, f"Thank you: your application for “{data.enterprise}” has arrived. We will email "
                   f"{data.contact_email} when the organisers have decided.")
    return _see_other(f"/judging/apply/{competition.id}")


# --- magic-link sign-in ----------------------------------------------------------------------------

@guard(PUBLIC)
@refusing()
async def magic(request: Request) -> Response:
    """GET shows a confirm button (mail scanners that open links do not use them up); POST signs in."""
    token = request.path_params["token"]
    db = request.app.state.db
    if request.method == "GET":
        async with db.read() as session:
            judge = await judges.check_magic_link(session=session, token=token)
        return render(request, "judging/magic.html", {"judge": judge, "token": token},
                      headers={"cache-control": "no-store"})
    async with db.write() as session:
        judge, competition_id = await judges.redeem_magic_link(session=session, token=token)
        sid = await open_session(session=session, user=judge)
    begin_session(request, judge, sid)  # a fresh session (and CSRF token), as kernel.login does
    flash(request, f"Signed in as {judge.name}. Welcome to the judging panel.")
    return _see_other(f"/judging/{competition_id}")


# --- judges ----------------------------------------------------------------------------------------

@guard(JUDGES)
async def home(request: Request) -> Response:
    async with request.app.state.db.read() as session:
        mine = await judges.competitions_for_judge(session=session, user_id=request.state.user.id)
    return render(request, "judging/judge_home.html", {"competitions": mine})


@guard(JUDGES)
async def judge_competition(request: Request) -> Response:
    competition, event, assignment = await judge_competition_for(request)
    async with request.app.state.db.read() as session:
        rows = await progress.judge_overview(session=session, competition=competition, judge_id=request.state.user.id)
        rounds = {r.id: r for r in await rounds_for(session=session, competition_id=competition.id)}
    return render(request, "judging/judge_competition.html",
                  {"competition": competition, "event": event, "rows": rows,
                   "next_row": progress.main_row(rows, competition.current_entrant_id),
                   "on_stage_id": competition.current_entrant_id, "is_chair": assignment.is_chair,
                   "rounds": rounds})


# --- released results ------------------------------------------------------------------------------

@guard(PUBLIC)
async def results(request: Request) -> Response:
    """Released results: for everyone, or for the panel only, as the organiser chose at release."""
    competition, event = await load_competition(request)
    user = getattr(request.state, "user", None)
    if not competition.released:
        raise HTTPException(404, "The results of this competition have not been released yet.")
    if competition.results_visibility == ResultsVisibility.JUDGES:
        allowed = False
        if user is not None and user.role in (Role.ADMIN, Role.ORGANISER):
            async with request.app.state.db.read() as session:
                allowed = await may_manage_event(session=session, user=user, event_id=event.id)
        if user is not None and user.role == Role.JUDGE:
            async with request.app.state.db.read() as session:
                try:
                    await judges.require_judge(session=session, competition_id=competition.id, user_id=user.id)
                    allowed = True
                except JudgingError:
                    pass
        if not allowed:
            raise HTTPException(403, "These results are shared with the competition’s judges only.")
    async with request.app.state.db.read() as session:
        view = await load_results(session=session, competition=competition)
    return render(request, "judging/results.html",
                  {"competition": competition, "event": event, "view": view, "organiser": False})


routes = [
    Route("/", home, methods=["GET"], name="judging_home"),
    Route("/apply/{competition_id:int}", apply_page, methods=["GET", "POST"], name="judging_apply"),
    Route("/magic/{token}", magic, methods=["GET", "POST"], name="judging_magic"),
    Route("/sw.js", judge_service_worker, methods=["GET"], name="judging_service_worker"),
    Route("/results/{competition_id:int}", results, methods=["GET"], name="judging_results"),
    Route("/{competition_id:int}", judge_competition, methods=["GET"], name="judging_judge_competition"),
    Route("/{competition_id:int}/state.json", judge_state, methods=["GET"], name="judging_judge_state"),
    Route("/{competition_id:int}/entrants/{entrant_id:int}", score, methods=["GET", "POST"], name="judging_score"),
    Route("/{competition_id:int}/entrants/{entrant_id:int}/conflict", declare_conflict, methods=["POST"],
          name="judging_conflict"),
]
