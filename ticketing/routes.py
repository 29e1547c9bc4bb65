"""Public registration: the panel on the event page, the details step, and the waiting list."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from events.access import may_preview
from events.models import EventStatus
from events.routes import event_page_context, public_event
from kernel import group_commit, mail, ratelimit
from kernel.auth import PUBLIC, client_address, flash, guard
from kernel.db import utcnow
from kernel.hooks import Panel
from kernel.i18n import format_number
from kernel.i18n import gettext as _
from kernel.web import render, render_framed
from ticketing import booking_state, emails, notices, services, waitlist
from ticketing.forms import (
    HONEYPOT_FIELD,
    MAX_TICKETS_PER_ORDER,
    parse_quantities,
    parse_registration,
    valid_email,
    valid_form_token,
)
from ticketing.inventory import SoldOut, combined_left, sold_out_message
from ticketing.models import COMMUNITY_DECLARATIONS, Order, Tier


async def registration_panel(request: Request, event) -> Panel:
    """The event page's booking panel (event_page_panels): ticket types with what is left and whether they
    are on sale."""
    now = utcnow()
    async with request.app.state.db.read() as session:
        types = await services.list_ticket_types(session=session, event_id=event.id)
    rows = []
    for t in types:
        left = combined_left(t.capacity, t.sold, event.capacity, event.tickets_sold)
        state = services.sales_state(t, now)
        if state == "open" and left == 0:
            state = "sold_out"
        choices = min(t.max_per_order, left if left is not None else t.max_per_order)
        rows.append({"type": t, "left": left, "state": state, "choices": choices})
    open_for_booking = event.is_published and event.ends_at > now
    return Panel("ticketing/_panel.html", {"ticket_rows": rows, "booking_open": open_for_booking,
                                           "panel_errors": {}, "panel_values": {}})


def _community(types) -> bool:
    return any(t.tier == Tier.COMMUNITY for t in types)


async def _types(request: Request, event):
    async with request.app.state.db.read() as session:
        return await services.list_ticket_types(session=session, event_id=event.id)


def _details_context(event, types, lines, values, errors, form_token) -> dict:
    by_id = {t.id: t for t in types}
    return {
        "event": event, "lines": [(i, by_id[type_id]) for i, type_id in enumerate(lines)],
        "values": values, "errors": errors, "form_token": form_token,
        "needs_declaration": any(by_id[type_id].tier == Tier.COMMUNITY for type_id in lines),
        "declarations": COMMUNITY_DECLARATIONS, "honeypot": HONEYPOT_FIELD,
        "total": sum(by_id[type_id].price_pence for type_id in lines if by_id[type_id].tier != Tier.FREE),
    }


@guard(PUBLIC)
async def details(request: Request) -> Response:
    """Step 2: a name per ticket, one email, needs, consent. Reached from the event page's form."""
    event = await public_event(request)
    now = utcnow()
    reason = services.closed_reason(event, now)
    if reason:
        raise HTTPException(409, f"{reason} Booking is closed.")
    types = await _types(request, event)
    selection = parse_quantities(request.query_params, types)
    for t in types:
        # A stale event page (or an edited address) can still ask for a type whose sales window is shut.
        state = services.sales_state(t, now) if t.id in selection.quantities else "open"
        if state == "not_yet":
            selection.errors["quantity"] = _("“%(name)s” tickets are not on sale yet.", name=t.name)
        elif state == "closed":
            selection.errors["quantity"] = _("Sales of “%(name)s” tickets have closed.", name=t.name)
    if selection.errors:
        context = await event_page_context(request, event)
        context.update(panel_errors=selection.errors, panel_values=selection.raw)
        return render(request, "events/event.html", context, status_code=422)
    lines = [type_id for type_id, n in sorted(selection.quantities.items()) for _ in range(n)]
    # Say "sold out" before asking for names, not after: the page a booking that found no seats gets.
    wanted = services.RegistrationRequest([services.TicketLine(type_id, "") for type_id in lines], email="")
    gone = services.sold_out(event, types, wanted)
    if gone is not None:
        return _sold_out_page(request, event, types, lines, {}, gone)
    values = {"email": "", "access_needs": ""}
    token = secrets.token_urlsafe(24)
    return render(request, "ticketing/details.html", _details_context(event, types, lines, values, {}, token))


