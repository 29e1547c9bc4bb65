"""What the booking form's POST needs to know before it books: one query, plus a short-lived per-worker copy
of the event and its ticket types.

In a flash sale most attempts end before the write lock (sold out, sent twice, over the limit), so that
decision must be cheap. Each attempt runs one Core statement that returns the event's state (status, end,
capacity, seats taken), each active type's capacity and seats taken, the order this form already made and
the per-address count. The event and type objects (names, tiers, prices, for the rules, the page and the
confirmation email) are kept per worker for at most CACHE_SECONDS and re-read at once whenever the statement
shows any change: the event's updated_at (every organiser edit; selling seats leaves it alone, see
inventory), its status, end and capacity, and each active type's rules. So every answer is judged from what
this request read; only a type's description can lag, by under a second. services.register checks the rules
again inside the write transaction, and seats are only ever taken there, by inventory.claim.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import weakref

from sqlalchemy import String, bindparam, select, true, type_coerce
from sqlalchemy.orm.attributes import set_committed_value

from events.models import Event
from kernel.db import Database, UTCDateTime, utcnow
from kernel.ratelimit import recent
from kernel.sqlite_direct import read_now
from ticketing.models import Order, TicketType

CACHE_SECONDS = 0.5
REGISTER_BUCKET = "register-address"

# What a type's booking rules read (the seat counts apart): a change to any of them is seen by the next request.
_TYPE_RULES = (TicketType.name, TicketType.tier, TicketType.price_pence, TicketType.sales_start,
               TicketType.sales_end, TicketType.max_per_order, TicketType.position)


def _as_read(column):
    # Only compared, never used: a datetime as the database holds it, without making a datetime of it.
    return type_coerce(column, String) if isinstance(column.type, UTCDateTime) else column


_existing = select(Order.code).where(Order.form_token == bindparam("form_token")).scalar_subquery()
_used = recent(bucket=REGISTER_BUCKET, key=bindparam("address"), since=bindparam("since")).scalar_subquery()
# Columns 0-4 (the event's) and 5-13 (each type's) are the shape: what decides what may be booked, apart from
# seat counts. Then the counts, the order this form made and the per-address count.
_EVENT_SHAPE, _TYPE_SHAPE = slice(0, 5), slice(5, 14)
_STATE = (
    select(
        Event.id, Event.status, _as_read(Event.ends_at), Event.capacity, _as_read(Event.updated_at),
        TicketType.id.label("type_id"), TicketType.capacity.label("type_capacity"),
        *(_as_read(c).label(f"rule_{c.key}") for c in _TYPE_RULES),
        Event.tickets_sold, TicketType.sold.label("type_sold"),
        _existing.label("existing_code"), _used.label("used"),
    )
    .select_from(Event)
    .outerjoin(TicketType, (TicketType.event_id == Event.id) & TicketType.is_active.is_(true()))
    .where(Event.slug == bindparam("slug"))
    .order_by(TicketType.position, TicketType.id)
)


_TYPES = (select(TicketType).where(TicketType.event_id == bindparam("event_id"), TicketType.is_active.is_(True))
          .order_by(TicketType.position, TicketType.id))


@dataclasses.dataclass
class BookingState:
    event: Event
    types: list[TicketType]
    existing_code: str | None  # the order this form token already made
    used: int  # bookings from this address in the rate-limit window, counted up to the limit


@dataclasses.dataclass
class _Entry:
    expires: float
    shape: tuple  # what decides what may be booked, apart from seat counts
    event: Event
    types: list[TicketType]


# Per Database (tests run many in one process), then per slug.
_entries: weakref.WeakKeyDictionary[Database, dict[str, _Entry]] = weakref.WeakKeyDictionary()


async def load(db: Database, *, slug: str, form_token: str | None, address: str,
               window_seconds: int, limit: int) -> BookingState | None:
    """The event (drafts included: the caller decides) with its active types, or None when no such slug.
    `used` counts this address's bookings in the window up to `limit` (the registration limit)."""
    since = utcnow() - dt.timedelta(seconds=window_seconds)
    # Not `async with`: its exit closes the connection in a separate task, so under load every request
    # would hold a connection across a turn of the event loop, and the pool would keep opening and closing
    # extra ones (an aiosqlite thread each).
    params = {"slug": slug, "form_token": form_token, "address": address, "since": since,
              "up_to": max(0, limit)}
    rows = read_now(db, _STATE, params)  # SQLite: straight away, without SQLAlchemy's connection and greenlets
    if rows is None:
        conn = await db.engine.connect()
        try:
            rows = (await conn.execute(_STATE, params)).all()
        finally:
            await conn.close()
    if not rows:
        return None
    first = rows[0]
    type_rows = [r for r in rows if r.type_id is not None]
    shape = (first[_EVENT_SHAPE], *(r[_TYPE_SHAPE] for r in type_rows))
    cache = _entries.setdefault(db, {})
    entry = cache.get(slug)
    now = time.monotonic()
    if entry is None or entry.expires <= now or entry.shape != shape:
        async with db.read() as session:
            event = await session.get(Event, first.id)
            types = list(await session.scalars(_TYPES, {"event_id": first.id}))
            await session.close()  # now, not in the task `async with` would start (see above)
        if event is None:
            return None
        # With the shape read before the objects: if the event changed in between, the next request sees a
        # shape that differs and reads them again.
        entry = _Entry(now + CACHE_SECONDS, shape, event, types)
        if len(cache) > 256:
            cache.clear()
        cache[slug] = entry
    # The seat counts are this request's, whatever the age of the objects (set_committed_value: the shared
    # objects never look modified).
    set_committed_value(entry.event, "tickets_sold", first.tickets_sold)
    sold = {r.type_id: r.type_sold for r in type_rows}
    for t in entry.types:
        if t.id in sold:
            set_committed_value(t, "sold", sold[t.id])
    return BookingState(entry.event, entry.types, first.existing_code, first.used or 0)

