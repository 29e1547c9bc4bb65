"""Organiser pages for the door: who may scan (door staff accounts, PIN-protected door links), live counts."""

from __future__ import annotations

import re
import secrets

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from events.access import EVENT_ORGANISERS
from events.models import Event
from events.pages import event_in_path_or_404
from kernel import invitations
from kernel.accounts import AccountError, Role, User, hash_password
from kernel.auth import ADMINS, flash, form_id, guard
from kernel.db import utcnow
from kernel.qr import qr_svg
from kernel.tokens import hash_token
from kernel.web import render
from ticketing import door_access, door_reports
from ticketing.door import PIN_MIN_DIGITS
from ticketing.models import DoorAssignment, DoorLink

PIN_RE = re.compile(rf"\d{{{PIN_MIN_DIGITS},12}}")  # a door link's wrong PINs are limited (ticketing.door)


async def _page(request: Request, event: Event, *, new_link=None, errors=None, values=None, status_code=200):
    async with request.app.state.db.read() as session:
        assigned = list(await session.scalars(
            select(User).join(DoorAssignment, DoorAssignment.user_id == User.id)
            .where(DoorAssignment.event_id == event.id).order_by(User.name)))
        # Least privilege: only the hub administrator picks from every door staff account in the hub (names and
        # emails); an event organiser sees this event's team and invites by email (`invite`).
        staff = None
        if request.state.user.role == Role.ADMIN:
            staff = list(await session.scalars(select(User).where(
                User.role == Role.DOOR_STAFF.value, User.is_active.is_(True),
                User.id.not_in([u.id for u in assigned] or [-1])).order_by(User.name)))
        links = list(await session.scalars(select(DoorLink).where(DoorLink.event_id == event.id)
                                           .order_by(DoorLink.created_at.desc())))
        counts = await door_reports.counts(session=session, event_id=event.id)
        dups = await door_reports.duplicates(session=session, event_id=event.id)
    return render(request, "door/manage.html", {
        "event": event, "assigned": assigned, "staff": staff, "links": links,
        "counts": counts, "duplicates": dups, "new_link": new_link, "errors": errors or {}, "values": values or {},
    }, status_code=status_code)


@guard(EVENT_ORGANISERS)
async def door_page(request: Request) -> Response:
    return await _page(request, await event_in_path_or_404(request))


@guard(ADMINS)  # an event organiser adds door staff by email (`invite`), never from the hub's list of accounts
async def assign(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    form = await request.form()
    user_id = form_id(form.get("user_id"))
    if user_id is None:
        return await _page(request, event, errors={"user_id": "Choose a door staff account."}, status_code=422)
    async with request.app.state.db.write() as session:
        user = await session.get(User, user_id)
        if user is None or user.role != Role.DOOR_STAFF:
            raise HTTPException(422, "Only door staff accounts can be put on the door team.")
        await _put_on_team(session, event, user)
    flash(request, f"{user.name} can now scan tickets for this event.")
    return RedirectResponse(f"/organiser/events/{event.id}/door", status_code=303)


async def _put_on_team(session, event: Event, user: User) -> None:
    exists = await session.scalar(select(DoorAssignment.id).where(
        DoorAssignment.event_id == event.id, DoorAssignment.user_id == user.id))
    if not exists:
        try:
            async with session.begin_nested():  # a double click racing this one may insert it first
                session.add(DoorAssignment(event_id=event.id, user_id=user.id))
        except IntegrityError:
            pass  # already on the team: the same outcome


@guard(EVENT_ORGANISERS)
async def invite(request: Request) -> Response:
    """A door volunteer by email: their door staff account (made and emailed an invitation when new) is put
    on this event's door team; the invitation lands them on this event's scanner."""
    event = await event_in_path_or_404(request)
    form = await request.form()
    values = {key: str(form.get(key, "")).strip()[:254] for key in ("email", "name")}
    if not values["email"]:
        return await _page(request, event, errors={"email": "Enter the volunteer's email address."},
                           values=values, status_code=422)
    try:
        async with request.app.state.db.write() as session:
            user, created = await invitations.invite(
                session=session, email=values["email"], name=values["name"][:120], role=Role.DOOR_STAFF,
                base_url=request.app.state.settings.base_url, invited_by=request.state.user.name,
                next_path=f"/door/events/{event.id}", reuse=True, what=f" at the door of {event.title}")
            await _put_on_team(session, event, user)
    except AccountError as exc:
        return await _page(request, event, errors={"email": str(exc)}, values=values, status_code=422)
    flash(request, f"Invitation sent to {user.email}: once they choose a password they can scan for this event."
          if created else f"{user.name} can now scan tickets for this event.")
    return RedirectResponse(f"/organiser/events/{event.id}/door", status_code=303)


@guard(EVENT_ORGANISERS)
async def unassign(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    async with request.app.state.db.write() as session:
        row = await session.scalar(select(DoorAssignment).where(
            DoorAssignment.event_id == event.id,
            DoorAssignment.user_id == request.path_params["user_id"]))
        if row is not None:
            await session.delete(row)
    flash(request, "Removed from the door team.")
    return RedirectResponse(f"/organiser/events/{event.id}/door", status_code=303)


@guard(EVENT_ORGANISERS)
async def create_link(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    form = await request.form()
    label = str(form.get("label", "")).strip()[:200]
    pin = str(form.get("pin", "")).strip()[:50]
    errors = {}
    if not label or len(label) > 80:
        errors["label"] = "Name the link (e.g. “Garden gate”), up to 80 characters."
    if not PIN_RE.fullmatch(pin):
        errors["pin"] = f"The PIN must be {PIN_MIN_DIGITS} to 12 digits."
    if errors:
        return await _page(request, event, errors=errors, values={"label": label}, status_code=422)
    token = secrets.token_urlsafe(24)
    async with request.app.state.db.write() as session:
        session.add(DoorLink(event_id=event.id, label=label, token_hash=hash_token(token),
                                     pin_hash=await hash_password(pin)))
    url = f"{request.app.state.settings.base_url.rstrip('/')}/door/link/{token}"
    new_link = {"label": label, "url": url, "qr": Markup(qr_svg(url))}
    return await _page(request, event, new_link=new_link)


@guard(EVENT_ORGANISERS)
async def revoke_link(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    async with request.app.state.db.write() as session:
        link = await session.get(DoorLink, request.path_params["link_id"])
        if link is None or link.event_id != event.id:
            raise HTTPException(404, "There is no such door link for this event.")
        if link.revoked_at is None:
            link.revoked_at = utcnow()
        await door_access.close_link_sessions(session=session, link_id=link.id)
    flash(request, f"Door link “{link.label}” revoked: it stops working at once.")
    return RedirectResponse(f"/organiser/events/{event.id}/door", status_code=303)


routes = [
    Route("/events/{event_id:int}/door", door_page, methods=["GET"], name="manage_door"),
    Route("/events/{event_id:int}/door/staff", assign, methods=["POST"], name="assign_door_staff"),
    Route("/events/{event_id:int}/door/invite", invite, methods=["POST"], name="invite_door_staff"),
    Route("/events/{event_id:int}/door/staff/{user_id:int}/remove", unassign, methods=["POST"],
          name="unassign_door_staff"),
    Route("/events/{event_id:int}/door/links", create_link, methods=["POST"], name="create_door_link"),
    Route("/events/{event_id:int}/door/links/{link_id:int}/revoke", revoke_link, methods=["POST"],
          name="revoke_door_link"),
]
