"""The audience's side of the people's-choice vote: the public vote page the big screen's QR code opens
(the voter types their ticket code), the vote itself, and the ballot on each ticket's own page.

The ticket page belongs to ticketing (ticketing.tickets.ticket_page); judging adds its ballots to it through
the ticket_page_panels extension point (`ticket_ballots`), without ticketing knowing about judging.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from judging import votes
from judging.entrants import entrants_for
from judging.errors import JudgingError
from judging.models import Entrant
from judging.pages import load_competition
from kernel.auth import PUBLIC, flash, form_id, guard
from kernel.hooks import Panel
from kernel.web import render

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


async def ticket_ballots(request: Request, ticket, event) -> Panel | None:
    """The ticket page's people's-choice ballots (ticket_page_panels, kernel.hooks); None when the ticket's event
    has no vote open to it."""
    del event  # the ballots are found from the ticket
    async with request.app.state.db.read() as session:
        ours = await votes.find_ticket(session=session, code=ticket.code)  # loaded in this session
        ballots = await votes.ballots_for_ticket(session=session, ticket=ours) if ours is not None else []
    return Panel("judging/_ticket_ballots.html", {"ballots": ballots}) if ballots else None


routes = [
    Route("/vote/{competition_id:int}", vote, methods=["GET", "POST"], name="judging_vote"),
    Route("/vote/{competition_id:int}/thanks", thanks, methods=["GET"], name="judging_vote_thanks"),
]
