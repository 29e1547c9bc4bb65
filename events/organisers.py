"""The hub administrator's page for who organises an event: event organiser accounts given the event."""

from __future__ import annotations

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from events.access import add_organiser
from events.models import Event, EventOrganiser
from events.pages import event_in_path_or_404
from kernel.accounts import Role, User
from kernel.auth import ADMINS, flash, form_id, guard
from kernel.web import render


def _back(event: Event) -> RedirectResponse:
    return RedirectResponse(f"/organiser/events/{event.id}/organisers", status_code=303)


async def _page(request: Request, event: Event, *, errors: dict | None = None, status_code: int = 200) -> Response:
    async with request.app.state.db.read() as session:
        assigned = list(await session.scalars(
            select(User).join(EventOrganiser, EventOrganiser.user_id == User.id)
            .where(EventOrganiser.event_id == event.id).order_by(User.name)))
        others = list(await session.scalars(
            select(User).where(User.role == Role.ORGANISER.value, User.is_active.is_(True),
                               User.id.not_in([u.id for u in assigned] or [-1])).order_by(User.name)))
    return render(request, "events/organisers.html", {"event": event, "assigned": assigned, "others": others,
                                                      "errors": errors or {}}, status_code=status_code)


@guard(ADMINS)
async def organisers_page(request: Request) -> Response:
    return await _page(request, await event_in_path_or_404(request))


@guard(ADMINS)
async def add(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    user_id = form_id((await request.form()).get("user_id"))
    async with request.app.state.db.write() as session:
        user = await session.get(User, user_id) if user_id is not None else None
        if user is None or user.role != Role.ORGANISER or not user.is_active:
            user = None
        else:
            await add_organiser(session=session, event_id=event.id, user_id=user.id)
    if user is None:
        return await _page(request, event, errors={"user_id": "Choose an event organiser account."}, status_code=422)
    flash(request, f"{user.name} now organises “{event.title}”.")
    return _back(event)


@guard(ADMINS)
async def remove(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    async with request.app.state.db.write() as session:
        await session.execute(delete(EventOrganiser).where(EventOrganiser.event_id == event.id,
                                                           EventOrganiser.user_id == request.path_params["user_id"]))
    flash(request, "No longer an organiser of this event.")
    return _back(event)


routes = [
    Route("/events/{event_id:int}/organisers", organisers_page, methods=["GET"], name="event_organisers"),
    Route("/events/{event_id:int}/organisers", add, methods=["POST"], name="add_event_organiser"),
    Route("/events/{event_id:int}/organisers/{user_id:int}/remove", remove, methods=["POST"],
          name="remove_event_organiser"),
]