async def _rate_limited(request: Request) -> bool:
    settings = request.app.state.settings
    async with request.app.state.db.read() as session:
        used = await ratelimit.count_recent(session=session, bucket=booking_state.REGISTER_BUCKET,
                                            key=client_address(request),
                                            window_seconds=settings.registration_window_seconds,
                                            up_to=settings.registration_limit)
    return used >= settings.registration_limit


async def _order_for_token(db, form_token: str | None) -> Order | None:
    if not form_token:
        return None
    async with db.read() as session:
        return await session.scalar(select(Order).where(Order.form_token == form_token))


class _TooManyNow(Exception):
    """The address reached its limit while this booking waited for the write lock (rolls the booking back)."""


async def _count_under_lock(session, request: Request) -> None:
    """Count this address's bookings and waiting-list joins again inside the write transaction that adds one
    (requests sent together all passed the count read before it), and record this one; _TooManyNow (which
    rolls the transaction back) at the limit. Exact: transactions counting one address take turns
    (ratelimit.serialize, called first in the transaction)."""
    settings = request.app.state.settings
    if not await ratelimit.record_under_limit(session=session, bucket=booking_state.REGISTER_BUCKET,
                                              key=client_address(request), limit=settings.registration_limit,
                                              window_seconds=settings.registration_window_seconds):
        raise _TooManyNow()


def _too_many() -> HTTPException:
    return HTTPException(429, "Too many bookings from your connection in a short time. Please wait a few "
                              "minutes and try again, or ask us at the door.")


