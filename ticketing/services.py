"""Ticketing business rules: ticket types, registration, orders, cancellation, payment. No HTTP here."""

from __future__ import annotations

import datetime as dt
import secrets
import weakref
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, insert, select, true, update
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from events.models import Event, EventStatus
from kernel import i18n, sqlite_direct
from kernel.db import utcnow
from ticketing import attendees, inventory
from ticketing.access import new_access
from ticketing.inventory import SoldOut
from ticketing.models import (
    COMMUNITY_DECLARATIONS,
    EventKey,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
    TicketType,
    Tier,
)

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read out at the door

__all__ = ["SoldOut"]


class TicketingError(Exception):
    """A rule was broken; `errors` maps form fields to messages."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = errors or {"__all__": message}


class RegistrationClosed(TicketingError):
    pass


class AlreadyCancelled(TicketingError):
    pass


@dataclass
class TicketLine:
    ticket_type_id: int
    attendee_name: str
    price_pence: int | None = None  # only for pay what you can


@dataclass
class RegistrationRequest:
    lines: list[TicketLine]
    email: str
    access_needs: str = ""
    organisation: str = ""
    community_declaration: str = ""
    form_token: str | None = None
    extra: dict = field(default_factory=dict)


def new_code(nbytes: int = 12) -> str:
    return secrets.token_urlsafe(nbytes)


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


# --- ticket types ----------------------------------------------------------------------------------

async def list_ticket_types(*, session: AsyncSession, event_id: int, include_inactive: bool = False) -> list[TicketType]:
    stmt = select(TicketType).where(TicketType.event_id == event_id)
    if not include_inactive:
        stmt = stmt.where(TicketType.is_active.is_(True))
    return list(await session.scalars(stmt.order_by(TicketType.position, TicketType.id)))


def sales_state(ticket_type: TicketType, now: dt.datetime) -> str:
    """'not_yet', 'open' or 'closed' for the type's sales window."""
    if ticket_type.sales_start and now < ticket_type.sales_start:
        return "not_yet"
    if ticket_type.sales_end and now >= ticket_type.sales_end:
        return "closed"
    return "open"


