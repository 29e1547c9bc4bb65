"""Helpers shared by the judging route modules: loading what a URL names, and turning domain errors into
clear pages with the right status."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from events.models import Event
from judging import services
from judging.errors import JudgingError, NotFound
from judging.models import Competition
from kernel.web import render

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


async def load_competition(request: Request, *, key: str = "competition_id") -> tuple[Competition, Event]:
    async with request.app.state.db.read() as session:
        try:
            competition = await services.get_competition(session=session,
                                                         competition_id=request.path_params[key])
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
