"""The host screen (organisers only, shown on the big screen): the entrant up now with a countdown for the
pitch, the controls that run the night, and the audience-vote QR code while the vote is open.

Routes (under /organiser): the page, a small JSON state for its script, and the POSTs behind its buttons
(next entrant, back to the previous entrant, start pitch, open / close the vote, open scoring for an
entrant without a pitch). Next, back and start carry the entrant who was up on the screen pressed
(judging.night explains): a double press moves the stage once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from judging import night, votes
from judging.competitions import get_competition
from judging.errors import InvalidInput, JudgingError
from judging.pages import (
    COMPETITION_ORGANISERS,
    Back,
    actor_id,
    competition_page,
    load_competition,
    manage_url,
    refusing,
)
from kernel.auth import flash, form_id, guard
from kernel.db import utcnow
from kernel.qr import qr_svg
from kernel.web import render


def vote_url(request: Request, competition_id: int) -> str:
    return f"{request.app.state.settings.base_url.rstrip('/')}/judging/vote/{competition_id}"


def _iso(value) -> str | None:
    return value.isoformat() if value else None


@guard(COMPETITION_ORGANISERS)
async def host(request: Request) -> Response:
    """Context: competition, event, stage (judging.night.Stage), ends_at (UTC or none), now (UTC),
    vote_url, vote_qr (SVG markup or none: only while the vote is open), tally (judging.votes.Tally)."""
    competition, event = await load_competition(request)
    async with request.app.state.db.read() as session:
        stage = await night.stage(session=session, competition=competition)
        tally = await votes.tally_rows(session=session, competition_id=competition.id)
    url = vote_url(request, competition.id)
    current = stage.current
    return render(request, "judging/host.html", {
        "competition": competition, "event": event, "stage": stage, "tally": tally, "now": utcnow(),
        "ends_at": current.pitch_ends_at(competition.pitch_seconds) if current else None,
        "vote_url": url, "vote_qr": Markup(qr_svg(url)) if competition.voting_open else None,
    }, headers={"cache-control": "no-store"})


@guard(COMPETITION_ORGANISERS)
async def host_state(request: Request) -> Response:
    """What the host screen's script polls: who is up, when their pitch ends, the vote and its count."""
    competition, _ = await load_competition(request)
    async with request.app.state.db.read() as session:
        stage = await night.stage(session=session, competition=competition)
        tally = await votes.tally_rows(session=session, competition_id=competition.id)
    current = stage.current
    return JSONResponse({
        "now": _iso(utcnow()),
        "current": current.id if current else None,
        "pitch_started_at": _iso(current.pitch_started_at) if current else None,
        "ends_at": _iso(current.pitch_ends_at(competition.pitch_seconds)) if current else None,
        "voting_open": competition.voting_open,
        "votes": {str(e.id): n for e, n in tally.rows},
        "total_votes": tally.total,
    }, headers={"cache-control": "no-store"})


async def _act(request: Request, action, done: str | Callable[[Any], tuple[str, str]], back: Back) -> Response:
    """Run `action` on the locked competition, then flash `done` (formatted with its result, or a function of
    the result giving the message and its category) and go `back`; a domain error it raises reaches the
    route's @refusing, whose way back is the same `back`."""
    competition, _ = await load_competition(request)
    async with request.app.state.db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        result = await action(session, fresh)
    message, category = done(result) if callable(done) else (done.format(result=result), "info")
    flash(request, message, category)
    return RedirectResponse(await back(request), status_code=303)


async def _vote_back(request: Request) -> str:
    """The vote is opened and closed from the host screen and from the results page: go back to the one the
    form came from (only those two, never an address from the form as it stands)."""
    back = str((await request.form()).get("back", ""))
    competition_id = request.path_params["competition_id"]
    allowed = {manage_url(competition_id, "host"), manage_url(competition_id, "results")}
    return back if back in allowed else manage_url(competition_id, "host")


HOST, ENTRANTS = competition_page("host"), competition_page("entrants")


