"""Organiser pages for the night itself: the judging panel and sign-in links, the live scoring view,
unlocking a sheet, results (preview, casting decision, the audience vote's tally), release, and the audit
trail. The host screen is judging.host."""

from __future__ import annotations

from markupsafe import Markup
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from judging import forms, judges, sheets
from judging.audit import audit, audit_trail
from judging.competitions import get_competition, release_results, set_chair_order
from judging.entrants import entrants_for
from judging.errors import InvalidInput, JudgingError, NotFound
from judging.models import JudgeAssignment, ResultsVisibility
from judging.pages import (
    COMPETITION_ORGANISERS,
    actor_id,
    competition_page,
    load_competition,
    manage_url,
    refusing,
    see_other,
)
from judging.results import load_live, load_results
from kernel.accounts import User
from kernel.auth import flash, guard
from kernel.db import utcnow
from kernel.qr import qr_svg
from kernel.text import one_line
from kernel.web import render

# --- the panel -------------------------------------------------------------------------------------

async def _panel_page(request: Request, competition, event, *, values=None, errors=None, new_link=None,
                      status: int = 200) -> Response:
    async with request.app.state.db.read() as session:
        members = await judges.panel(session=session, competition_id=competition.id)
        conflicts = await judges.conflicts_for(session=session, competition_id=competition.id)
        entrants = {e.id: e for e in await entrants_for(session=session, competition_id=competition.id)}
    names = {m.user.id: m.user.name for m in members}
    context = {
        "competition": competition, "event": event, "members": members, "values": values or {},
        "errors": errors or {}, "new_link": new_link,
        "new_link_qr": Markup(qr_svg(new_link["link"])) if new_link else None,
        "conflicts": [(c, names.get(c.judge_id, f"Judge {c.judge_id}"), entrants.get(c.entrant_id))
                      for c in conflicts],
    }
    return render(request, "judging/judges.html", context, status_code=status)


@guard(COMPETITION_ORGANISERS)
async def panel_page(request: Request) -> Response:
    competition, event = await load_competition(request)
    if request.method == "GET":
        return await _panel_page(request, competition, event)
    values = forms.form_values(await request.form())
    email = values.get("email", "").strip()
    name = one_line(values.get("name", ""))
    errors = {}
    if not forms.valid_email(email):
        errors["email"] = "Enter the judge’s email address, like name@example.com."
    if not name or len(name) > 120:
        errors["name"] = "Enter the judge’s name (up to 120 characters)."
    if errors:
        return await _panel_page(request, competition, event, values=values, errors=errors, status=422)
    try:
        async with request.app.state.db.write() as session:
            fresh = await get_competition(session=session, competition_id=competition.id)
            invitation = await judges.invite_judge(
                session=session, competition=fresh, email=email, name=name,
                is_chair=values.get("is_chair") in ("on", "1"), base_url=request.app.state.settings.base_url,
                actor_id=actor_id(request))
    except JudgingError as exc:
        return await _panel_page(request, competition, event, values=values,
                                 errors={exc.field or "__all__": str(exc)}, status=exc.status)
    new_link = {"name": invitation.user.name, "email": invitation.user.email, "link": invitation.link,
                "created_account": invitation.created_account}
    # Shown once, here: only the link's hash is stored, so it cannot be shown again later.
    return await _panel_page(request, competition, event, new_link=new_link)


async def _assignment(request: Request, competition) -> tuple[JudgeAssignment, User]:
    async with request.app.state.db.read() as session:
        assignment = await session.get(JudgeAssignment, request.path_params["assignment_id"])
        user = await session.get(User, assignment.user_id) if assignment else None
    if assignment is None or assignment.competition_id != competition.id or user is None:
        raise HTTPException(404, "That judge is not on this competition’s panel.")
    return assignment, user


@guard(COMPETITION_ORGANISERS)
async def new_link(request: Request) -> Response:
    """A fresh one-time sign-in link for a judge (lost email, used link, new phone)."""
    competition, event = await load_competition(request)
    _, user = await _assignment(request, competition)
    settings = request.app.state.settings
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id)
        _, link = await judges.new_magic_link(session=session, user=user, competition=fresh,
                                              base_url=settings.base_url)
        await audit(session=session, competition_id=competition.id, actor_id=actor_id(request),
                    action="judge.link", subject=user.email)
    return await _panel_page(request, competition, event,
                             new_link={"name": user.name, "email": user.email, "link": link,
                                       "created_account": False})


