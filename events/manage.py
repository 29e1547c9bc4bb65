"""Organiser pages for events: list, create, edit, publish and cancel."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from events import services
from events.access import EVENT_ORGANISERS, add_organiser, managed_event_ids
from events.forms import parse_event_form, values_from_event
from events.models import ACCESS_FEATURES, CATEGORY_LABELS
from kernel.accounts import Role
from kernel.auth import ORGANISING, flash, guard
from kernel.db import utcnow
from kernel.hooks import hooks_of
from kernel.web import render

EMPTY_VALUES = {"category": "other", **{attr: False for attr, _ in ACCESS_FEATURES}}


def _form_context(values: dict, errors: dict, event=None) -> dict:
    return {
        "values": values, "errors": errors, "event": event,
        "categories": CATEGORY_LABELS, "features": ACCESS_FEATURES,
    }


def _event_id(request: Request) -> int:
    return request.path_params["event_id"]


@guard(ORGANISING)
async def manage_list(request: Request) -> Response:
    async with request.app.state.db.read() as session:
        events = await services.list_all(session=session, only=await managed_event_ids(
            session=session, user=request.state.user))
    return render(request, "events/manage_list.html", {"events": events, "now": utcnow()})


@guard(ORGANISING)
async def create(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "events/form.html", _form_context(dict(EMPTY_VALUES), {}))
    settings = request.app.state.settings
    form = await request.form(max_part_size=settings.max_image_bytes + 1024)
    data, errors, values = await parse_event_form(form, max_image_bytes=settings.max_image_bytes)
    if data is not None:
        try:
            async with request.app.state.db.write() as session:
                event = await services.create_event(session=session, data=data)
                if request.state.user.role == Role.ORGANISER:  # an event organiser organises what they create
                    await add_organiser(session=session, event_id=event.id, user_id=request.state.user.id)
        except services.EventError as exc:
            errors = {exc.field or "__all__": str(exc)}
        else:
            request.app.state.listing_cache.clear()
            flash(request, f"“{event.title}” saved as a draft. Publish it when it is ready.")
            return RedirectResponse(f"/organiser/events/{event.id}/edit", status_code=303)
    return render(request, "events/form.html", _form_context(values, errors), status_code=422)


@guard(EVENT_ORGANISERS)
async def edit(request: Request) -> Response:
    db = request.app.state.db
    settings = request.app.state.settings
    if request.method == "GET":
        async with db.read() as session:
            event = await services.get_by_id(session=session, event_id=_event_id(request), with_image=True)
        if event is None:
            raise HTTPException(404, "There is no event with that number.")
        values = values_from_event(event)
        values["image_alt"] = event.image.alt_text if event.image else ""
        return render(request, "events/form.html", _form_context(values, {}, event))

    form = await request.form(max_part_size=settings.max_image_bytes + 1024)
    data, errors, values = await parse_event_form(form, max_image_bytes=settings.max_image_bytes)
    event = None
    try:
        async with db.write() as session:
            event = await services.get_by_id(session=session, event_id=_event_id(request), with_image=True)
            if event is None:
                raise HTTPException(404, "There is no event with that number.")
            if data is not None:
                await services.update_event(session=session, event=event, data=data)
    except services.EventError as exc:
        errors = {exc.field or "__all__": str(exc)}
        # The rollback expired the loaded event and closed its session: load it again for the form.
        async with db.read() as session:
            event = await services.get_by_id(session=session, event_id=_event_id(request), with_image=True)
    if data is not None and not errors:
        request.app.state.listing_cache.clear()
        flash(request, f"Changes to “{event.title}” saved.")
        return RedirectResponse(f"/organiser/events/{event.id}/edit", status_code=303)
    return render(request, "events/form.html", _form_context(values, errors, event), status_code=422)


async def _transition(request: Request, action, done: str) -> Response:
    async with request.app.state.db.read() as session:
        event = await services.get_by_id(session=session, event_id=_event_id(request))
    if event is None:
        raise HTTPException(404, "There is no event with that number.")
    try:
        async with request.app.state.db.write() as session:
            event = await services.get_by_id(session=session, event_id=_event_id(request))
            await action(session=session, event=event)
    except services.InvalidTransition as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/organiser/events", status_code=303)
    request.app.state.listing_cache.clear()
    flash(request, f"“{event.title}” {done}.")
    # Published from its edit page: stay there (the tabs lead on to tickets, door and badges).
    back = f"/organiser/events/{event.id}/edit" if (await request.form()).get("back") == "edit" else None
    return RedirectResponse(back or "/organiser/events", status_code=303)


@guard(EVENT_ORGANISERS)
async def publish(request: Request) -> Response:
    return await _transition(request, services.publish, "is published")


@guard(EVENT_ORGANISERS)
async def cancel(request: Request) -> Response:
    reactions = hooks_of(request.app).event_cancelled
    base_url = request.app.state.settings.base_url

    async def cancel_and_tell(*, session, event) -> None:
        # In one transaction: the event, its bookings and the emails to its attendees (kernel.hooks).
        await services.cancel(session=session, event=event)
        for react in reactions:
            await react(session=session, event=event, base_url=base_url)

    return await _transition(request, cancel_and_tell, "is cancelled")


routes = [
    Route("/events", manage_list, methods=["GET"], name="manage_events"),
    Route("/events/new", create, methods=["GET", "POST"], name="create_event"),
    Route("/events/{event_id:int}/edit", edit, methods=["GET", "POST"], name="edit_event"),
    Route("/events/{event_id:int}/publish", publish, methods=["POST"], name="publish_event"),
    Route("/events/{event_id:int}/cancel", cancel, methods=["POST"], name="cancel_event"),
]
