"""The audience's side of the people's-choice vote: the public vote page the big screen's QR code opens
(the voter types their ticket code), the vote itself, and the ballot on each ticket's own page.

The ticket page belongs to ticketing (ticketing.tickets.ticket_page); `with_ticket_ballots` wraps it so
that judging adds its ballots (request.state.ballots, shown by templates/judging/_ticket_ballots.html)
without ticketing knowing about judging.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from kernel.auth import PUBLIC, flash, form_id, guard
from kernel.web import render
from judging import votes
from judging.errors import JudgingError
from judging.models import Entrant
from judging.pages import load_competition
from judging.services import entrants_for

CODE_MAX = 64  # as ticketing.tickets: no ticket code is longer


async def _page(request: Request, competition, event, *, values=None, error=None, status: int = 200) -> Response:
    """Context: competition, event, entrants (accepted, running order), values {ticket, entrant, from},
    error (message or none), from_ticket (the ticket code the voter came from, or '')."""
    async with request.app.state.db.read() as session:
        entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
    values = values or {"ticket": request.query_params.get("ticket", "")[:CODE_MAX], "entrant": "", "from": ""}
    return render(request, "judging/vote.html", {
        "competition": competition, "event": event, "entrants": entrants, "values": values, "error": error,
        "from_ticket": values["ticket"] if values.get("from") == "ticket" else "",
    }, status_code=status, headers={"cache-control": "no-store"})


@guard(PUBLIC)
async def vote(request: Request) -> Response:
    """GET: the vote form (ticket code and a choice of entrant). POST: cast the ticket's one vote."""
    competition, event = await load_competition(request)
    if request.method == "GET":
        return await _page(request, competition, event)
    form = await request.form()
    values = {"ticket": votes.clean_code(str(form.get("ticket", "")))[:CODE_MAX],
              "entrant": str(form.get("entrant", ""))[:12], "from": str(form.get("from", ""))[:10]}
    try:
        async with request.app.state.db.write() as session:
            cast = await votes.cast_vote(session=session, competition_id=competition.id,
                                         ticket_code=values["ticket"], entrant_id=form_id(values["entrant"]),
                                         via=votes.VIA_TICKET if values["from"] == "ticket" else votes.VIA_CODE)
            entrant = await session.get(Entrant, cast.entrant_id)
    except JudgingError as exc:
        return await _page(request, competition, event, values=values, error=str(exc), status=exc.status)
    flash(request, f"Thank you: your vote for {entrant.enterprise} is in.")
    if values["from"] == "ticket":
        return RedirectResponse(f"/tickets/{values['ticket']}", status_code=303)
    return RedirectResponse(f"/judging/vote/{competition.id}/thanks", status_code=303)


@guard(PUBLIC)
async def thanks(request: Request) -> Response:
    competition, event = await load_competition(request)
    return render(request, "judging/vote_thanks.html", {"competition": competition, "event": event})


def with_ticket_ballots(routes: list[BaseRoute]) -> list[BaseRoute]:
    """`routes` with the ticket page (the route named "ticket") wrapped to show this ticket's ballots."""
    wrapped: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route) and route.name == "ticket":
            route = Route(route.path, _with_ballots(route.endpoint), methods=["GET"], name=route.name)
        wrapped.append(route)
    return wrapped


def _with_ballots(endpoint):
    @guard(PUBLIC)
    @functools.wraps(endpoint)
    async def ticket_page(request: Request) -> Response:
        code = request.path_params.get("code", "")
        if len(code) <= CODE_MAX:
            async with request.app.state.db.read() as session:
                ticket = await votes.find_ticket(session=session, code=code)
                if ticket is not None:
                    request.state.ballots = await votes.ballots_for_ticket(session=session, ticket=ticket)
        return await endpoint(request)

    return ticket_page


routes = [
    Route("/vote/{competition_id:int}", vote, methods=["GET", "POST"], name="judging_vote"),
    Route("/vote/{competition_id:int}/thanks", thanks, methods=["GET"], name="judging_vote_thanks"),
]