@guard(COMPETITION_ORGANISERS)
async def make_chair(request: Request) -> Response:
    competition, _ = await load_competition(request)
    assignment, user = await _assignment(request, competition)
    async with request.app.state.db.write() as session:
        fresh = await session.get(JudgeAssignment, assignment.id)
        await judges.set_chair(session=session, competition_id=competition.id, assignment=fresh,
                               actor_id=actor_id(request))
    flash(request, f"{user.name} is now the chair.")
    return see_other(manage_url(competition, "judges"))


# --- live view and unlocking -----------------------------------------------------------------------

@guard(COMPETITION_ORGANISERS)
async def live(request: Request) -> Response:
    """Who has scored whom, and the provisional ranking (organisers only: judges never see scores before the
    release). ?fragment=1 returns only the grid and ranking, for the page's few-second refresh."""
    competition, event = await load_competition(request)
    async with request.app.state.db.read() as session:
        grid, view = await load_live(session=session, competition=competition)
    context = {"competition": competition, "event": event, "grid": grid, "view": view, "updated": utcnow()}
    if request.query_params.get("fragment") == "1":
        return render(request, "judging/_live_table.html", context, headers={"cache-control": "no-store"})
    return render(request, "judging/live.html", context)


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("live"), "Back to the live view")
async def unlock(request: Request) -> Response:
    competition, _ = await load_competition(request)
    form = await request.form()
    async with request.app.state.db.write() as session:
        sheet = await session.get(sheets.ScoreSheet, request.path_params["sheet_id"])
        if sheet is None or sheet.competition_id != competition.id:
            raise NotFound("There is no score sheet with that number in this competition.")
        await sheets.unlock_sheet(session=session, sheet_id=sheet.id, reason=str(form.get("reason", "")),
                                  actor_id=actor_id(request))
    flash(request, "Sheet unlocked: the judge can change it and submit again.")
    return see_other(manage_url(competition, "live"))


# --- results ---------------------------------------------------------------------------------------

@guard(COMPETITION_ORGANISERS)
async def results_preview(request: Request) -> Response:
    competition, event = await load_competition(request)
    async with request.app.state.db.read() as session:
        view = await load_results(session=session, competition=competition)
    return render(request, "judging/results.html",
                  {"competition": competition, "event": event, "view": view, "organiser": True,
                   "visibilities": [v.value for v in ResultsVisibility]})


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("results"), "Back to results")
async def chair_order(request: Request) -> Response:
    competition, _ = await load_competition(request)
    positions = forms.parse_positions(await request.form(), "chair_")
    order = [entrant_id for entrant_id, p in sorted(positions.items(), key=lambda kv: (kv[1], kv[0])) if p > 0]
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        await set_chair_order(session=session, competition=fresh, entrant_ids=order,
                              actor_id=actor_id(request))
    flash(request, "The chair’s casting decision is recorded.")
    return see_other(manage_url(competition, "results"))


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("results"), "Back to results")
async def release(request: Request) -> Response:
    competition, _ = await load_competition(request)
    form = await request.form()
    if form.get("confirm") not in ("on", "1", "yes"):
        raise InvalidInput("Tick the box to confirm: released results cannot be changed.")
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        await release_results(session=session, competition=fresh,
                              visibility=str(form.get("visibility", "")), actor_id=actor_id(request))
    flash(request, "Results released.")
    return see_other(manage_url(competition, "results"))


@guard(COMPETITION_ORGANISERS)
async def audit_page(request: Request) -> Response:
    competition, event = await load_competition(request)
    async with request.app.state.db.read() as session:
        entries = await audit_trail(session=session, competition_id=competition.id)
        ids = {e.actor_id for e in entries if e.actor_id}
        users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return render(request, "judging/audit.html",
                  {"competition": competition, "event": event, "entries": entries, "users": users})


routes = [
    Route("/competitions/{competition_id:int}/judges", panel_page, methods=["GET", "POST"], name="judging_panel"),
    Route("/competitions/{competition_id:int}/judges/{assignment_id:int}/link", new_link, methods=["POST"],
          name="judging_new_link"),
    Route("/competitions/{competition_id:int}/judges/{assignment_id:int}/chair", make_chair, methods=["POST"],
          name="judging_make_chair"),
    Route("/competitions/{competition_id:int}/live", live, methods=["GET"], name="judging_live"),
    Route("/competitions/{competition_id:int}/sheets/{sheet_id:int}/unlock", unlock, methods=["POST"],
          name="judging_unlock"),
    Route("/competitions/{competition_id:int}/results", results_preview, methods=["GET"],
          name="judging_results_preview"),
    Route("/competitions/{competition_id:int}/chair-order", chair_order, methods=["POST"],
          name="judging_chair_order"),
    Route("/competitions/{competition_id:int}/release", release, methods=["POST"], name="judging_release"),
    Route("/competitions/{competition_id:int}/audit", audit_page, methods=["GET"], name="judging_audit"),
]