@guard(PUBLIC)
async def register(request: Request) -> Response:
    mail.hold_off()  # a rush of bookings comes before rendering the PDFs of the emails already queued
    form = await request.form()
    db = request.app.state.db
    settings = request.app.state.settings
    sent_token = form.get("form_token")
    sent_token = sent_token if isinstance(sent_token, str) and valid_form_token(sent_token) else None
    user = getattr(request.state, "user", None)
    # One statement for everything decided before booking: the event's and its types' seats, the order this
    # form may already have made, and the per-address count (booking_state). In a rush most attempts end
    # here (sent again, over the limit, or sold out) without queueing for the write lock.
    state = await booking_state.load(db, slug=request.path_params["slug"], form_token=sent_token,
                                     address=client_address(request),
                                     window_seconds=settings.registration_window_seconds,
                                     limit=settings.registration_limit)
    # As events.routes.public_event finds it: a draft only for those who may manage it (events.access).
    if state is not None and state.event.status == EventStatus.DRAFT:
        async with db.read() as session:
            if not await may_preview(session=session, user=user, event_id=state.event.id):
                state = None
    if state is None:
        raise HTTPException(404, "We could not find that event. It may have been removed or the link "
                                 "mistyped.")
    event, types = state.event, state.types
    step = parse_registration(form, types)
    type_ids = {str(t.id): t.id for t in types}
    # By line number (type_0, type_1 ... type_10), not by key: "type_10" sorts before "type_2" as text,
    # which would re-show the form with names next to the wrong ticket types.
    lines = [line.ticket_type_id for line in step.request.lines] if step.request else [
        type_ids[step.values[f"type_{i}"]] for i in range(MAX_TICKETS_PER_ORDER)
        if step.values.get(f"type_{i}") in type_ids
    ]
    # A missing or broken token gets a fresh one, so the re-shown form can be sent again.
    token = step.values.get("form_token", "")
    if not valid_form_token(token):
        token = secrets.token_urlsafe(24)
    if step.honeypot:
        raise HTTPException(400, _("Sorry, we could not process that booking. Please try again."))
    if step.errors:
        # Report every problem at once: the form's and the booking rules' (names, declaration, prices).
        errors = {**services.check_request(event, types, step.request), **step.errors}
        return render(request, "ticketing/details.html",
                      _details_context(event, types, lines, step.values, errors, token), status_code=422)
    # Sending the same form again is not a new booking: it shows the booking made, even at the limit.
    if state.existing_code is not None:
        return _already_booked(state.existing_code)
    if state.used >= settings.registration_limit:
        raise _too_many()
    now = utcnow()
    refused = services.closed_reason(event, now) or services.check_request(event, types, step.request, now)
    if not refused:
        # Seats already gone in what was just read: answer now, without the write lock. Seats that look
        # free are only ever taken by the atomic claim below, which checks again. (A closed event or a
        # refused line goes on to register(), which answers those as it always has.)
        gone = services.sold_out(event, types, step.request)
        if gone is not None:
            return _sold_out_page(request, event, types, lines, step.values, gone)
    async def book(session) -> tuple[services.Booked, bool]:
        await ratelimit.serialize(session=session, bucket=booking_state.REGISTER_BUCKET, key=client_address(request))
        booked, created = await services.book(session=session, event_id=event.id, req=step.request)
        if created:
            await _count_under_lock(session, request)
            await emails.enqueue_confirmation(session=session, order=booked, event=event, base_url=settings.base_url)
        return booked, created

    try:
        # Committed with the bookings sent at the same moment (group_commit: one SQLite transaction for a rush).
        booked, created = await group_commit.run(db, book)
    except _TooManyNow:
        raise _too_many() from None
    except services.TicketingError as exc:
        # A closed event is a state of the world (409), not a problem with what was typed (422).
        status = 409 if isinstance(exc, services.RegistrationClosed) else 422
        return render(request, "ticketing/details.html",
                      _details_context(event, types, lines, step.values, exc.errors, token), status_code=status)
    except SoldOut as exc:
        # What was read before the write lock said there were seats: read again, in one statement, the counts
        # for the page and the order this form may have made meanwhile (two sends of one form racing for the
        # last seats on PostgreSQL: the first took them, so this one answers with its order).
        fresh = await booking_state.load(db, slug=event.slug, form_token=step.request.form_token,
                                         address=client_address(request),
                                         window_seconds=settings.registration_window_seconds,
                                         limit=settings.registration_limit)
        if fresh is None or fresh.existing_code is None:
            if fresh is not None:
                event, types = fresh.event, fresh.types
            return _sold_out_page(request, event, types, lines, step.values, exc)
        return _already_booked(fresh.existing_code)
    except IntegrityError:
        # The same form was submitted twice at the same moment: the other submission created the order.
        order = await _order_for_token(db, step.request.form_token)
        if order is None:
            raise
        return _already_booked(order.code)
    if not created:  # the same form, booked by another request between the read above and the write
        return _already_booked(booked.code)
    flash(request, _("You are booked. We have emailed your tickets to you."))
    # Only this response knows the booking's secret (ticketing.access): the booker lands on their booking.
    return RedirectResponse(f"/orders/{booked.access_token}", status_code=303)


def _already_booked(order_code: str) -> Response:
    """The form was sent before: the booking's secret is in the email only, so say that (ticketing.bookings)."""
    return RedirectResponse(f"/orders/{order_code}/booked", status_code=303)


