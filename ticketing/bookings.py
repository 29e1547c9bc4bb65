"""The booking as its booker manages it, through the secret in the booking email's links (ticketing.access):
the booking's page, each ticket's full page (QR, name), the PDFs, cancelling a ticket or the whole booking.

/orders/{token}                          the booking: every ticket, the PDF, cancel the whole booking
/orders/{token}/tickets/{code}           one ticket in full: QR, name, cancel this ticket
/orders/{code}/booked                    what a form sent twice lands on: booked, see your email (no secret)
/documents/order-tickets/{token}         every valid ticket as one PDF
/documents/ticket/{token}.{code}         one ticket as a PDF
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from events.models import Event
from kernel.auth import PUBLIC, flash, guard
from kernel.hooks import Document, DocumentProvider, hooks_of
from kernel.i18n import N_
from kernel.i18n import gettext as _
from kernel.qr import qr_svg
from kernel.web import render
from ticketing import access, notices, services
from ticketing.models import EventKey, Order
from ticketing.outputs import order_pdf, qr_payload, ticket_doc
from ticketing.tickets import map_link, offer_notifier

NOT_FOUND = N_("We could not find that booking. Use the link in the most recent email about it: when the organisers "
             "send the tickets again, the older link stops working.")
NO_TICKET = N_("That ticket is not part of this booking.")
PRIVATE = {"Cache-Control": "private, no-store"}


async def _booking(request: Request, token: str) -> tuple[Order, Event]:
    async with request.app.state.db.read() as session:
        order = await access.order_for_token(session=session, token=token)
        event = await session.get(Event, order.event_id) if order else None
    if order is None:
        raise HTTPException(404, _(NOT_FOUND))
    return order, event


def _ticket_of(order: Order, code: str):
    ticket = next((t for t in order.tickets if t.code == code), None)
    if ticket is None:
        raise HTTPException(404, _(NO_TICKET))
    return ticket


@guard(PUBLIC)
async def order_page(request: Request) -> Response:
    order, event = await _booking(request, request.path_params["token"])
    return render(request, "ticketing/order.html", {
        "order": order, "event": event, "token": order.access_token, "map_url": map_link(event),
        "any_valid": any(not t.is_cancelled for t in order.tickets)}, headers=PRIVATE)


@guard(PUBLIC)
async def ticket_page(request: Request) -> Response:
    order, event = await _booking(request, request.path_params["token"])
    ticket = _ticket_of(order, request.path_params["code"])
    async with request.app.state.db.read() as session:
        key = await session.get(EventKey, ticket.event_id)
    qr = Markup(qr_svg(qr_payload(key, ticket))) if not ticket.is_cancelled and key is not None else None
    hooks = hooks_of(request.app)
    panels = await hooks.panels(hooks.ticket_page_panels, request, ticket, event)
    return render(request, "ticketing/ticket.html", {
        "ticket": ticket, "order": order, "token": order.access_token, "event": event, "qr_svg": qr,
        "map_url": map_link(event), "panels": panels}, headers=PRIVATE)


async def _cancel(request: Request, *, code: str | None) -> tuple[str, list]:
    """Cancel one ticket (code) or the whole booking (None) found by the token; the attendee's email queued in
    the same transaction, only for what this request cancelled."""
    token = request.path_params["token"]
    settings = request.app.state.settings
    _notify, offer = offer_notifier(request)
    async with request.app.state.db.write() as session:
        order = await access.order_for_token(session=session, token=token)
        if order is None:
            raise HTTPException(404, _(NOT_FOUND))
        tickets = [_ticket_of(order, code)] if code is not None else list(order.tickets)
        event = await session.get(Event, order.event_id)
        gone = await services.cancel(session=session, tickets=tickets, offer=offer)
        await notices.enqueue_cancelled(session=session, tickets=gone, title=event.title, by=notices.BY_ATTENDEE,
                                        base_url=settings.base_url)
    return token, gone


@guard(PUBLIC)
async def cancel_ticket(request: Request) -> Response:
    code = request.path_params["code"]
    token, gone = await _cancel(request, code=code)
    if gone:
        flash(request, _("Your ticket is cancelled. Thank you for letting us know: the place goes to someone else."))
    else:
        flash(request, _("This ticket was already cancelled."), "warning")
    return RedirectResponse(f"/orders/{token}/tickets/{code}", status_code=303)


@guard(PUBLIC)
async def cancel_booking(request: Request) -> Response:
    token, gone = await _cancel(request, code=None)
    if gone:
        n = len(gone)
        flash(request, f"Your booking is cancelled ({n} ticket{'s' if n != 1 else ''}). Thank you for letting us "
                       "know: the places go to someone else. We have emailed you to confirm.")
    else:
        flash(request, _("This booking was already cancelled."), "warning")
    return RedirectResponse(f"/orders/{token}", status_code=303)


@guard(PUBLIC)
async def booked(request: Request) -> Response:
    """A booking form sent again (a double click) lands here: the booking exists, its link is in the email. The
    order code is no secret, so this says nothing personal."""
    async with request.app.state.db.read() as session:
        order = await services.get_order(session=session, code=request.path_params["code"][:64])
        event = await session.get(Event, order.event_id) if order else None
    if order is None:
        raise HTTPException(404, _(NOT_FOUND))
    return render(request, "ticketing/booked.html", {"order": order, "event": event}, headers=PRIVATE)


async def order_tickets_pdf(request: Request, token: str) -> Document | None:
    """Every ticket of a booking still valid, as one PDF (the documents extension point: order-tickets)."""
    async with request.app.state.db.read() as session:
        order = await access.order_for_token(session=session, token=token)
        if order is None:
            raise HTTPException(404, _(NOT_FOUND))
        if not any(not t.is_cancelled for t in order.tickets):
            raise HTTPException(410, _("Every ticket in this booking has been cancelled, so there is nothing to print."))
        return Document(*await order_pdf(session=session, order=order))


async def ticket_pdf(request: Request, ref: str) -> Document | None:
    """One ticket as a PDF (the documents extension point: ticket); ref is "<booking token>.<ticket code>"."""
    token, dot, code = ref.partition(".")
    if not dot:
        raise HTTPException(403, "A ticket’s PDF needs the link from the booking email: the ticket code alone "
                                 "is not enough. Open the booking from that email and download it there.")
    order, event = await _booking(request, token)
    ticket = _ticket_of(order, code)
    if ticket.is_cancelled:
        raise HTTPException(410, _("This ticket has been cancelled, so there is nothing to print."))
    async with request.app.state.db.read() as session:
        key = await session.get(EventKey, ticket.event_id)
    from ticketing.documents import ticket_pdf as render_ticket_pdf

    doc = ticket_doc(ticket=ticket, order=order, event=event, key=key)
    return Document(*await render_ticket_pdf([doc], filename_stem=f"ticket-{order.reference}"))


DOCUMENTS = (
    # PUBLIC as pages go: the booking's secret in the reference is what lets someone have them (ticketing.access).
    DocumentProvider("ticket", PUBLIC, ticket_pdf),
    DocumentProvider("order-tickets", PUBLIC, order_tickets_pdf),
)

routes = [
    Route("/orders/{token}", order_page, methods=["GET"], name="order"),
    Route("/orders/{token}/cancel", cancel_booking, methods=["POST"], name="cancel_booking"),
    Route("/orders/{code}/booked", booked, methods=["GET"], name="order_booked"),
    Route("/orders/{token}/tickets/{code}", ticket_page, methods=["GET"], name="booking_ticket"),
    Route("/orders/{token}/tickets/{code}/cancel", cancel_ticket, methods=["POST"], name="cancel_booking_ticket"),
]
