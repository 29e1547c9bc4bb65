"""Pages an attendee reaches from the email: the order, each ticket (QR), PDFs, cancelling, claiming a
waiting-list place; and the event's public key for door scanners."""

from __future__ import annotations

from urllib.parse import quote_plus

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from events.models import Event
from events.routes import public_event
from kernel.auth import DOOR, PUBLIC, flash, guard
from kernel.db import utcnow
from kernel.documents import document_path
from kernel.hooks import Document, DocumentProvider, hooks_of
from kernel.qr import qr_svg
from kernel.web import render
from ticketing import emails, services, waitlist
from ticketing.models import EventKey, WaitlistStatus
from ticketing.outputs import order_pdf, qr_payload
from ticketing.signing import public_key_b64

CODE_MAX = 64


def _code(request: Request, name: str = "code") -> str:
    code = request.path_params[name]
    if len(code) > CODE_MAX:
        raise HTTPException(404, "We could not find that ticket. Check the link in your email.")
    return code


def map_link(event: Event) -> str:
    query = ", ".join(p for p in (event.venue_name, event.venue_address) if p)
    return f"https://www.openstreetmap.org/search?query={quote_plus(query)}"


async def _order(request: Request):
    async with request.app.state.db.read() as session:
        order = await services.get_order(session=session, code=_code(request))
        event = await session.get(Event, order.event_id) if order else None
    if order is None:
        raise HTTPException(404, "We could not find that booking. Check the link in your email.")
    return order, event


@guard(PUBLIC)
async def order_page(request: Request) -> Response:
    order, event = await _order(request)
    return render(request, "ticketing/order.html", {"order": order, "event": event, "map_url": map_link(event)},
                  headers={"Cache-Control": "private, no-store"})


async def order_tickets_pdf(request: Request, code: str) -> Document | None:
    """Every ticket of a booking still valid, as one PDF (the documents extension point: order-tickets)."""
    async with request.app.state.db.read() as session:
        order = await services.get_order(session=session, code=code)
        if order is None:
            raise HTTPException(404, "We could not find that booking.")
        if not any(not t.is_cancelled for t in order.tickets):
            raise HTTPException(410, "Every ticket in this booking has been cancelled, so there is nothing to print.")
        return Document(*await order_pdf(session=session, order=order))


@guard(PUBLIC)
async def old_order_pdf(request: Request) -> Response:
    """Where the tickets PDF of a booking was before documents had one route (links in emails already sent)."""
    return RedirectResponse(document_path("order-tickets", _code(request)), status_code=308)


async def _ticket(request: Request):
    async with request.app.state.db.read() as session:
        ticket = await services.get_ticket(session=session, code=_code(request))
        if ticket is None:
            raise HTTPException(404, "We could not find that ticket. Check the link in your email.")
        event = await session.get(Event, ticket.event_id)
        key = await session.get(EventKey, ticket.event_id)
    return ticket, event, key


@guard(PUBLIC)
async def ticket_page(request: Request) -> Response:
    ticket, event, key = await _ticket(request)
    qr = None
    if not ticket.is_cancelled and key is not None:
        qr = Markup(qr_svg(qr_payload(key, ticket)))
    hooks = hooks_of(request.app)
    panels = await hooks.panels(hooks.ticket_page_panels, request, ticket, event)
    return render(request, "ticketing/ticket.html",
                  {"ticket": ticket, "order": ticket.order, "event": event, "qr_svg": qr, "map_url": map_link(event),
                   "panels": panels},
                  status_code=200, headers={"Cache-Control": "private, no-store"})


async def ticket_pdf(request: Request, code: str) -> Document | None:
    """One ticket as a PDF (the documents extension point: ticket)."""
    async with request.app.state.db.read() as session:
        ticket = await services.get_ticket(session=session, code=code)
        if ticket is None:
            raise HTTPException(404, "We could not find that ticket. Check the link in your email.")
        event = await session.get(Event, ticket.event_id)
        key = await session.get(EventKey, ticket.event_id)
    if ticket.is_cancelled:
        raise HTTPException(410, "This ticket has been cancelled, so there is nothing to print.")
    from ticketing.documents import ticket_pdf as render_ticket_pdf
    from ticketing.outputs import ticket_doc

    doc = ticket_doc(ticket=ticket, order=ticket.order, event=event, key=key)
    return Document(*await render_ticket_pdf([doc], filename_stem=f"ticket-{ticket.order.reference}"))


@guard(PUBLIC)
async def old_ticket_pdf(request: Request) -> Response:
    """Where a ticket's PDF was before documents had one route (links in emails already sent)."""
    return RedirectResponse(document_path("ticket", _code(request)), status_code=308)