def _sold_out_page(request: Request, event, types, lines, values, exc: SoldOut) -> Response:
    """What a booking that found too few seats gets: what ran out and, when a type it asked for has none left,
    that type's waiting list form filled in with the name and email just typed (one tap to join)."""
    by_id = {t.id: t for t in types}
    asked = [by_id[type_id] for type_id in dict.fromkeys(lines) if type_id in by_id]
    if exc.ticket_type_id in by_id:
        asked = [by_id[exc.ticket_type_id]]
    waitlist_type = next((t for t in asked if combined_left(t.capacity, t.sold, event.capacity,
                                                             event.tickets_sold) == 0), None)
    message = _("Sorry, “%(name)s” tickets are sold out.", name=waitlist_type.name) if waitlist_type \
        else sold_out_message(exc)
    # In a rush every attempt after the last seat gets this page: rendered once a type, filled in for each.
    # The key must hold everything sold_out.html shows apart from the holes (and the CSRF token).
    return render_framed(request, "ticketing/sold_out.html", {
        "event": event, "waitlist_type": waitlist_type, "honeypot": HONEYPOT_FIELD, "message": message,
    }, key=(event.id, event.slug, event.title, event.starts_at, message,
            (waitlist_type.id, waitlist_type.name) if waitlist_type else None),
        holes={"name": values.get("name_0", "")[:120], "email": values.get("email", "")[:320]}, status_code=409)


@guard(PUBLIC)
async def join_waitlist(request: Request) -> Response:
    event = await public_event(request)
    types = await _types(request, event)
    form = await request.form()
    values = {k: v[:300] for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    try:
        ticket_type = next(t for t in types if str(t.id) == values.get("ticket_type_id"))
    except StopIteration:
        ticket_type = None
        errors["waitlist"] = _("That ticket type is not available for this event.")
    else:
        left = combined_left(ticket_type.capacity, ticket_type.sold, event.capacity, event.tickets_sold)
        if left != 0:
            errors["waitlist"] = f"“{ticket_type.name}” tickets are still available: book one instead."
    name = values.get("name", "").strip()
    email = values.get("email", "").strip()
    if not name or len(name) > 120:
        errors["waitlist_name"] = _("Enter your name (up to 120 characters).")
    if not valid_email(email):
        errors["waitlist_email"] = _("Enter an email address like name@example.com.")
    if values.get("consent") not in ("on", "yes", "1"):
        errors["waitlist_consent"] = _("Please agree that we may email you about a place.")
    if values.get(HONEYPOT_FIELD, "").strip():
        raise HTTPException(400, _("Sorry, we could not process that request. Please try again."))
    if errors:
        context = await event_page_context(request, event)
        context.update(panel_errors=errors, panel_values=values, waitlist_type_id=values.get("ticket_type_id"))
        return render(request, "events/event.html", context, status_code=422)
    if await _rate_limited(request):
        raise _too_many()
    try:
        async with request.app.state.db.write() as session:
            await ratelimit.serialize(session=session, bucket=booking_state.REGISTER_BUCKET,
                                      key=client_address(request))
            entry, created = await waitlist.join(session=session, event=event, ticket_type=ticket_type, name=name,
                                                 email=email.lower())
            place = await waitlist.position(session=session, entry=entry)
            if created:
                await _count_under_lock(session, request)
                settings = request.app.state.settings
                await notices.enqueue_waitlist_joined(session=session, entry=entry, event=event,
                                                      ticket_type=ticket_type, place=place,
                                                      offer_hours=settings.waitlist_offer_hours,
                                                      base_url=settings.base_url)
    except _TooManyNow:
        raise _too_many() from None
    if created:
        flash(request, _("You are on the waiting list for “%(name)s” (number %(place)s in line). We will email "
                         "you if a place comes up.", name=ticket_type.name, place=format_number(place)))
    else:
        flash(request, _("You are already on the waiting list for “%(name)s” (number %(place)s in line).",
                         name=ticket_type.name, place=format_number(place)))
    return RedirectResponse(f"/events/{event.slug}#tickets", status_code=303)


# Every attempt of a booking rush comes here: the app lists this route first, whole, outside the /events
# Mount (Starlette tries routes in order, and a Mount is a second router to pass through).
booking_route = Route("/events/{slug}/register", register, methods=["POST"], name="register")

event_routes = [
    Route("/{slug}/register", details, methods=["GET"], name="registration_details"),
    Route("/{slug}/waitlist", join_waitlist, methods=["POST"], name="join_waitlist"),
]