async def ensure_event_key(*, session: AsyncSession, event_id: int) -> EventKey:
    """The event's signing key, created once (safe when two workers race to create it)."""
    key = await session.get(EventKey, event_id)
    if key is not None:
        return key
    from ticketing.keys import seal_private_key
    from ticketing.signing import generate_keypair

    private, public = generate_keypair()
    private = seal_private_key(private)  # never raw in the database (kernel.keyring)
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(EventKey).values(event_id=event_id, private_key=private, public_key=public, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return await session.get(EventKey, event_id, populate_existing=True)


# --- registration ----------------------------------------------------------------------------------

def closed_reason(event: Event | None, now: dt.datetime) -> str | None:
    """Why nobody can book this event now (draft, cancelled, finished), or None when booking is open."""
    if event is None or event.status == EventStatus.DRAFT:
        return "This event is not open for registration."
    if event.status == EventStatus.CANCELLED:
        return "This event has been cancelled."
    if event.ends_at <= now:
        return "This event has finished."
    return None


def _validate(event: Event, types: dict[int, TicketType], req: RegistrationRequest,
              now: dt.datetime) -> tuple[dict[str, str], dict[int, int], list[int]]:
    """Field errors, quantities per type, and the price of each line."""
    errors: dict[str, str] = {}
    quantities: Counter[int] = Counter()
    prices: list[int] = []
    if not req.lines:
        errors["quantity"] = "Choose at least one ticket."
    for index, line in enumerate(req.lines):
        ticket_type = types.get(line.ticket_type_id)
        if ticket_type is None or not ticket_type.is_active:
            errors["quantity"] = "That ticket type is not available for this event."
            prices.append(0)
            continue
        quantities[ticket_type.id] += 1
        state = sales_state(ticket_type, now)
        if state == "not_yet":
            errors[f"qty_{ticket_type.id}"] = f"“{ticket_type.name}” tickets are not on sale yet."
        elif state == "closed":
            errors[f"qty_{ticket_type.id}"] = f"Sales of “{ticket_type.name}” tickets have closed."
        name = line.attendee_name.strip()
        if not name:
            errors[f"name_{index}"] = "Enter the name of the person this ticket is for."
        elif len(name) > 120:
            errors[f"name_{index}"] = "Keep names to 120 characters or fewer."
        if ticket_type.tier == Tier.PAY_WHAT_YOU_CAN:
            if line.price_pence is None or line.price_pence < ticket_type.price_pence:
                minimum = f"£{ticket_type.price_pence / 100:.2f}"
                errors[f"price_{index}"] = f"Enter an amount of at least {minimum}."
            elif line.price_pence > 100_000:
                errors[f"price_{index}"] = "Please enter £1,000 or less."
            prices.append(line.price_pence or 0)
        else:
            prices.append(ticket_type.price_pence if ticket_type.tier != Tier.FREE else 0)
    for type_id, count in quantities.items():
        if count > types[type_id].max_per_order:
            errors[f"qty_{type_id}"] = (
                f"You can book up to {types[type_id].max_per_order} “{types[type_id].name}” tickets at a time."
            )
    if any(types[t].tier == Tier.COMMUNITY for t in quantities):
        if req.community_declaration not in COMMUNITY_DECLARATIONS:
            errors["community_declaration"] = "Community-rate tickets: tell us which of these applies to you."
    if len(req.access_needs) > 1000:
        errors["access_needs"] = "Keep this to 1000 characters or fewer."
    if len(req.organisation) > 120:
        errors["organisation"] = "Keep the organisation to 120 characters or fewer."
    return errors, dict(quantities), prices


def check_request(event: Event, types: list[TicketType], req: RegistrationRequest,
                  now: dt.datetime | None = None) -> dict[str, str]:
    """The booking rules' field errors for a request, without touching the database (for forms)."""
    by_id = {t.id: t for t in types if t.event_id == event.id}
    errors, _quantities, _prices = _validate(event, by_id, req, now or utcnow())
    return errors


def sold_out(event: Event, types: list[TicketType], req: RegistrationRequest) -> SoldOut | None:
    """The SoldOut that claiming `req` would raise, judged from `event` and `types` as already read.

    For answering "sold out" without waiting for the write lock: seats gone in a committed view were gone
    at that moment. None promises nothing; only inventory.claim takes seats. Checked in claim's order
    (types by id, then the event) so the message is the one claim would give.
    """
    by_id = {t.id: t for t in types}
    quantities = Counter(line.ticket_type_id for line in req.lines)
    for type_id in sorted(quantities):
        ticket_type = by_id.get(type_id)
        if ticket_type is None:
            return None  # not ours to judge: register() refuses it with the right message
        if ticket_type.capacity is not None and ticket_type.sold + quantities[type_id] > ticket_type.capacity:
            return SoldOut(type_id, ticket_type.name)
    total = sum(quantities.values())
    if total and event.capacity is not None and event.tickets_sold + total > event.capacity:
        return SoldOut(None)
    return None


# Built once: a booking rush runs these for every booking, and building a statement costs more than running it.
# What _validate and claim read of a type, as columns (a rush should not build a TicketType per attempt).
_TYPE_COLUMNS = (TicketType.id, TicketType.event_id, TicketType.name, TicketType.tier, TicketType.price_pence,
                 TicketType.sales_start, TicketType.sales_end, TicketType.max_per_order, TicketType.is_active)
_TYPES = select(*_TYPE_COLUMNS).where(TicketType.event_id == bindparam("event_id"),
                                     TicketType.id.in_(bindparam("type_ids", expanding=True)))
# In one statement: what closed_reason reads of the event and the order this form token already made (none when
# the token is None: `= NULL` matches nothing); with _ONE_TYPE, also the one type asked for (the usual booking).
_EVENT_AND_ORDER = (
    select(Event.id, Event.status, Event.ends_at, Event.created_at,
           Order.id.label("order_id"), Order.code.label("order_code"), Order.email.label("order_email"))
    .select_from(Event)
    .outerjoin(Order, Order.form_token == bindparam("form_token"))
    .where(Event.id == bindparam("event_id"))
)
_ONE_TYPE = (
    _EVENT_AND_ORDER.add_columns(*(c.label(f"type_{c.key}") for c in _TYPE_COLUMNS))
    .outerjoin(TicketType, (TicketType.event_id == Event.id) & (TicketType.id == bindparam("type_id")))
)
_TYPE_FIELDS = tuple(c.key for c in _TYPE_COLUMNS)


@dataclass(frozen=True, slots=True)
class _TypeRow:
    """A type as _validate and claim read it (the columns of _TYPE_COLUMNS)."""

    id: int
    event_id: int
    name: str
    tier: str
    price_pence: int
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    max_per_order: int
    is_active: bool
_INSERT_ORDER = insert(Order.__table__).returning(Order.__table__.c.id)
_INSERT_TICKETS = insert(Ticket.__table__).returning(Ticket.__table__.c.id, sort_by_parameter_order=True)
_INSERT_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)


