"""Organiser routes serving the printed competition documents (judging.documents) as PDFs, mounted under
/organiser with the other competition pages (judging.manage.routes).

Each document is a loader (request, read session, competition -> the document's values) and a renderer
(document -> (filename, mimetype, bytes)); `pdf_route` serves any such pair, so the three routes differ
only in those two functions. The read session closes before rendering: WeasyPrint takes seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from judging import documents
from judging.models import Competition
from judging.pages import COMPETITION_ORGANISERS, Endpoint, competition_page, load_competition, refusing
from kernel.auth import form_id, guard
from kernel.text import content_disposition

Loader = Callable[[Request, AsyncSession, Competition], Awaitable[Any]]
Renderer = Callable[[Any], Awaitable[tuple[str, str, bytes]]]


def _pdf_response(filename: str, mimetype: str, body: bytes) -> Response:
    # inline: the browser opens its PDF viewer, from which organisers print straight away
    return Response(body, media_type=mimetype, headers={
        "Content-Disposition": content_disposition(filename, "inline"), "Cache-Control": "private, no-store"})


def pdf_route(load: Loader, render: Renderer, doc: str) -> Endpoint:
    """An organisers' GET endpoint for the competition in the URL: load in a read session, then render;
    a domain error (nothing to print yet, no such judge) is a page with a way back to the competition."""

    @guard(COMPETITION_ORGANISERS)
    @refusing(competition_page(), "Back to the competition")
    async def endpoint(request: Request) -> Response:
        competition, _ = await load_competition(request)
        async with request.app.state.db.read() as session:
            document = await load(request, session, competition)
        return _pdf_response(*await render(document))

    endpoint.__doc__ = doc
    return endpoint


def _judge_param(request: Request) -> int | None:
    raw = request.query_params.get("judge", "").strip()
    if not raw:
        return None
    judge_id = form_id(raw)
    if judge_id is None:
        raise HTTPException(400, "Choose a judge by their number, e.g. ?judge=12, or leave it out for "
                                 "everyone.")
    return judge_id


async def _score_sheets(request: Request, session: AsyncSession, competition: Competition):
    return await documents.load_score_sheets(session=session, competition=competition,
                                             judge_id=_judge_param(request),
                                             base_url=request.app.state.settings.base_url)


async def _feedback(request: Request, session: AsyncSession, competition: Competition):
    return await documents.load_feedback(session=session, competition=competition)


async def _report(request: Request, session: AsyncSession, competition: Competition):
    return await documents.load_report(session=session, competition=competition)


score_sheets_route = pdf_route(_score_sheets, documents.score_sheets_pdf,
                               "Blank paper score sheets: every judge, or one with ?judge=<user id>.")
feedback_route = pdf_route(_feedback, documents.feedback_pdf,
                           "The entrants' feedback pack; marked as a preview on every page until the results "
                           "are released.")
results_route = pdf_route(_report, documents.results_pdf,
                          "The results report with its charts; marked as a preview until the results are "
                          "released.")

routes = [
    Route("/competitions/{competition_id:int}/score-sheets.pdf", score_sheets_route, methods=["GET"],
          name="judging_score_sheets_pdf"),
    Route("/competitions/{competition_id:int}/feedback.pdf", feedback_route, methods=["GET"],
          name="judging_feedback_pdf"),
    Route("/competitions/{competition_id:int}/results.pdf", results_route, methods=["GET"],
          name="judging_results_pdf"),
]
