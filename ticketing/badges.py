"""Badges for an event: who gets one (a provider per role) and the organiser pages that print them.

Roles and where their people come from:
  attendee   valid tickets of orders that are not cancelled; the QR is the ticket's signed payload
  volunteer  door staff accounts on the event's door team (ticketing.models.DoorAssignment)
  organiser  active organiser accounts
and whatever other domains add through the badge_roles extension point (kernel.hooks: judging's judges and
entrants, for events with a competition).

A provider is `async def provider(session, event) -> list[BadgeData] | None` (None: the role does not concern
this event, so it is not offered). The roles come from the app's hooks (`badge_roles`), in domain order.
"Everyone" means the event's own people: organiser accounts are not tied to an event, so their badges
are printed only when asked for by role, and an event with nobody of its own has nothing to print.
The layout and the PDF are kernel.badges; this module only finds the people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.access import EVENT_ORGANISERS
from events.models import Event, EventOrganiser
from kernel.accounts import Role, User
from kernel.auth import form_id, guard
from kernel.badges import (
    LAYOUTS,
    BadgeData,
    NothingToPrint,
    alphabetical,
    filename,
    page_count,
    render_badges_async,
)
from kernel.hooks import BadgeRole, hooks_of
from kernel.web import render
from ticketing.models import DoorAssignment, EventKey, Order, OrderStatus, Ticket, TicketStatus, TicketType
from ticketing.outputs import qr_payload

BadgeRoles = Mapping[str, BadgeRole]


async def attendees(session: AsyncSession, event: Event) -> list[BadgeData]:
    key = await session.get(EventKey, event.id)
    rows = await session.execute(
        select(Ticket, Order.organisation)
        .join(Order, Ticket.order_id == Order.id)
        .where(Ticket.event_id == event.id, Ticket.status == TicketStatus.VALID.value,
               Order.status != OrderStatus.CANCELLED.value)
        .order_by(Ticket.id)
    )
    return alphabetical([
        BadgeData(name=ticket.attendee_name, organisation=organisation or "", role="attendee",
                  event_title=event.title, qr_payload=qr_payload(key, ticket) if key else "",
                  ticket_type_id=ticket.ticket_type_id)
        for ticket, organisation in rows
    ])


def _people(event: Event, role: str, names) -> list[BadgeData]:
    return alphabetical([BadgeData(name=name, organisation="", role=role, event_title=event.title)
                     for name in names])


async def volunteers(session: AsyncSession, event: Event) -> list[BadgeData]:
    names = await session.scalars(
        select(User.name).join(DoorAssignment, DoorAssignment.user_id == User.id)
        .where(DoorAssignment.event_id == event.id, User.is_active.is_(True)))
    return _people(event, "volunteer", names)


async def organisers(session: AsyncSession, event: Event) -> list[BadgeData]:
    """The hub administrators and the event's own organisers."""
    names = await session.scalars(
        select(User.name).where(User.is_active.is_(True), or_(
            User.role == Role.ADMIN.value,
            User.id.in_(select(EventOrganiser.user_id).where(EventOrganiser.event_id == event.id)))))
    return _people(event, "organiser", names)


ROLES = (
    BadgeRole("attendee", "Attendee", attendees),
    BadgeRole("volunteer", "Volunteer", volunteers),
    BadgeRole("organiser", "Organiser", organisers, by_default=False),
)


async def offered_badges(*, session: AsyncSession, event: Event,
                         badge_roles: BadgeRoles) -> dict[str, list[BadgeData]]:
    """Every role that concerns `event` (its provider did not decline), with its badges, in role order."""
    offered = {}
    for role in badge_roles.values():
        badges = await role.provider(session, event)
        if badges is not None:
            offered[role.role] = [replace(b, label=b.label or role.label) for b in badges]
    return offered


async def event_badges(*, session: AsyncSession, event: Event, badge_roles: BadgeRoles, roles: Iterable[str] = (),
                       ticket_type_id: int | None = None) -> list[BadgeData]:
    """The event's badges for `roles` (the roles printed by default when empty); with a ticket type, only its
    attendees (nobody else holds a ticket). Raises ValueError for a role nobody provides."""
    roles = list(dict.fromkeys(roles)) or [r.role for r in badge_roles.values() if r.by_default]
    unknown = [role for role in roles if role not in badge_roles]
    if unknown:
        raise ValueError(f"no badges for role {', '.join(unknown)}; roles are {', '.join(badge_roles)}")
    if ticket_type_id is not None:
        roles = [role for role in roles if role == "attendee"]
    chosen = {role: badge_roles[role] for role in roles}
    badges: list[BadgeData] = []
    for found in (await offered_badges(session=session, event=event, badge_roles=chosen)).values():
        badges += found
    if ticket_type_id is not None:
        badges = [b for b in badges if b.ticket_type_id == ticket_type_id]
    return badges


async def find_event(*, session: AsyncSession, ref: str) -> Event | None:
    """An event by slug, or by number."""
    event = await session.scalar(select(Event).where(Event.slug == ref.strip()))
    if event is None and ref.strip().isdigit() and (event_id := form_id(ref)) is not None:
        event = await session.get(Event, event_id)
    return event