@dataclass(frozen=True, slots=True)
class Booked:
    """The order a booking made (or found: the same form sent again)."""

    id: int
    code: str
    email: str
    access_token: str | None = None  # the booking's secret (ticketing.access): only when just made


async def book(*, session: AsyncSession, event_id: int, req: RegistrationRequest,
               now: dt.datetime | None = None) -> tuple[Booked, bool]:
    """Claim seats and create the order and its tickets in the caller's transaction, as plain rows.

    Returns (order, created). A repeated form token returns the original order with created=False.
    Raises TicketingError (field errors), RegistrationClosed or SoldOut.
    """
    now = now or utcnow()
    type_ids = list({line.ticket_type_id for line in req.lines})
    one_type = len(type_ids) == 1  # the usual booking: everything it reads in one statement
    params = {"event_id": event_id, "form_token": req.form_token}
    if one_type:
        params["type_id"] = type_ids[0]
    # Only what closed_reason looks at: a booking rush should not build an Event object per attempt.
    event = (await sqlite_direct.execute(session, _ONE_TYPE if one_type else _EVENT_AND_ORDER, params)).first()
    if event is not None and event.order_id is not None:
        return Booked(event.order_id, event.order_code, event.order_email), False
    reason = closed_reason(event, now)
    if reason:
        raise RegistrationClosed(reason)
    if one_type:
        rows = [_TypeRow(*event[-len(_TYPE_FIELDS):])] if event.type_id is not None else []
    else:
        rows = (await session.execute(_TYPES, {"event_id": event.id, "type_ids": type_ids})).all()
    types = {t.id: t for t in rows}
    errors, quantities, prices = _validate(event, types, req, now)
    if errors:
        raise TicketingError("Please correct the highlighted fields.", errors)

    await inventory.claim(session=session, event_id=event.id, quantities=quantities,
                          names={t: types[t].name for t in quantities})
    total = sum(prices)
    code, email = new_code(16), req.email
    access_token, access_hash = new_access()
    order_id = (await sqlite_direct.execute(session, _INSERT_ORDER, {
        "event_id": event.id, "code": code, "reference": new_reference(), "form_token": req.form_token,
        "access_hash": access_hash,
        "email": email, "buyer_name": req.lines[0].attendee_name.strip(), "access_needs": req.access_needs.strip(),
        "organisation": req.organisation.strip()[:120],
        "community_declaration": req.community_declaration if any(
            types[t].tier == Tier.COMMUNITY for t in quantities) else "",
        "status": OrderStatus.AWAITING_PAYMENT.value if total > 0 else OrderStatus.CONFIRMED.value,
        "total_pence": total, "consent_at": now, "paid_at": None, "paid_note": "", "created_at": now, "cancelled_at": None,
        "language": i18n.current(),  # the visitor's, for this booking's emails and PDF tickets
    })).scalar()
    ticket_values = [
        {"code": new_code(12), "order_id": order_id, "event_id": event.id, "ticket_type_id": line.ticket_type_id,
             "attendee_name": line.attendee_name.strip(), "price_pence": price, "status": TicketStatus.VALID.value,
             "created_at": now, "cancelled_at": None, "checked_in_at": None, "checked_in_device": "", "checked_in_gate": "",
             "inside": False}
        for line, price in zip(req.lines, prices, strict=True)
    ]
    if len(ticket_values) == 1:  # the usual booking: one statement, straight on SQLite (sqlite_direct)
        await sqlite_direct.execute(session, _INSERT_TICKET, ticket_values[0])
    else:
        await session.execute(_INSERT_TICKETS, ticket_values)
    await _ensure_event_key_once(session=session, event_id=event.id, created_at=event.created_at)
    return Booked(order_id, code, email, access_token), True


