"""Who may scan at an event's door: hub administrators (every event), its event organiser, door staff on its door
team, and volunteers
signed in through its door link (link plus PIN, ticketing/door.py). One rule, checked in the scan's own
transaction (ticketing/checkin_writer.py) or before a door page is shown."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from events.models import Event, EventOrganiser
from kernel.accounts import Role, open_session_record
from kernel.sqlite_direct import direct
from kernel.tokens import hash_token
from ticketing.models import DoorAssignment, DoorLink, DoorLinkSession


class DoorRefused(Exception):
    """This requester may not scan for this event (routes answer 403)."""


class NoSuchEvent(Exception):
    """No event has that number (routes answer 404)."""


@dataclass(frozen=True)
class DoorAccess:
    """Who is scanning: a hub administrator (every event), a door staff account, an event organiser (their
    events), and/or a door link's event."""

    everywhere: bool = False
    user_id: int | None = None
    link_event_id: int | None = None
    organiser_id: int | None = None


def check_access(session: Session, *, event_id: int, access: DoorAccess) -> None:
    """Raise DoorRefused or NoSuchEvent (refusal first: it says nothing about which events exist)."""
    row = direct(session.connection()).execute(_ACCESS, {"event_id": event_id, "user_id": access.user_id or 0,
                                                         "organiser_id": access.organiser_id or 0}).first()
    allowed = access.everywhere or access.link_event_id == event_id or (
        row is not None and (row[1] is not None or row[2] is not None))
    if not allowed:
        raise DoorRefused
    if row is None:
        raise NoSuchEvent


_ORGANISER = EventOrganiser.__table__
_ACCESS = (
    select(Event.__table__.c.id, DoorAssignment.__table__.c.id, _ORGANISER.c.user_id)
    .outerjoin(DoorAssignment.__table__, and_(DoorAssignment.__table__.c.event_id == Event.__table__.c.id,
                                              DoorAssignment.__table__.c.user_id == bindparam("user_id")))
    .outerjoin(_ORGANISER, and_(_ORGANISER.c.event_id == Event.__table__.c.id,
                                _ORGANISER.c.user_id == bindparam("organiser_id")))
    .where(Event.__table__.c.id == bindparam("event_id"))
)


def door_events_of(user):
    """The ids of the events a door staff account is on the team of, or an event organiser organises."""
    if user.role == Role.ORGANISER:
        return select(_ORGANISER.c.event_id).where(_ORGANISER.c.user_id == user.id)
    return select(DoorAssignment.event_id).where(DoorAssignment.user_id == user.id)


# --- door-link sessions: a phone signed in with a link and its PIN, recorded as account sessions are -----

async def open_link_session(*, session: AsyncSession, link: DoorLink) -> str:
    """Record a phone signed in with `link`; the id for its cookie (only its hash is stored)."""
    return await open_session_record(session=session, model=DoorLinkSession, owner=DoorLinkSession.link_id,
                                     owner_id=link.id)


async def close_link_session(*, session: AsyncSession, sid: str) -> None:
    """Leave the door: this session's cookie, and every copy of it, opens nothing any more."""
    await session.execute(delete(DoorLinkSession).where(DoorLinkSession.token_hash == hash_token(sid)))


async def close_link_sessions(*, session: AsyncSession, link_id: int) -> None:
    """End every session signed in with the link (it is being revoked)."""
    await session.execute(delete(DoorLinkSession).where(DoorLinkSession.link_id == link_id))


def active_link_of_session(link_id: int, sid: str):
    """The active door link `link_id` if the session `sid` is signed in with it (a SELECT of DoorLink)."""
    return (select(DoorLink).join(DoorLinkSession, DoorLinkSession.link_id == DoorLink.id)
            .where(DoorLink.id == link_id, DoorLink.revoked_at.is_(None),
                   DoorLinkSession.token_hash == hash_token(sid)))