async def _on_screen(request: Request, field: str) -> int | None:
    """The entrant who was up on the host screen the press came from (None: nobody yet), from the form's
    `field`. A form without it (a page from before presses carried it) is refused: it cannot be told apart
    from a double press."""
    form = await request.form()
    if field not in form:
        raise InvalidInput("This host screen is out of date: reload it and press again.")
    value = str(form.get(field, "")).strip()
    if value == "":
        return None
    number = form_id(value)
    if number is None:
        raise InvalidInput("Reload the host screen and press again.")
    return number


async def _move_stage(request: Request, move, done: str) -> Response:
    """Next entrant / back: `move` (judging.night.next_entrant or previous_entrant) from the entrant on the
    screen that was pressed; a stale press (a double press) changes nothing and says, as a warning, who is up."""
    on_screen = await _on_screen(request, "from_entrant_id")

    async def action(session, competition):
        return await move(session=session, competition=competition, actor_id=actor_id(request),
                          from_entrant_id=on_screen)

    def said(result: night.Move) -> tuple[str, str]:
        if result.moved:
            return done.format(result.entrant.enterprise), "info"
        up = f"{result.entrant.enterprise} is up." if result.entrant else "Nobody is up yet."
        return f"The stage had already moved on, so that press changed nothing: {up}", "warning"

    return await _act(request, action, said, HOST)


@guard(COMPETITION_ORGANISERS)
@refusing(HOST, "Back")
async def next_entrant(request: Request) -> Response:
    return await _move_stage(request, night.next_entrant, "{} is up.")


@guard(COMPETITION_ORGANISERS)
@refusing(HOST, "Back")
async def previous_entrant(request: Request) -> Response:
    return await _move_stage(request, night.previous_entrant, "Back to {}: they are up again.")


@guard(COMPETITION_ORGANISERS)
@refusing(HOST, "Back")
async def start_pitch(request: Request) -> Response:
    on_screen = await _on_screen(request, "entrant_id")

    async def action(session, competition):
        entrant = await night.start_pitch(session=session, competition=competition, actor_id=actor_id(request),
                                          entrant_id=on_screen)
        return entrant.enterprise

    return await _act(request, action, "{result}’s pitch has started: the judges can score them now.", HOST)


@guard(COMPETITION_ORGANISERS)
@refusing(_vote_back, "Back")
async def voting(request: Request) -> Response:
    form = await request.form()
    choice = str(form.get("voting", ""))

    async def action(session, competition):
        if choice == "open":
            await votes.open_voting(session=session, competition=competition, actor_id=actor_id(request))
            return "The audience vote is open."
        if choice == "close":
            await votes.close_voting(session=session, competition=competition, actor_id=actor_id(request))
            return "The audience vote is closed."
        raise JudgingError("Choose whether to open or close the vote.")

    return await _act(request, action, "{result}", _vote_back)


@guard(COMPETITION_ORGANISERS)
@refusing(ENTRANTS, "Back")
async def open_scoring(request: Request) -> Response:
    entrant_id = request.path_params["entrant_id"]

    async def action(session, competition):
        entrant = await night.open_scoring(session=session, competition=competition, entrant_id=entrant_id,
                                           actor_id=actor_id(request))
        return entrant.enterprise

    return await _act(request, action, "Scoring for {result} is open (without a pitch on the host screen).",
                      ENTRANTS)


routes = [
    Route("/competitions/{competition_id:int}/host", host, methods=["GET"], name="judging_host"),
    Route("/competitions/{competition_id:int}/host.json", host_state, methods=["GET"], name="judging_host_state"),
    Route("/competitions/{competition_id:int}/host/next", next_entrant, methods=["POST"], name="judging_host_next"),
    Route("/competitions/{competition_id:int}/host/back", previous_entrant, methods=["POST"],
          name="judging_host_back"),
    Route("/competitions/{competition_id:int}/host/start", start_pitch, methods=["POST"],
          name="judging_host_start"),
    Route("/competitions/{competition_id:int}/voting", voting, methods=["POST"], name="judging_voting"),
    Route("/competitions/{competition_id:int}/entrants/{entrant_id:int}/open-scoring", open_scoring,
          methods=["POST"], name="judging_open_scoring"),
]