async def register(*, session: AsyncSession, event_id: int, req: RegistrationRequest,
                   now: dt.datetime | None = None) -> tuple[Order, bool]:
    """book(), with the order as an Order (its tickets and their types loaded)."""
    booked, created = await book(session=session, event_id=event_id, req=req, now=now)
    order = await get_order_by_id(session=session, order_id=booked.id)
    order.access_token = booked.access_token
    return order, created


# Events whose signing key this process has seen, per connection pool (tests run many databases). A key is
# never removed while its event exists, so the lookup is needed once per event and process. (id, created_at):
# SQLite can give a deleted event's id to the next one.
_events_with_keys: weakref.WeakKeyDictionary[object, set[tuple]] = weakref.WeakKeyDictionary()


async def _ensure_event_key_once(*, session: AsyncSession, event_id: int, created_at: dt.datetime) -> None:
    pool = session.sync_session.get_bind().pool
    seen = _events_with_keys.setdefault(pool, set())
    if (event_id, created_at) not in seen:
        await ensure_event_key(session=session, event_id=event_id)

        def remember(_session) -> None:
            # Only once the key is committed: a booking rolled back after creating it took the key with it.
            if len(seen) > 10_000:
                seen.clear()
            seen.add((event_id, created_at))

        sa_event.listen(session.sync_session, "after_commit", remember, once=True)


# --- orders and tickets ----------------------------------------------------------------------------

async def get_order(*, session: AsyncSession, code: str) -> Order | None:
    stmt = (select(Order).where(Order.code == code)
            .options(selectinload(Order.tickets).selectinload(Ticket.ticket_type)))
    return await session.scalar(stmt)


async def get_order_by_id(*, session: AsyncSession, order_id: int) -> Order | None:
    stmt = (select(Order).where(Order.id == order_id)
            .options(selectinload(Order.tickets).selectinload(Ticket.ticket_type)))
    return await session.scalar(stmt)


async def get_ticket(*, session: AsyncSession, code: str) -> Ticket | None:
    stmt = (select(Ticket).where(Ticket.code == code)
            .options(selectinload(Ticket.order), selectinload(Ticket.ticket_type)))
    return await session.scalar(stmt)


async def cancel_tickets(*, session: AsyncSession, tickets: list[Ticket], now: dt.datetime | None = None,
                         offer=None) -> int:
    """cancel(): how many tickets this call cancelled."""
    return len(await cancel(session=session, tickets=tickets, now=now, offer=offer))


