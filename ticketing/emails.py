"""Ticketing emails, written to the outbox in the same transaction as the order they describe."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from events.calendar import event_ics
from events.models import Event
from kernel import i18n, mail
from kernel.db import Database
from ticketing import services
from ticketing.models import Order, TicketType, WaitlistEntry
from ticketing.outputs import order_pdf

PDF_PROVIDER = "ticketing.order_pdf"
ICS_PROVIDER = "ticketing.event_ics"
CONFIRMATION_PROVIDER = "ticketing.order_confirmation"


def _render(name: str, **context) -> tuple[str, str]:
    # mail.render_email renders the .txt part without HTML escaping and the .html part with it.
    return mail.render_email(name, **context)


async def enqueue_confirmation(*, session: AsyncSession, order: Order | services.Booked, event: Event,
                               base_url: str, resend: bool = False) -> None:
    """The ticket email: its text made when it is sent (as are its PDF tickets and .ics file), from the order
    as it is then; only the row is written here, in the caller's transaction."""
    base = base_url.rstrip("/")
    if not order.access_token:
        raise ValueError("the booking email needs the booking's new access token (ticketing.access)")
    # A booking just made (services.Booked) is in the visitor's language; an order sent again (by organisers,
    # who may read another language) in the one it was made in (English for orders older than languages).
    with i18n.language(order.language if isinstance(order, Order) else i18n.current()):
        subject = (i18n.gettext("Your tickets again: %(title)s", title=event.title) if resend
                   else i18n.gettext("Your tickets: %(title)s", title=event.title))
    # The token rides in the row until the email is written: the sent email, kept in the row, holds it anyway.
    args = {"order_id": order.id, "base_url": base, "resend": resend, "access": order.access_token}
    await mail.enqueue(
        session=session, to=order.email, subject=subject,
        body={"provider": CONFIRMATION_PROVIDER, "args": args},
        attachments=[
            {"provider": PDF_PROVIDER, "args": {"order_id": order.id}},
            {"provider": ICS_PROVIDER, "args": {"event_id": event.id, "base_url": base}},
        ],
    )


async def confirmation_body(db: Database, args: dict) -> tuple[str, str]:
    async with db.read() as session:
        order = await services.get_order_by_id(session=session, order_id=int(args["order_id"]))
        if order is None:
            raise mail.Undeliverable(f"order {args['order_id']} no longer exists")
        event = await session.get(Event, order.event_id)
        tickets = [t for t in order.tickets if not t.is_cancelled]
        if not tickets and not args.get("resend"):
            raise mail.Undeliverable(f"every ticket of order {order.reference} was cancelled before its "
                                     "confirmation was sent")
        # Rows queued before access tokens existed have none: those orders' code is their token (ticketing.access).
        token = args.get("access") or order.code
        with i18n.language(order.language):  # the language the attendee booked in
            return _render("order_confirmation", order=order, event=event, tickets=tickets, token=token,
                           base_url=args.get("base_url", ""), resend=bool(args.get("resend")))


async def enqueue_offer(*, session: AsyncSession, entry: WaitlistEntry, token: str, base_url: str) -> None:
    event = await session.get(Event, entry.event_id)
    ticket_type = await session.get(TicketType, entry.ticket_type_id)
    base = base_url.rstrip("/")
    with i18n.language(entry.language):  # the language they joined the waiting list in
        text, html = _render("waitlist_offer", entry=entry, event=event, ticket_type=ticket_type,
                             claim_url=f"{base}/waitlist/claim/{token}", base_url=base)
        subject = i18n.gettext("A place has come up: %(title)s", title=event.title)
    await mail.enqueue(session=session, to=entry.email, subject=subject, text=text, html=html)


async def pdf_attachment(db: Database, args: dict) -> tuple[str, str, bytes]:
    async with db.read() as session:
        order = await services.get_order_by_id(session=session, order_id=int(args["order_id"]))
        if order is None:
            raise mail.Undeliverable(f"order {args['order_id']} no longer exists")
        if all(t.is_cancelled for t in order.tickets):
            raise mail.Undeliverable(f"every ticket of order {order.reference} was cancelled before it was sent")
        with i18n.language(order.language):
            return await order_pdf(session=session, order=order)


async def ics_attachment(db: Database, args: dict) -> tuple[str, str, bytes]:
    async with db.read() as session:
        event = await session.get(Event, int(args["event_id"]))
        if event is None:
            raise LookupError(f"event {args['event_id']} no longer exists")
        return f"{event.slug}.ics", "text/calendar", event_ics(event, base_url=args.get("base_url", ""))


