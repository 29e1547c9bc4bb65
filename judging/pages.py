"""Helpers shared by the judging route modules: loading what a URL names, and turning domain errors into
clear pages with the right status (`refusing`, the one place organiser and judge routes do so)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from events.access import event_of_row, scoped
from events.models import Event
from judging.competitions import get_competition
from judging.errors import JudgingError, NotFound
from judging.models import Competition
from kernel.auth import ORGANISING
from kernel.web import render

# The organiser pages of a competition: its event's organisers (and the hub administrator).
COMPETITION_ORGANISERS = scoped(ORGANISING, event_of_row(Competition, "competition_id", "competition"))

def see_other(url: str) -> RedirectResponse:
    """After a form that changed something: on to `url` (303, so a reload does not send the form again)."""
    return RedirectResponse(url, status_code=303)


TITLES = {
    403: "Not allowed",
    404: "Not found",
    409: "That cannot be done now",
    410: "This link no longer works",
    422: "Something in that form was not right",
}


def refuse(request: Request, exc: JudgingError, *, back: str | None = None, back_label: str = "Go back",
           status: int | None = None) -> Response:
    """A full page saying what was refused and why, with a way back; status from the error."""
    status = status or exc.status
    return render(request, "judging/refused.html",
                  {"status": status, "title": TITLES.get(status, "That did not work"), "detail": str(exc),
                   "back": back, "back_label": back_label}, status_code=status)


# Where a refused page links back to, worked out from the request that was refused.
Back = Callable[[Request], Awaitable[str | None]]
Endpoint = Callable[[Request], Awaitable[Response]]


def competition_page(page: str = "") -> Back:
    """The way back to the organiser's page `page` (the overview when empty) of the competition in the URL."""

    async def back(request: Request) -> str:
        return manage_url(request.path_params["competition_id"], page)

    return back


def refusing(back: Back | None = None, label: str = "Go back") -> Callable[[Endpoint], Endpoint]:
    """Route decorator: a JudgingError the route raises (its transaction already rolled back) answers with
    refuse(): the error's status and message, and a link `label` to `back(request)` when given. Put it
    under @guard, so only a permitted user's request reaches the route."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def refused_on_error(request: Request) -> Response:
            try:
                return await endpoint(request)
            except JudgingError as exc:
                return refuse(request, exc, back=await back(request) if back else None, back_label=label)

        return refused_on_error

    return decorate


async def load_competition(request: Request, *, key: str = "competition_id") -> tuple[Competition, Event]:
    async with request.app.state.db.read() as session:
        try:
            competition = await get_competition(session=session, competition_id=request.path_params[key])
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        event = await session.get(Event, competition.event_id)
    return competition, event


async def judge_competition_for(request: Request):
    """(competition, event, the judge's assignment) for the competition in the URL; 403 when the signed-in
    judge is not on its panel."""
    from judging.judges import require_judge

    competition, event = await load_competition(request)
    async with request.app.state.db.read() as session:
        try:
            assignment = await require_judge(session=session, competition_id=competition.id,
                                             user_id=request.state.user.id)
        except JudgingError as exc:
            raise HTTPException(exc.status, str(exc)) from None
    return competition, event, assignment


def manage_url(competition: Competition | int, page: str = "") -> str:
    cid = competition if isinstance(competition, int) else competition.id
    return f"/organiser/competitions/{cid}" + (f"/{page}" if page else "")


def actor_id(request: Request) -> int | None:
    user = getattr(request.state, "user", None)
    return user.id if user is not None else None
