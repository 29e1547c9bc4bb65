"""Pages reached with a ticket's code alone (which says it is a ticket, nothing more: ticketing.access), where
the PDFs were, claiming a waiting-list place, and the event's public key for door scanners. The booking the
email's links open is ticketing.bookings."""

from __future__ import annotations

from urllib.parse import quote_plus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from events.models import Event
from events.routes import public_event
from kernel.auth import DOOR, PUBLIC, flash, guard
from kernel.db import utcnow
from kernel.documents import document_path
from kernel.hooks import hooks_of
from kernel.i18n import gettext as _
from kernel.web import render
from ticketing import emails, services, waitlist
from ticketing.models import WaitlistStatus
from ticketing.signing import public_key_b64

CODE_MAX = 64
CANCEL_NEEDS_LINK = ("A ticket can only be cancelled from the link in the booking email: the code printed on the "
                     "ticket is not enough. Open that email (or ask the organisers to send it again) and cancel "
                     "from there.")


def _code(request: Request, name: str = "code") -> str:
    code = request.path_params[name]
    if len(code) > CODE_MAX:
        raise HTTPException(404, _("We could not find that ticket. Check the link in your email."))
    return code


def map_link(event: Event) -> str:
    query = ", ".join(p for p in (event.venue_name, event.venue_address) if p)
    return f"https://www.openstreetmap.org/search?query={quote_plus(query)}"


@guard(PUBLIC)
async def old_order_pdf(request: Request) -> Response:
    """Where the tickets PDF of a booking was before documents had one route (links in emails already sent:
    their order code is those bookings' token, see ticketing.access)."""
    return RedirectResponse(document_path("order-tickets", _code(request)), status_code=308)


@guard(PUBLIC)
async def ticket_page(request: Request) -> Response:
    """What the code on a ticket (or its QR) opens: that it is a ticket for the event and whether it is valid,
    nothing about who holds it. The booking email's links open the full ticket (ticketing.bookings)."""
    async with request.app.state.db.read() as session:
        ticket = await services.get_ticket(session=session, code=_code(request))
        if ticket is None:
            raise HTTPException(404, _("We could not find that ticket. Check the link in your email."))
        event = await session.get(Event, ticket.event_id)
    hooks = hooks_of(request.app)
    panels = await hooks.panels(hooks.ticket_page_panels, request, ticket, event)
    return render(request, "ticketing/ticket_public.html", {"ticket": ticket, "event": event, "panels": panels},
                  headers={"Cache-Control": "private, no-store"})


@guard(PUBLIC)
async def old_ticket_pdf(request: Request) -> Response:
    """Where a ticket's PDF was before documents had one route (links in emails already sent)."""
    return RedirectResponse(document_path("ticket", _code(request)), status_code=308)


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
    """Refused: the code printed on a ticket gets someone in, it does not cancel (ticketing.access)."""
    _code(request)
    raise HTTPException(403, CANCEL_NEEDS_LINK)


@guard(PUBLIC)
async def claim_offer(request: Request) -> Response:
    token = request.path_params["token"]
    db = request.app.state.db
    async with db.read() as session:
        entry = await waitlist.get_offer(session=session, token=token)
        event = await session.get(Event, entry.event_id) if entry else None
    if entry is None:
        raise HTTPException(404, _("This offer link is not valid any more. It may have been used already or expired."))
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
            errors["consent"] = _("Please agree to how we use your details, or we cannot book your ticket.")
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
                flash(request, _("The place is yours. We have emailed your ticket to you."))
                return RedirectResponse(f"/orders/{order.access_token}", status_code=303)
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
    Route("/orders/{code}/tickets.pdf", old_order_pdf, methods=["GET"], name="order_pdf"),
    Route("/tickets/{code}", ticket_page, methods=["GET"], name="ticket"),
    Route("/tickets/{code}/ticket.pdf", old_ticket_pdf, methods=["GET"], name="ticket_pdf"),
    Route("/tickets/{code}/cancel", cancel_ticket, methods=["POST"], name="cancel_ticket"),
    Route("/waitlist/claim/{token}", claim_offer, methods=["GET", "POST"], name="claim_offer"),
]
event_routes = [
    Route("/{slug}/ticket-key", public_key, methods=["GET"], name="event_public_key"),
]
