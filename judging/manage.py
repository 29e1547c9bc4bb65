"""Organiser pages for competitions: create, settings, start scoring, entrants, running order, rubric."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.access import NOT_YOURS, managed_event_ids
from judging import document_pages, emails, forms
from judging.competitions import (
    create_competition,
    get_competition,
    list_competitions,
    pitch_night_events,
    start_scoring,
    update_settings,
)
from judging.entrants import (
    add_entrant,
    entrants_for,
    get_entrant,
    set_entrant_status,
    set_running_order,
    update_entrant,
)
from judging.errors import JudgingError
from judging.judges import panel
from judging.models import EntrantStatus
from judging.pages import (
    COMPETITION_ORGANISERS,
    actor_id,
    competition_page,
    load_competition,
    manage_url,
    refusing,
    see_other,
)
from judging.results import heat_leaders
from judging.rounds import add_round, advance_entrants, rounds_for
from judging.rubric import criteria_for, locked_message, save_rubric
from kernel.auth import ORGANISING, flash, form_id, guard
from kernel.web import render

# --- competitions ----------------------------------------------------------------------------------

@guard(ORGANISING)
async def competitions(request: Request) -> Response:
    async with request.app.state.db.read() as session:
        rows = await list_competitions(session=session, only=await managed_event_ids(
            session=session, user=request.state.user))
    return render(request, "judging/manage_list.html", {"rows": rows})


@guard(ORGANISING)
async def new_competition(request: Request) -> Response:
    db = request.app.state.db
    async with db.read() as session:
        only = await managed_event_ids(session=session, user=request.state.user)
        events = await pitch_night_events(session=session, only=only)
    values = {"event_id": request.query_params.get("event", ""), "name": "", "pitch_minutes": "5"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = forms.form_values(await request.form())
        event_id = form_id(values.get("event_id"))
        try:
            minutes = float(values.get("pitch_minutes", "5") or "5")
        except ValueError:
            minutes = -1
        if event_id is None:
            errors["event_id"] = "Choose the pitch-night event this competition belongs to."
        elif only is not None and event_id not in only:
            raise HTTPException(403, NOT_YOURS)
        else:
            try:
                async with db.write() as session:
                    competition = await create_competition(
                        session=session, event_id=event_id, name=values.get("name", ""),
                        pitch_seconds=round(minutes * 60), actor_id=actor_id(request))
            except JudgingError as exc:
                errors[exc.field or "__all__"] = str(exc)
            else:
                flash(request, f"Competition “{competition.name}” created with the default rubric.")
                return see_other(manage_url(competition))
    return render(request, "judging/competition_form.html",
                  {"events": events, "values": values, "errors": errors}, status_code=422 if errors else 200)


async def _overview_context(request: Request, competition, event, values=None, errors=None) -> dict:
    async with request.app.state.db.read() as session:
        criteria = await criteria_for(session=session, competition_id=competition.id)
        entrants = await entrants_for(session=session, competition_id=competition.id)
        members = await panel(session=session, competition_id=competition.id)
    if values is None:
        values = {"name": competition.name, "pitch_minutes": f"{competition.pitch_seconds / 60:g}",
                  "audience_weight_percent": str(competition.audience_weight_percent),
                  "applications_open": competition.applications_open,
                  **{f"tie_break_{i}": rule for i, rule in enumerate(competition.tie_break or [])}}
    counts = {s.value: sum(1 for e in entrants if e.status == s) for s in EntrantStatus}
    return {"competition": competition, "event": event, "criteria": criteria, "counts": counts,
            "judges": len(members), "values": values, "errors": errors or {},
            "tie_break_choices": forms.tie_break_choices(criteria), "slots": range(forms.TIE_BREAK_SLOTS),
            "apply_url": f"{request.app.state.settings.base_url.rstrip('/')}/judging/apply/{competition.id}"}


@guard(COMPETITION_ORGANISERS)
async def overview(request: Request) -> Response:
    competition, event = await load_competition(request)
    return render(request, "judging/competition.html", await _overview_context(request, competition, event))


@guard(COMPETITION_ORGANISERS)
async def settings(request: Request) -> Response:
    competition, event = await load_competition(request)
    data, errors, values = forms.parse_settings(await request.form())
    status = 422
    if data is not None:
        try:
            async with request.app.state.db.write() as session:
                fresh = await get_competition(session=session, competition_id=competition.id,
                                              for_update=True)
                await update_settings(session=session, competition=fresh, data=data,
                                      actor_id=actor_id(request))
        except JudgingError as exc:
            errors = {exc.field or "__all__": str(exc)}
            status = exc.status
        else:
            flash(request, "Settings saved.")
            return see_other(manage_url(competition))
    competition, event = await load_competition(request)
    return render(request, "judging/competition.html",
                  await _overview_context(request, competition, event, values, errors), status_code=status)


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page())
async def start(request: Request) -> Response:
    competition, _ = await load_competition(request)
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        await start_scoring(session=session, competition=fresh, actor_id=actor_id(request))
    flash(request, "Scoring has started. The rubric is now locked.")
    return see_other(manage_url(competition))


# --- entrants --------------------------------------------------------------------------------------

async def _entrants_context(request: Request, competition, event) -> dict:
    async with request.app.state.db.read() as session:
        entrants = await entrants_for(session=session, competition_id=competition.id)
        rounds = await rounds_for(session=session, competition_id=competition.id)
    accepted = [e for e in entrants if e.status == EntrantStatus.ACCEPTED]
    advanced = {e.advanced_from_id for e in entrants if e.advanced_from_id is not None}
    heats = [r for r in rounds if not r.is_final]
    return {"competition": competition, "event": event, "rounds": {r.id: r for r in rounds},
            "entrants_by_id": {e.id: e for e in entrants},
            "final": next((r for r in rounds if r.is_final), None), "heats": heats,
            # Heat entrants that may still advance to the final, heat by heat.
            "to_advance": [(h, [e for e in accepted if e.round_id == h.id and e.id not in advanced]) for h in heats],
            "accepted": accepted,
            "applied": [e for e in entrants if e.status == EntrantStatus.APPLIED],
            "rejected": [e for e in entrants if e.status == EntrantStatus.REJECTED]}


@guard(COMPETITION_ORGANISERS)
async def entrants(request: Request) -> Response:
    competition, event = await load_competition(request)
    return render(request, "judging/entrants.html", await _entrants_context(request, competition, event))


async def _entrant_form(request: Request, competition, event, entrant=None) -> Response:
    db = request.app.state.db
    async with db.read() as session:
        rounds = await rounds_for(session=session, competition_id=competition.id)
    if entrant is not None:
        values = {"name": entrant.name, "enterprise": entrant.enterprise, "pitch": entrant.pitch,
                  "social_mission": entrant.social_mission, "contact_email": entrant.contact_email,
                  "round_id": str(entrant.round_id or "")}
    else:
        values = {}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        data, errors, values = forms.parse_entrant(await request.form(), rounds)
        status = 422
        if data is not None:
            try:
                async with db.write() as session:
                    if entrant is None:
                        fresh = await get_competition(session=session, competition_id=competition.id)
                        saved = await add_entrant(session=session, competition=fresh, data=data,
                                                  actor_id=actor_id(request))
                    else:
                        saved = await get_entrant(session=session, entrant_id=entrant.id)
                        await update_entrant(session=session, entrant=saved, data=data,
                                             actor_id=actor_id(request))
            except JudgingError as exc:
                errors = {exc.field or "__all__": str(exc)}
                status = exc.status
            else:
                flash(request, f"“{saved.enterprise}” saved.")
                return see_other(manage_url(competition, "entrants"))
    return render(request, "judging/entrant_form.html",
                  {"competition": competition, "event": event, "entrant": entrant, "rounds": rounds,
                   "values": values, "errors": errors}, status_code=status)


async def _entrant(request: Request, competition):
    async with request.app.state.db.read() as session:
        try:
            return await get_entrant(session=session, entrant_id=request.path_params["entrant_id"],
                                     competition_id=competition.id)
        except JudgingError as exc:
            raise HTTPException(404, str(exc)) from None


@guard(COMPETITION_ORGANISERS)
async def new_entrant(request: Request) -> Response:
    competition, event = await load_competition(request)
    return await _entrant_form(request, competition, event)


@guard(COMPETITION_ORGANISERS)
async def edit_entrant(request: Request) -> Response:
    competition, event = await load_competition(request)
    return await _entrant_form(request, competition, event, await _entrant(request, competition))


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("entrants"), "Back to entrants")
async def entrant_status(request: Request) -> Response:
    competition, _ = await load_competition(request)
    entrant = await _entrant(request, competition)
    form = await request.form()
    status = str(form.get("status", ""))
    async with request.app.state.db.write() as session:
        fresh = await get_entrant(session=session, entrant_id=entrant.id)
        was_applied = fresh.status == EntrantStatus.APPLIED
        await set_entrant_status(session=session, entrant=fresh, status=status,
                                 actor_id=actor_id(request))
        if was_applied and fresh.status != EntrantStatus.APPLIED:
            await emails.enqueue_decision(session=session, entrant=fresh, competition=competition,
                                          base_url=request.app.state.settings.base_url)
    flash(request, f"“{entrant.enterprise}” is now {status}.")
    return see_other(manage_url(competition, "entrants"))


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("entrants"), "Back to entrants")
async def running_order(request: Request) -> Response:
    competition, _ = await load_competition(request)
    positions = forms.parse_positions(await request.form(), "order_")
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        await set_running_order(session=session, competition=fresh, positions=positions,
                                actor_id=actor_id(request))
    flash(request, "Running order saved.")
    return see_other(manage_url(competition, "entrants"))


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("entrants"), "Back to entrants")
async def new_round(request: Request) -> Response:
    competition, _ = await load_competition(request)
    form = await request.form()
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id)
        heat = await add_round(session=session, competition=fresh, name=str(form.get("round_name", "")),
                               kind=str(form.get("round_kind", "heat")), actor_id=actor_id(request))
    flash(request, f"Round “{heat.name}” added. Choose it on each entrant’s page.")
    return see_other(manage_url(competition, "entrants"))


@guard(COMPETITION_ORGANISERS)
@refusing(competition_page("entrants"), "Back to entrants")
async def advance(request: Request) -> Response:
    """Advance to the final: a heat's top N (its ranking as the results page shows it now) or entrants the
    organiser ticks. Each becomes a new entrant in the final, scored and ranked there on its own."""
    competition, _ = await load_competition(request)
    back = manage_url(competition, "entrants")
    data = forms.parse_advance(await request.form())
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        entrant_ids = data.entrant_ids or await heat_leaders(session=session, competition=fresh,
                                                             round_id=data.heat_id, top=data.top)
        finalists = await advance_entrants(session=session, competition=fresh, final_id=data.final_id,
                                           entrant_ids=entrant_ids, actor_id=actor_id(request))
        names = ", ".join(e.enterprise for e in finalists)
    flash(request, f"Advanced to the final: {names}. They join the end of the running order; judges score them "
                   "again when their final pitch starts.")
    return see_other(back)


# --- the rubric ------------------------------------------------------------------------------------

def _rubric_rows(criteria) -> dict:
    values: dict = {}
    for i, c in enumerate(criteria):
        values.update({f"id_{i}": str(c.id), f"key_{i}": c.key, f"name_{i}": c.name,
                       f"description_{i}": c.description, f"scale_min_{i}": str(c.scale_min),
                       f"scale_max_{i}": str(c.scale_max), f"weight_{i}": str(c.weight),
                       f"position_{i}": str(c.position)})
    n = len(criteria)
    values.update({f"scale_min_{n}": "1", f"scale_max_{n}": "10", f"weight_{n}": "10", f"position_{n}": str(n + 1)})
    return values


def _row_count(values: dict) -> int:
    """Rows to show: every row the form had (the saved criteria plus the blank one for adding)."""
    indexes = [int(m.group(1)) for k in values if (m := re.fullmatch(r"(?:name|id|scale_min)_(\d{1,3})", k))]
    return max(indexes, default=-1) + 1


@guard(COMPETITION_ORGANISERS)
async def rubric(request: Request) -> Response:
    competition, event = await load_competition(request)
    db = request.app.state.db
    async with db.read() as session:
        criteria = await criteria_for(session=session, competition_id=competition.id)
    values, errors, status = _rubric_rows(criteria), {}, 200
    if request.method == "POST":
        rows, errors, values = forms.parse_rubric(await request.form())
        status = 422
        if rows is not None:
            try:
                async with db.write() as session:
                    fresh = await get_competition(session=session, competition_id=competition.id,
                                                  for_update=True)
                    await save_rubric(session=session, competition=fresh, rows=rows,
                                      actor_id=actor_id(request))
            except JudgingError as exc:
                errors = {"__all__": str(exc)}
                status = exc.status
            else:
                flash(request, "Rubric saved.")
                return see_other(manage_url(competition, "rubric"))
    total = sum(c.weight for c in criteria) or 1
    return render(request, "judging/rubric.html",
                  {"competition": competition, "event": event, "criteria": criteria, "values": values,
                   "errors": errors, "rows": range(_row_count(values)), "total_weight": total,
                   "locked_message": locked_message(competition) if competition.rubric_locked else ""},
                  status_code=status)


routes = [
    Route("/competitions", competitions, methods=["GET"], name="judging_competitions"),
    Route("/competitions/new", new_competition, methods=["GET", "POST"], name="judging_new_competition"),
    Route("/competitions/{competition_id:int}", overview, methods=["GET"], name="judging_competition"),
    Route("/competitions/{competition_id:int}/settings", settings, methods=["POST"], name="judging_settings"),
    Route("/competitions/{competition_id:int}/start", start, methods=["POST"], name="judging_start"),
    Route("/competitions/{competition_id:int}/entrants", entrants, methods=["GET"], name="judging_entrants"),
    Route("/competitions/{competition_id:int}/entrants/new", new_entrant, methods=["GET", "POST"],
          name="judging_new_entrant"),
    Route("/competitions/{competition_id:int}/entrants/{entrant_id:int}/edit", edit_entrant,
          methods=["GET", "POST"], name="judging_edit_entrant"),
    Route("/competitions/{competition_id:int}/entrants/{entrant_id:int}/status", entrant_status,
          methods=["POST"], name="judging_entrant_status"),
    Route("/competitions/{competition_id:int}/running-order", running_order, methods=["POST"],
          name="judging_running_order"),
    Route("/competitions/{competition_id:int}/rounds", new_round, methods=["POST"], name="judging_add_round"),
    Route("/competitions/{competition_id:int}/advance", advance, methods=["POST"], name="judging_advance"),
    Route("/competitions/{competition_id:int}/rubric", rubric, methods=["GET", "POST"], name="judging_rubric"),
    *document_pages.routes,  # score-sheets.pdf, feedback.pdf, results.pdf (judging/document_pages.py)
]
