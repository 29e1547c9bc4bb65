"""The emails that tell an attendee something changed: a place on a waiting list, tickets cancelled (by
them, by an organiser, or because the event is cancelled), a waiting list closed by the event's cancellation.

Each is queued in the transaction that makes the change, and only by the call that made it (the conditional
UPDATEs of ticketing.services.cancel say which tickets that was), so a change sent twice, or by two people at
once, writes one email. Cancellation emails are written when sent (a body provider), so cancelling an event
of 20,000 tickets writes rows, not 20,000 rendered emails, inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from events.models import Event
from kernel import i18n, mail
from kernel.db import Database
from kernel.i18n import gettext as _
from kernel.web import london_range
from ticketing.models import Order, Ticket, TicketStatus, TicketType, WaitlistEntry

CANCELLATION_PROVIDER = "ticketing.cancellation"

# Who cancelled: the email's subject and opening line.
BY_ATTENDEE, BY_ORGANISER, BY_EVENT = "attendee", "organiser", "event"
SUBJECTS = {
    BY_ATTENDEE: "Cancelled as you asked: {title}",
    BY_ORGANISER: "Your tickets have been cancelled: {title}",
    BY_EVENT: "Event cancelled: {title}",
}


def _when(event: Event) -> str:
    return london_range(event.starts_at, event.ends_at)


async def enqueue_waitlist_joined(*, session: AsyncSession, entry: WaitlistEntry, event: Event,
                                  ticket_type: TicketType, place: int, offer_hours: float, base_url: str) -> None:
    """To someone who has just joined a waiting list (not when they join it again)."""
    base = base_url.rstrip("/")
    with i18n.language(entry.language):  # the language they joined in
        hours = i18n.ngettext("%(hours)s hour", "%(hours)s hours", 1 if offer_hours == 1 else 2,
                              hours=i18n.native_digits(f"{offer_hours:g}"))
        text, html = mail.render_email(
            "notice", heading=_("You are on the waiting list for %(title)s", title=event.title),
            paragraphs=[
                _("Hello %(name)s: you are number %(place)s in line for a “%(type)s” ticket for %(title)s (%(when)s).",
                  name=entry.name, place=i18n.format_number(place), type=ticket_type.name, title=event.title,
                  when=_when(event)),
                _("If a place comes up we will email you a link to claim it. The place is held for you for %(hours)s; "
                  "after that it goes to the next person in line.", hours=hours),
                _("You do not have a ticket yet: please do not come to the door without one."),
            ],
            action_url=f"{base}/events/{event.slug}", action_label=_("See the event"), base_url=base)
        subject = _("Waiting list: %(title)s", title=event.title)
    await mail.enqueue(session=session, to=entry.email, subject=subject, text=text, html=html)


async def enqueue_waitlist_closed(*, session: AsyncSession, entries: Iterable, event: Event, base_url: str) -> int:
    """One email to each person on the event's waiting lists that its cancellation has just closed (`entries`:
    rows with email, name and ticket_type_id, as the closing UPDATE returned them): once per address, however
    many of its lists they were on. Returns how many were queued."""
    people: dict[str, tuple[str, set[int]]] = {}
    for entry in entries:
        name, type_ids = people.setdefault(entry.email.strip().lower(), (entry.name, set()))
        type_ids.add(entry.ticket_type_id)
    if not people:
        return 0
    names = dict((await session.execute(select(TicketType.id, TicketType.name).where(
        TicketType.event_id == event.id))).all())
    base = base_url.rstrip("/")
    for email, (name, type_ids) in sorted(people.items()):
        lists = ", ".join(f"“{names.get(i, 'ticket')}”" for i in sorted(type_ids))
        text, html = mail.render_email(
            "notice", heading=f"{event.title} is cancelled",
            paragraphs=[
                (f"Hello {name}: we are sorry, {event.title} ({_when(event)}) has been cancelled. You were on its "
                 f"waiting list for {lists}; the list is closed, so no place will be offered."),
                "You do not need to do anything.",
            ],
            action_url=f"{base}/events/{event.slug}", action_label="See the event", base_url=base)
        await mail.enqueue(session=session, to=email, subject=SUBJECTS[BY_EVENT].format(title=event.title)[:300],
                           text=text, html=html)
    return len(people)


async def enqueue_cancelled(*, session: AsyncSession, tickets: Iterable, title: str, by: str,
                            base_url: str) -> int:
    """One email to each order with tickets among `tickets` (those a cancel() call has just cancelled; anything
    with `id` and `order_id`): which were cancelled and by whom. Returns how many were queued."""
    by_order: dict[int, list[int]] = {}
    for ticket in tickets:
        by_order.setdefault(ticket.order_id, []).append(ticket.id)
    if not by_order:
        return 0
    ids, emails = sorted(by_order), {}
    for start in range(0, len(ids), 1000):  # well under any database's limit of parameters
        chunk = ids[start:start + 1000]
        emails.update((await session.execute(select(Order.id, Order.email).where(Order.id.in_(chunk)))).all())
    # What is still valid now, for the email to say: it is written later, when more may have been cancelled.
    still: dict[int, list[int]] = {}
    if by != BY_EVENT:  # an event's cancellation leaves nothing valid
        rows = await session.execute(select(Ticket.order_id, Ticket.id).where(
            Ticket.order_id.in_(ids), Ticket.status == TicketStatus.VALID.value).order_by(Ticket.id))
        for order_id, ticket_id in rows:
            still.setdefault(order_id, []).append(ticket_id)
    for order_id, ticket_ids in sorted(by_order.items()):
        await mail.enqueue(session=session, to=emails[order_id], subject=SUBJECTS[by].format(title=title)[:300],
                           body={"provider": CANCELLATION_PROVIDER,
                                 "args": {"order_id": order_id, "ticket_ids": sorted(ticket_ids), "by": by,
                                          "still_valid": still.get(order_id, []), "base_url": base_url.rstrip("/")}})
    return len(by_order)


def _names(tickets: list[Ticket]) -> str:
    return ", ".join(f"{t.attendee_name} ({t.ticket_type.name})" for t in tickets)


async def cancellation_body(db: Database, args: dict) -> tuple[str, str]:
    """The cancellation email (mail_bodies: ticketing.cancellation), from the order as it is when sent."""
    async with db.read() as session:
        order = await session.scalar(select(Order).where(Order.id == int(args["order_id"]))
                                     .options(selectinload(Order.tickets).selectinload(Ticket.ticket_type)))
        if order is None:
            raise LookupError(f"order {args['order_id']} no longer exists")
        event = await session.get(Event, order.event_id)
    ids = set(args.get("ticket_ids") or ())
    gone = [t for t in order.tickets if t.id in ids]
    valid_then = set(args.get("still_valid") or ())
    still = [t for t in order.tickets if t.id in valid_then]
    by = args.get("by", BY_ATTENDEE)
    base = args.get("base_url", "")
    what = f"booking {order.reference}" if not still else \
        f"{'ticket' if len(gone) == 1 else f'{len(gone)} tickets'} of booking {order.reference}"
    if by == BY_EVENT:
        heading = f"{event.title} is cancelled"
        opening = (f"We are sorry: {event.title} ({_when(event)}) has been cancelled. Your {what} is cancelled "
                   "with it; you do not need to do anything.")
    elif by == BY_ORGANISER:
        heading = "Your tickets have been cancelled"
        opening = f"The organisers of {event.title} ({_when(event)}) have cancelled your {what}."
    else:
        heading = "Your cancellation"
        opening = (f"As you asked, we have cancelled your {what} for {event.title} ({_when(event)}). Thank you for "
                   "letting us know: the place goes to someone else.")
    paragraphs = [opening, f"Cancelled: {_names(gone)}."]
    if still and by != BY_EVENT:
        paragraphs.append(f"Still valid: {_names(still)}. Bring those tickets as before.")
    if order.total_pence and order.paid_at is not None:
        paragraphs.append("You paid for this booking: the organisers will be in touch about a refund.")
    paragraphs.append(f"Booking reference: {order.reference}.")
    return mail.render_email("notice", heading=heading, paragraphs=paragraphs,
                             action_url=f"{base}/events/{event.slug}", action_label="See the event", base_url=base)
