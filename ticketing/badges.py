"""Badges for an event: who gets one (a provider per role) and the organiser pages that print them.

Roles and where their people come from:
  attendee   valid tickets of orders that are not cancelled; the QR is the ticket's signed payload
  volunteer  door staff accounts on the event's door team (ticketing.checkin.DoorAssignment)
  organiser  active organiser accounts
  judge      judges on the panel of a competition of the event (judging.models.JudgeAssignment)
  entrant    accepted entrants of a competition of the event (judging.models.Entrant)

A provider is `async def provider(session, event) -> list[BadgeData]`; `register_badge_provider(role, fn)`
adds a role or replaces one (the judging package may take over "judge" and "entrant" this way).
"Everyone" means the event's own people: organiser accounts are not tied to an event, so their badges
are printed only when asked for by role, and an event with nobody of its own has nothing to print.
The layout and the PDF are kernel.badges; this module only finds the people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.accounts import Role, User
from kernel.auth import ORGANISERS, form_id, guard
from kernel.badges import (
    LAYOUTS,
    ROLE_LABELS,
    BadgeData,
    NothingToPrint,
    filename,
    page_count,
    render_badges_async,
)
from kernel.web import render
from events.models import Event
from ticketing.checkin import DoorAssignment
from ticketing.models import EventKey, Order, OrderStatus, Ticket, TicketStatus, TicketType
from ticketing.outputs import qr_payload

BadgeProvider = Callable[[AsyncSession, Event], Awaitable[list[BadgeData]]]
PROVIDERS: dict[str, BadgeProvider] = {}  # role -> provider, in the order badges are printed
DEFAULT_ROLES: set[str] = set()  # printed when no role is chosen


def register_badge_provider(role: str, provider: BadgeProvider, *, label: str | None = None,
                            by_default: bool = True) -> None:
    """Give `role` its badges (replacing any provider it had). `label` is the word printed in the band;
    `by_default` False prints them only when the role is asked for."""
    PROVIDERS[role] = provider
    if label:
        ROLE_LABELS[role] = label
    (DEFAULT_ROLES.add if by_default else DEFAULT_ROLES.discard)(role)


def _by_name(badges: list[BadgeData]) -> list[BadgeData]:
    # Alphabetical, so that the badge table at the door can be laid out A to Z.
    return sorted(badges, key=lambda b: (b.name.casefold(), b.organisation.casefold()))


async def attendees(session: AsyncSession, event: Event) -> list[BadgeData]:
    key = await session.get(EventKey, event.id)
    rows = await session.execute(
        select(Ticket, Order.organisation)
        .join(Order, Ticket.order_id == Order.id)
        .where(Ticket.event_id == event.id, Ticket.status == TicketStatus.VALID.value,
               Order.status != OrderStatus.CANCELLED.value)
        .order_by(Ticket.id)
    )
    return _by_name([
        BadgeData(name=ticket.attendee_name, organisation=organisation or "", role="attendee",
                  event_title=event.title, qr_payload=qr_payload(key, ticket) if key else "",
                  ticket_type_id=ticket.ticket_type_id)
        for ticket, organisation in rows
    ])


def _people(event: Event, role: str, names) -> list[BadgeData]:
    return _by_name([BadgeData(name=name, organisation="", role=role, event_title=event.title)
                     for name in names])


async def volunteers(session: AsyncSession, event: Event) -> list[BadgeData]:
    names = await session.scalars(
        select(User.name).join(DoorAssignment, DoorAssignment.user_id == User.id)
        .where(DoorAssignment.event_id == event.id, User.is_active.is_(True)))
    return _people(event, "volunteer", names)


async def organisers(session: AsyncSession, event: Event) -> list[BadgeData]:
    names = await session.scalars(
        select(User.name).where(User.role == Role.ORGANISER.value, User.is_active.is_(True)))
    return _people(event, "organiser", names)


async def judges(session: AsyncSession, event: Event) -> list[BadgeData]:
    from judging.models import Competition, JudgeAssignment

    # A judge on two panels of the event gets one badge. Only the columns a badge needs: the judging
    # models are still growing.
    rows = await session.execute(
        select(User.id, User.name).join(JudgeAssignment, JudgeAssignment.user_id == User.id)
        .join(Competition, Competition.id == JudgeAssignment.competition_id)
        .where(Competition.event_id == event.id, User.is_active.is_(True)).distinct())
    return _people(event, "judge", [name for _id, name in rows])


async def entrants(session: AsyncSession, event: Event) -> list[BadgeData]:
    from judging.models import Competition, Entrant, EntrantStatus

    rows = await session.execute(
        select(Entrant.name, Entrant.enterprise).join(Competition, Competition.id == Entrant.competition_id)
        .where(Competition.event_id == event.id, Entrant.status == EntrantStatus.ACCEPTED.value))
    return _by_name([BadgeData(name=name, organisation=enterprise or "", role="entrant",
                               event_title=event.title) for name, enterprise in rows])


register_badge_provider("attendee", attendees)
register_badge_provider("volunteer", volunteers)
register_badge_provider("organiser", organisers, by_default=False)
try:  # the judging package is optional to this module
    import judging.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass
else:
    register_badge_provider("judge", judges)
    register_badge_provider("entrant", entrants)


async def event_badges(*, session: AsyncSession, event: Event, roles: Iterable[str] = (),
                       ticket_type_id: int | None = None) -> list[BadgeData]:
    """The event's badges for `roles` (DEFAULT_ROLES when empty); with a ticket type, only its attendees
    (nobody else holds a ticket). Raises ValueError for a role nobody provides."""
    roles = list(dict.fromkeys(roles)) or [role for role in PROVIDERS if role in DEFAULT_ROLES]
    unknown = [role for role in roles if role not in PROVIDERS]
    if unknown:
        raise ValueError(f"no badges for role {', '.join(unknown)}; roles are {', '.join(PROVIDERS)}")
    if ticket_type_id is not None:
        roles = [role for role in roles if role == "attendee"]
    badges: list[BadgeData] = []
    for role in roles:
        badges += await PROVIDERS[role](session, event)
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

async def _load(request: Request) -> tuple[Event, list[TicketType], list[BadgeData]]:
    async with request.app.state.db.read() as session:
        event = await session.get(Event, request.path_params["event_id"])
        if event is None:
            raise HTTPException(404, "There is no event with that number.")
        types = list(await session.scalars(
            select(TicketType).where(TicketType.event_id == event.id)
            .order_by(TicketType.position, TicketType.id)))
        everyone = await event_badges(session=session, event=event, roles=list(PROVIDERS))
    return event, types, everyone


def _choice(request: Request, types: list[TicketType]) -> dict:
    """The layout, role and ticket type asked for; 400 for anything not on the form."""
    params = {k: request.query_params.get(k, "")[:40] for k in ("layout", "role", "type")}
    params["layout"] = params["layout"] or "sheet"
    if params["layout"] not in LAYOUTS:
        raise HTTPException(400, f"Layout must be one of: {', '.join(LAYOUTS)}.")
    if params["role"] and params["role"] not in PROVIDERS:
        raise HTTPException(400, f"Role must be one of: {', '.join(PROVIDERS)}.")
    if params["type"] and params["type"] not in {str(t.id) for t in types}:
        raise HTTPException(400, "That ticket type is not one of this event's.")
    return params


def _select(everyone: list[BadgeData], params: dict) -> list[BadgeData]:
    roles = {params["role"]} if params["role"] else DEFAULT_ROLES
    chosen = [b for b in everyone if b.role in roles]
    if params["type"]:
        chosen = [b for b in chosen if b.ticket_type_id == int(params["type"])]
    return chosen


def _page(request: Request, event, types, everyone, params, *, chosen=None, status_code=200) -> Response:
    counts = {role: sum(b.role == role for b in everyone) for role in PROVIDERS}
    type_counts = {t.id: sum(b.ticket_type_id == t.id for b in everyone) for t in types}
    query = urlencode({k: v for k, v in params.items() if v})
    layout = LAYOUTS[params["layout"]]
    return render(request, "ticketing/badges.html", {
        "event": event, "layouts": LAYOUTS,
        "roles": [(role, ROLE_LABELS.get(role, role), counts[role]) for role in PROVIDERS],
        "types": [(t, type_counts[t.id]) for t in types], "params": params,
        "total": sum(b.role in DEFAULT_ROLES for b in everyone),
        "chosen": chosen, "pages": page_count(len(chosen), layout) if chosen else 0,
        "pdf_url": f"/organiser/events/{event.id}/badges.pdf?{query}",
    }, status_code=status_code, headers={"Cache-Control": "private, no-store"})


@guard(ORGANISERS)
async def badges_page(request: Request) -> Response:
    """The form: layout, role and ticket type, with how many badges each choice prints."""
    event, types, everyone = await _load(request)
    return _page(request, event, types, everyone, _choice(request, types))


@guard(ORGANISERS)
async def badges_prepare(request: Request) -> Response:
    """Step two: "preparing N badges" while the browser fetches the PDF (a meta refresh, no script)."""
    event, types, everyone = await _load(request)
    params = _choice(request, types)
    return _page(request, event, types, everyone, params, chosen=_select(everyone, params))


@guard(ORGANISERS)
async def badges_pdf(request: Request) -> Response:
    event, types, everyone = await _load(request)
    params = _choice(request, types)
    chosen = _select(everyone, params)
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