async def cancel(*, session: AsyncSession, tickets: list[Ticket], now: dt.datetime | None = None,
                 offer=None) -> list[Ticket]:
    """Cancel valid tickets and free their seats (or pass them to the waiting list through `offer`).

    `offer(session, ticket_type_id) -> bool` returns True when it gave the seat to someone waiting.
    Returns the tickets this call cancelled (not those someone else cancelled first): tell their holders.
    """
    now = now or utcnow()
    cancelled: list[Ticket] = []
    freed: Counter[int] = Counter()
    event_id = None
    for ticket in tickets:
        result = await session.execute(
            update(Ticket).where(Ticket.id == ticket.id, Ticket.status == TicketStatus.VALID.value)
            .values(status=TicketStatus.CANCELLED.value, cancelled_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            continue  # someone else cancelled it first
        cancelled.append(ticket)
        event_id = ticket.event_id
        ticket.status, ticket.cancelled_at = TicketStatus.CANCELLED.value, now
        if offer is None or not await offer(session, ticket.ticket_type_id):
            freed[ticket.ticket_type_id] += 1
    if freed:
        await inventory.release(session=session, event_id=event_id, quantities=dict(freed))
    order_ids = {t.order_id for t in tickets}
    for order_id in order_ids:
        valid = await session.scalar(
            select(func.count(Ticket.id)).where(Ticket.order_id == order_id, Ticket.status == TicketStatus.VALID.value)
        )
        if not valid:
            await session.execute(
                update(Order).where(Order.id == order_id, Order.status != OrderStatus.CANCELLED.value)
                .values(status=OrderStatus.CANCELLED.value, cancelled_at=now)
                .execution_options(synchronize_session=False)
            )
    return cancelled


async def mark_paid(*, session: AsyncSession, order: Order, note: str = "", now: dt.datetime | None = None) -> None:
    if order.status == OrderStatus.CANCELLED:
        raise TicketingError("A cancelled order cannot be marked paid.")
    if order.paid_at is not None:
        raise TicketingError("This order is already marked paid.")
    if order.total_pence == 0:
        raise TicketingError("This order is free: there is nothing to pay.")
    order.paid_at = now or utcnow()
    order.paid_note = note[:200]
    order.status = OrderStatus.CONFIRMED.value


@dataclass
class TypeCount:
    ticket_type: TicketType
    valid: int
    cancelled: int


async def counts_by_type(*, session: AsyncSession, event_id: int) -> list[TypeCount]:
    types = await list_ticket_types(session=session, event_id=event_id, include_inactive=True)
    rows = await session.execute(
        select(Ticket.ticket_type_id, Ticket.status, func.count(Ticket.id))
        .where(Ticket.event_id == event_id).group_by(Ticket.ticket_type_id, Ticket.status)
    )
    tally: dict[tuple[int, str], int] = {(r[0], r[1]): r[2] for r in rows}
    return [TypeCount(t, tally.get((t.id, "valid"), 0), tally.get((t.id, "cancelled"), 0)) for t in types]


async def search_attendees(*, session: AsyncSession, event_id: int, q: str = "", ticket_type_id: int | None = None,
                           status: str = "", paid: str = "", limit: int = 500) -> list[Ticket]:
    """Tickets of an event with their orders, filtered by text (name, email, code, reference) and state."""
    filters = attendees.AttendeeFilter(q=q, ticket_type_id=ticket_type_id, status=status, paid=paid)
    return await attendees.tickets_page(session=session, event_id=event_id, filters=filters, limit=limit)


async def save_ticket_type(*, session: AsyncSession, event_id: int, data, ticket_type: TicketType | None = None) -> TicketType:
    """Create or edit a ticket type; a capacity below the seats already taken is refused atomically."""
    fields = {"name": data.name, "description": data.description, "tier": data.tier, "price_pence": data.price_pence,
                  "sales_start": data.sales_start, "sales_end": data.sales_end, "max_per_order": data.max_per_order,
                  "position": data.position, "is_active": data.is_active}
    if ticket_type is None:
        ticket_type = TicketType(event_id=event_id, capacity=data.capacity, sold=0, **fields)
        session.add(ticket_type)
        await session.flush()
        await ensure_event_key(session=session, event_id=event_id)
        return ticket_type
    for name, value in fields.items():
        setattr(ticket_type, name, value)
    result = await session.execute(
        update(TicketType)
        .where(TicketType.id == ticket_type.id,
               true() if data.capacity is None else TicketType.sold <= data.capacity)
        .values(capacity=data.capacity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketingError("More tickets have been taken than that capacity.",
                             {"capacity": "More tickets are already taken than this capacity allows."})
    ticket_type.capacity = data.capacity
    await session.flush()
    return ticket_type
