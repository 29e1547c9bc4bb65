"""Who may manage which event: the hub administrator (and, for money, the treasurer) every event; an event
organiser only the events they are given (EventOrganiser) or create. Organiser routes declare it with an
Access scoped to the event their URL concerns (`scoped`); kernel.auth.refusal asks the scope: another's event
answers 403, and a row of another's event (an order, a ticket) the same 404 as a row that does not exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from events.models import EventOrganiser
from kernel.accounts import Role, User
from kernel.auth import MAX_ID, MONEY, ORGANISING, Access

# Roles that see every event for what their Access lets them do (a treasurer's Access is money only).
EVERY_EVENT = frozenset({Role.ADMIN.value, Role.TREASURER.value})
NOT_YOURS = ("This event is not one of yours. Ask a hub administrator to add you as one of its organisers.")

# async (session, request) -> the id of the event the request concerns, or None when there is no such row
EventOf = Callable[[AsyncSession, Request], Awaitable[int | None]]


async def event_in_path(_session: AsyncSession, request: Request) -> int | None:
    return request.path_params["event_id"]


def event_of_row(model, param: str, what: str) -> EventOf:
    """The event of the `model` row (anything with an event_id) whose id is the path parameter `param`. An
    event organiser asking for one of another event's rows is told, as for a missing one, "There is no `what`
    with that number." (404): which ids exist is not theirs to learn."""

    async def event_of(session: AsyncSession, request: Request) -> int | None:
        return await session.scalar(select(model.event_id).where(model.id == request.path_params[param]))

    event_of.missing = f"There is no {what} with that number."  # type: ignore[attr-defined]
    return event_of


async def may_manage_event(*, session: AsyncSession, user: User, event_id: int) -> bool:
    """Whether `user` may manage the event (what their role does with it is their Access's business)."""
    if user.role in EVERY_EVENT:
        return True
    if user.role != Role.ORGANISER:
        return False
    return await session.scalar(select(EventOrganiser.event_id).where(
        EventOrganiser.event_id == event_id, EventOrganiser.user_id == user.id)) is not None


async def may_preview(*, session: AsyncSession, user: User | None, event_id: int) -> bool:
    """Whether `user` may see (and try out) the event while it is a draft: those who may manage it."""
    return user is not None and await may_manage_event(session=session, user=user, event_id=event_id)


async def managed_event_ids(*, session: AsyncSession, user: User) -> set[int] | None:
    """The events `user` may manage; None for every event (lists filter with it)."""
    if user.role in EVERY_EVENT:
        return None
    if user.role != Role.ORGANISER:
        return set()
    return set(await session.scalars(select(EventOrganiser.event_id).where(EventOrganiser.user_id == user.id)))


def scoped(access: Access, event_of: EventOf = event_in_path) -> Access:
    """`access`, narrowed to the event the request concerns: others' events answer 403 (a missing event too).
    A row of another's event answers 404, as a missing row does (event_of_row); for those who see every event
    a path id that names no row passes (the route answers 404)."""
    missing = getattr(event_of, "missing", None)

    async def scope(request: Request, user: User) -> str | None:
        if user.role in EVERY_EVENT:
            return None
        if any(isinstance(v, int) and not 0 <= v <= MAX_ID for v in request.path_params.values()):
            return None  # no row has such an id: the guard answers 404
        async with request.app.state.db.read() as session:
            event_id = await event_of(session, request)
            if event_id is not None and await may_manage_event(session=session, user=user, event_id=event_id):
                return None
        if missing is not None:
            raise HTTPException(404, missing)
        return None if event_id is None else NOT_YOURS

    return replace(access, name=f"{access.name}, for their events", scope=scope)


EVENT_ORGANISERS = scoped(ORGANISING)
EVENT_MONEY = scoped(MONEY)


async def add_organiser(*, session: AsyncSession, event_id: int, user_id: int) -> None:
    """Give an event organiser this event (nothing changes when they have it already)."""
    if await session.get(EventOrganiser, (event_id, user_id)) is not None:
        return
    try:
        async with session.begin_nested():  # a double click racing this one may insert it first
            session.add(EventOrganiser(event_id=event_id, user_id=user_id))
    except IntegrityError:
        pass