async def find_ticket_type(*, session: AsyncSession, event: Event, ref: str) -> TicketType | None:
    """One of the event's ticket types, by number or by name (any case)."""
    types = list(await session.scalars(select(TicketType).where(TicketType.event_id == event.id)))
    ref = ref.strip()
    return next((t for t in types if str(t.id) == ref), None) or next(
        (t for t in types if t.name.casefold() == ref.casefold()), None)


# --- organiser pages -------------------------------------------------------------------------------

def _roles(request: Request) -> BadgeRoles:
    return hooks_of(request.app).badge_roles


async def _load(request: Request) -> tuple[Event, list[TicketType], dict[str, list[BadgeData]]]:
    """The event, its ticket types and, per role that concerns it, everyone's badges."""
    async with request.app.state.db.read() as session:
        event = await session.get(Event, request.path_params["event_id"])
        if event is None:
            raise HTTPException(404, "There is no event with that number.")
        types = list(await session.scalars(
            select(TicketType).where(TicketType.event_id == event.id)
            .order_by(TicketType.position, TicketType.id)))
        everyone = await offered_badges(session=session, event=event, badge_roles=_roles(request))
    return event, types, everyone


def _choice(request: Request, types: list[TicketType], everyone: dict[str, list[BadgeData]]) -> dict:
    """The layout, role and ticket type asked for; 400 for anything not on the form."""
    params = {k: request.query_params.get(k, "")[:40] for k in ("layout", "role", "type")}
    params["layout"] = params["layout"] or "sheet"
    if params["layout"] not in LAYOUTS:
        raise HTTPException(400, f"Layout must be one of: {', '.join(LAYOUTS)}.")
    if params["role"] and params["role"] not in everyone:
        raise HTTPException(400, f"Role must be one of: {', '.join(everyone)}.")
    if params["type"] and params["type"] not in {str(t.id) for t in types}:
        raise HTTPException(400, "That ticket type is not one of this event's.")
    return params


def _defaults(request: Request, everyone: dict[str, list[BadgeData]]) -> list[str]:
    return [role for role, r in _roles(request).items() if r.by_default and role in everyone]


def _select(request: Request, everyone: dict[str, list[BadgeData]], params: dict) -> list[BadgeData]:
    roles = [params["role"]] if params["role"] else _defaults(request, everyone)
    chosen = [b for role in roles for b in everyone[role]]
    if params["type"]:
        chosen = [b for b in chosen if b.ticket_type_id == int(params["type"])]
    return chosen


def _page(request: Request, event, types, everyone, params, *, chosen=None, status_code=200) -> Response:
    attendees = everyone.get("attendee", [])
    type_counts = {t.id: sum(b.ticket_type_id == t.id for b in attendees) for t in types}
    labels = {role: r.label for role, r in _roles(request).items()}
    query = urlencode({k: v for k, v in params.items() if v})
    layout = LAYOUTS[params["layout"]]
    return render(request, "ticketing/badges.html", {
        "event": event, "layouts": LAYOUTS,
        "roles": [(role, labels[role], len(badges)) for role, badges in everyone.items()],
        "types": [(t, type_counts[t.id]) for t in types], "params": params,
        "total": sum(len(everyone[role]) for role in _defaults(request, everyone)),
        "chosen": chosen, "pages": page_count(len(chosen), layout) if chosen else 0,
        "pdf_url": f"/organiser/events/{event.id}/badges.pdf?{query}",
    }, status_code=status_code, headers={"Cache-Control": "private, no-store"})


@guard(EVENT_ORGANISERS)
async def badges_page(request: Request) -> Response:
    """The form: layout, role and ticket type, with how many badges each choice prints."""
    event, types, everyone = await _load(request)
    return _page(request, event, types, everyone, _choice(request, types, everyone))


@guard(EVENT_ORGANISERS)
async def badges_prepare(request: Request) -> Response:
    """Step two: "preparing N badges" while the browser fetches the PDF (a meta refresh, no script)."""
    event, types, everyone = await _load(request)
    params = _choice(request, types, everyone)
    return _page(request, event, types, everyone, params, chosen=_select(request, everyone, params))


@guard(EVENT_ORGANISERS)
async def badges_pdf(request: Request) -> Response:
    event, types, everyone = await _load(request)
    params = _choice(request, types, everyone)
    chosen = _select(request, everyone, params)
    try:
        pdf = await render_badges_async(chosen, params["layout"], title=f"Badges: {event.title}")
    except NothingToPrint:
        return _page(request, event, types, everyone, params, chosen=[], status_code=404)
    name = filename(event.slug, params["layout"])
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


routes = [
    Route("/events/{event_id:int}/badges", badges_page, methods=["GET"], name="badges"),
    Route("/events/{event_id:int}/badges/prepare", badges_prepare, methods=["GET"], name="badges_prepare"),
    Route("/events/{event_id:int}/badges.pdf", badges_pdf, methods=["GET"], name="badges_pdf"),
]