DOCUMENTS = (
    # Anyone with the code printed on the ticket or in the booking email: the code is the secret.
    DocumentProvider("ticket", PUBLIC, ticket_pdf),
    DocumentProvider("order-tickets", PUBLIC, order_tickets_pdf),
)


def offer_notifier(request: Request):
    settings = request.app.state.settings

    async def notify(session, entry, token):
        await emails.enqueue_offer(session=session, entry=entry, token=token, base_url=settings.base_url)

    async def offer(session, ticket_type_id: int) -> bool:
        return await waitlist.offer_next(session=session, ticket_type_id=ticket_type_id,
                                         offer_hours=settings.waitlist_offer_hours, notify=notify)

    return notify, offer


@guard(PUBLIC)
async def cancel_ticket(request: Request) -> Response:
    code = _code(request)
    _notify, offer = offer_notifier(request)
    async with request.app.state.db.write() as session:
        ticket = await services.get_ticket(session=session, code=code)
        if ticket is None:
            raise HTTPException(404, "We could not find that ticket.")
        done = await services.cancel_tickets(session=session, tickets=[ticket], offer=offer)
    if done:
        flash(request, "Your ticket is cancelled. Thank you for letting us know: the place goes to someone else.")
    else:
        flash(request, "This ticket was already cancelled.", "warning")
    return RedirectResponse(f"/tickets/{code}", status_code=303)


@guard(PUBLIC)
async def claim_offer(request: Request) -> Response:
    token = request.path_params["token"]
    db = request.app.state.db
    async with db.read() as session:
        entry = await waitlist.get_offer(session=session, token=token)
        event = await session.get(Event, entry.event_id) if entry else None
    if entry is None:
        raise HTTPException(404, "This offer link is not valid any more. It may have been used already or expired.")
    values = {"attendee_name": entry.name}
    errors: dict[str, str] = {}
    expired = entry.status == WaitlistStatus.OFFERED and (entry.offer_expires_at is None
                                                          or entry.offer_expires_at <= utcnow())
    if entry.status != WaitlistStatus.OFFERED or expired:
        # Used or expired: say so (410 Gone) on every visit, not only on the first.
        return render(request, "ticketing/claim.html", {"entry": entry, "event": event, "values": values,
                                                        "errors": errors, "expired": expired}, status_code=410)
    if request.method == "POST":
        form = await request.form()
        values["attendee_name"] = str(form.get("attendee_name", ""))[:200]
        if form.get("consent") not in ("on", "yes", "1"):
            errors["consent"] = "Please agree to how we use your details, or we cannot book your ticket."
        if not errors:
            try:
                async with db.write() as session:
                    order = await waitlist.claim(session=session, token=token, attendee_name=values["attendee_name"])
                    await emails.enqueue_confirmation(session=session, order=order, event=event,
                                                      base_url=request.app.state.settings.base_url)
            except waitlist.OfferInvalid as exc:
                raise HTTPException(410, str(exc)) from None
            except services.TicketingError as exc:
                errors = exc.errors
            else:
                flash(request, "The place is yours. We have emailed your ticket to you.")
                return RedirectResponse(f"/orders/{order.code}", status_code=303)
    return render(request, "ticketing/claim.html", {"entry": entry, "event": event, "values": values,
                                                    "errors": errors, "expired": False},
                  status_code=422 if errors else 200)


@guard(DOOR)
async def public_key(request: Request) -> Response:
    event = await public_event(request)
    async with request.app.state.db.write() as session:
        key = await services.ensure_event_key(session=session, event_id=event.id)
    return JSONResponse({"event_id": event.id, "event_slug": event.slug, "algorithm": "Ed25519",
                         "public_key": public_key_b64(key.public_key)})


routes = [
    Route("/orders/{code}", order_page, methods=["GET"], name="order"),
    Route("/orders/{code}/tickets.pdf", old_order_pdf, methods=["GET"], name="order_pdf"),
    Route("/tickets/{code}", ticket_page, methods=["GET"], name="ticket"),
    Route("/tickets/{code}/ticket.pdf", old_ticket_pdf, methods=["GET"], name="ticket_pdf"),
    Route("/tickets/{code}/cancel", cancel_ticket, methods=["POST"], name="cancel_ticket"),
    Route("/waitlist/claim/{token}", claim_offer, methods=["GET", "POST"], name="claim_offer"),
]
event_routes = [
    Route("/{slug}/ticket-key", public_key, methods=["GET"], name="event_public_key"),
]
