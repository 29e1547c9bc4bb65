"""Organiser pages for ticketing: ticket types, the attendee list, CSV, payments, cancelling, resending."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from events.access import EVENT_MONEY, EVENT_ORGANISERS, event_of_row, managed_event_ids, scoped
from events.models import Event
from events.pages import event_in_path_or_404
from kernel.auth import MONEY, ORGANISING, flash, form_id, guard
from kernel.text import csv_cell
from kernel.web import london, render
from ticketing import access, attendees, badges, emails, notices, services, waitlist
from ticketing.forms import parse_ticket_type_form, values_from_type
from ticketing.models import (
    COMMUNITY_DECLARATIONS,
    ORDER_STATUS_LABELS,
    TIER_LABELS,
    Order,
    Ticket,
    TicketType,
    ticket_state_label,
)
from ticketing.tickets import offer_notifier

ATTENDEE_FILTERS = ("q", "type", "status", "paid")
# Ticket types are the organisers'; orders, payments and refunds the treasurer's too.
TYPE_ORGANISERS = scoped(ORGANISING, event_of_row(TicketType, "type_id", "ticket type"))
ORDER_MONEY = scoped(MONEY, event_of_row(Order, "order_id", "order"))
TICKET_MONEY = scoped(MONEY, event_of_row(Ticket, "ticket_id", "ticket"))


def _type_form(request, event, values, errors, ticket_type=None, status_code=200):
    return render(request, "ticketing/type_form.html",
                  {"event": event, "values": values, "errors": errors, "ticket_type": ticket_type,
                   "tiers": TIER_LABELS}, status_code=status_code)


@guard(MONEY)
async def payments(request: Request) -> Response:
    """The events whose orders and payments this person looks after (the treasurer's home: every event)."""
    async with request.app.state.db.read() as session:
        only = await managed_event_ids(session=session, user=request.state.user)
        stmt = select(Event).order_by(Event.starts_at.desc(), Event.id.desc())
        if only is not None:
            stmt = stmt.where(Event.id.in_(only or {-1}))
        events = list(await session.scalars(stmt))
    return render(request, "ticketing/payments.html", {"events": events})


@guard(EVENT_ORGANISERS)
async def ticket_types(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    async with request.app.state.db.read() as session:
        counts = await services.counts_by_type(session=session, event_id=event.id)
        waiting = await waitlist.waiting_counts(session=session, event_id=event.id)
    return render(request, "ticketing/manage_types.html", {"event": event, "counts": counts, "waiting": waiting})


@guard(EVENT_ORGANISERS)
async def new_type(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    if request.method == "GET":
        return _type_form(request, event, {"tier": "free", "max_per_order": "10", "position": "0",
                                           "price": "0", "is_active": True}, {})
    data, errors, values = parse_ticket_type_form(await request.form())
    if data is None:
        return _type_form(request, event, values, errors, status_code=422)
    async with request.app.state.db.write() as session:
        await services.save_ticket_type(session=session, event_id=event.id, data=data)
    flash(request, f"Ticket type “{data.name}” added.")
    return RedirectResponse(f"/organiser/events/{event.id}/tickets", status_code=303)


@guard(TYPE_ORGANISERS)
async def edit_type(request: Request) -> Response:
    db = request.app.state.db
    async with db.read() as session:
        ticket_type = await session.get(TicketType, request.path_params["type_id"])
        event = await session.get(Event, ticket_type.event_id) if ticket_type else None
    if ticket_type is None:
        raise HTTPException(404, "There is no ticket type with that number.")
    if request.method == "GET":
        return _type_form(request, event, values_from_type(ticket_type), {}, ticket_type)
    data, errors, values = parse_ticket_type_form(await request.form(), sold=ticket_type.sold)
    if data is not None:
        try:
            async with db.write() as session:
                fresh = await session.get(TicketType, ticket_type.id)
                await services.save_ticket_type(session=session, event_id=event.id, data=data, ticket_type=fresh)
        except services.TicketingError as exc:
            errors = exc.errors
        else:
            flash(request, f"Ticket type “{data.name}” saved.")
            return RedirectResponse(f"/organiser/events/{event.id}/tickets", status_code=303)
    return _type_form(request, event, values, errors, ticket_type, status_code=422)


def _filters(request: Request) -> dict:
    params = {k: request.query_params.get(k, "")[:100] for k in ATTENDEE_FILTERS}
    if params["type"] and form_id(params["type"]) is None:
        raise HTTPException(400, "The ticket type filter must be a ticket type number.")
    if params["status"] not in ("", "valid", "cancelled"):
        raise HTTPException(400, "Status must be valid or cancelled.")
    if params["paid"] not in ("", "paid", "unpaid"):
        raise HTTPException(400, "Payment filter must be paid or unpaid.")
    return params


def _attendee_filter(params: dict) -> attendees.AttendeeFilter:
    return attendees.AttendeeFilter(q=params["q"], ticket_type_id=form_id(params["type"]) if params["type"] else None,
                                    status=params["status"], paid=params["paid"])


@guard(EVENT_MONEY)
async def attendee_list(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    params = _filters(request)
    after = request.query_params.get("after", "")
    after_id = form_id(after) if after else None
    if after and after_id is None:
        raise HTTPException(400, "The page must start after a ticket number.")
    filters = _attendee_filter(params)
    # slow_read: on SQLite a search through 20,000 attendees would otherwise hold up the door's scans.
    async with request.app.state.db.slow_read() as session:
        key = await attendees.key_of(session=session, event_id=event.id, ticket_id=after_id) if after_id else None
        page = await attendees.tickets_page(session=session, event_id=event.id, filters=filters, after=key,
                                            limit=attendees.LIST_PAGE + 1)
        tickets, more = page[:attendees.LIST_PAGE], len(page) > attendees.LIST_PAGE
        # Counted only when the page does not hold them all: a count reads every match again.
        total = len(tickets) if key is None and not more else await attendees.count(
            session=session, event_id=event.id, filters=filters)
        types = await services.list_ticket_types(session=session, event_id=event.id, include_inactive=True)
        waiting = await waitlist.waiting_counts(session=session, event_id=event.id)
    query = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return render(request, "ticketing/attendees.html", {
        "event": event, "tickets": tickets, "total": total, "types": types, "waiting": waiting,
        "params": params, "query": query, "page_size": attendees.LIST_PAGE, "first_page": key is None,
        "next_after": tickets[-1].id if more else None,
    })


def _cell(value) -> str:
    """Spreadsheet-safe text: a leading = + - @ would otherwise run as a formula in Excel."""
    return csv_cell("" if value is None else str(value))


CSV_HEADER = ["ticket_code", "attendee", "ticket_type", "tier", "price_gbp", "ticket_status", "checked_in_at",
              "order_reference", "email", "organisation", "order_status", "paid_at", "community_declaration",
              "access_needs", "booked_at"]


def _csv_text(lines) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(lines)
    return out.getvalue()


def _csv_page(rows) -> str:
    """The export's lines for a page of rows of attendees.EXPORT_COLUMNS.

    Every page runs on the event loop between two reads, so this is kept cheap: rows unpacked as tuples, and
    each order's times formatted once (its tickets share them).
    """
    stamps: dict = {None: ""}

    def stamp(value) -> str:
        text = stamps.get(value)
        if text is None:
            text = stamps[value] = london(value, "%Y-%m-%d %H:%M")
        return text

    declarations = COMMUNITY_DECLARATIONS
    # Statuses as the list shows them ("Awaiting payment", "Checked in"), never the stored values.
    return _csv_text(
        [_cell(x) for x in (code, name, type_name, TIER_LABELS[tier], f"{price / 100:.2f}",
                            ticket_state_label(status, checked_in_at), stamp(checked_in_at), reference, email,
                            organisation, ORDER_STATUS_LABELS.get(order_status, order_status), stamp(paid_at),
                            declarations.get(declaration, declaration) if declaration else "", access_needs,
                            stamp(booked_at))]
        for (_id, code, name, type_name, tier, price, status, reference, email, order_status, paid_at, declaration,
             access_needs, booked_at, organisation, checked_in_at) in rows
    )


@guard(EVENT_MONEY)
async def attendees_csv(request: Request) -> Response:
    event = await event_in_path_or_404(request)
    filters = _attendee_filter(_filters(request))
    db = request.app.state.db

    async def body():
        # A page at a time, each read on its own (Database.slow_read) and sent before the next is read: a
        # 20,000-row export never holds the event loop, which answers the door's scans, for more than a page.
        yield "\ufeff" + _csv_text([CSV_HEADER])  # a BOM, so that Excel reads UTF-8
        async for rows in attendees.export_pages(db, event_id=event.id, filters=filters):
            yield _csv_page(rows)

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{event.slug}-attendees.csv"',
        "Cache-Control": "private, no-store",
    })


async def _order_action(request: Request, action) -> Response:
    db = request.app.state.db
    async with db.write() as session:
        order = await services.get_order_by_id(session=session, order_id=request.path_params["order_id"])
        if order is None:
            raise HTTPException(404, "There is no order with that number.")
        event = await session.get(Event, order.event_id)
        message = await action(session, order, event)
    flash(request, message)
    back = request.query_params.get("back", "")
    target = f"/organiser/events/{event.id}/attendees"
    if back.startswith("?") and "//" not in back:
        target += back
    return RedirectResponse(target, status_code=303)


@guard(ORDER_MONEY)
async def mark_paid(request: Request) -> Response:
    form = await request.form()
    note = str(form.get("note", ""))[:200]

    async def action(session, order, event):
        try:
            await services.mark_paid(session=session, order=order, note=note)
        except services.TicketingError as exc:
            return str(exc)
        return f"Order {order.reference} marked paid."

    return await _order_action(request, action)


@guard(ORDER_MONEY)
async def cancel_order(request: Request) -> Response:
    _notify, offer = offer_notifier(request)
    base_url = request.app.state.settings.base_url

    async def action(session, order, event):
        gone = await services.cancel(session=session, tickets=list(order.tickets), offer=offer)
        await notices.enqueue_cancelled(session=session, tickets=gone, title=event.title, by=notices.BY_ORGANISER,
                                        base_url=base_url)
        n = len(gone)
        return f"Order {order.reference}: {n} ticket{'s' if n != 1 else ''} cancelled; {order.email} is told." if n \
            else f"Order {order.reference} was already cancelled."

    return await _order_action(request, action)


@guard(TICKET_MONEY)
async def cancel_one_ticket(request: Request) -> Response:
    _notify, offer = offer_notifier(request)
    async with request.app.state.db.write() as session:
        ticket = await session.get(Ticket, request.path_params["ticket_id"])
        if ticket is None:
            raise HTTPException(404, "There is no ticket with that number.")
        gone = await services.cancel(session=session, tickets=[ticket], offer=offer)
        event = await session.get(Event, ticket.event_id)
        await notices.enqueue_cancelled(session=session, tickets=gone, title=event.title, by=notices.BY_ORGANISER,
                                        base_url=request.app.state.settings.base_url)
        n, event_id, name = len(gone), ticket.event_id, ticket.attendee_name
    flash(request, f"Ticket for {name} cancelled." if n else f"The ticket for {name} was already cancelled.")
    return RedirectResponse(f"/organiser/events/{event_id}/attendees", status_code=303)


@guard(ORDER_MONEY)
async def resend(request: Request) -> Response:
    base_url = request.app.state.settings.base_url

    async def action(session, order: Order, event):
        if not any(not t.is_cancelled for t in order.tickets):
            return f"Order {order.reference} has no valid tickets to send."
        # Only the hash of the booking's link is kept, so the email carries a new link; the old one stops working.
        await access.renew(session=session, order=order)
        await emails.enqueue_confirmation(session=session, order=order, event=event, base_url=base_url, resend=True)
        return f"Tickets for order {order.reference} sent again to {order.email}, with a new link to the booking."

    return await _order_action(request, action)


routes = [
    Route("/payments", payments, methods=["GET"], name="payments"),
    Route("/events/{event_id:int}/tickets", ticket_types, methods=["GET"], name="manage_ticket_types"),
    Route("/events/{event_id:int}/ticket-types/new", new_type, methods=["GET", "POST"], name="new_ticket_type"),
    Route("/ticket-types/{type_id:int}/edit", edit_type, methods=["GET", "POST"], name="edit_ticket_type"),
    Route("/events/{event_id:int}/attendees", attendee_list, methods=["GET"], name="attendees"),
    Route("/events/{event_id:int}/attendees.csv", attendees_csv, methods=["GET"], name="attendees_csv"),
    Route("/orders/{order_id:int}/mark-paid", mark_paid, methods=["POST"], name="mark_paid"),
    Route("/orders/{order_id:int}/cancel", cancel_order, methods=["POST"], name="cancel_order"),
    Route("/orders/{order_id:int}/resend", resend, methods=["POST"], name="resend_order"),
    Route("/tickets/{ticket_id:int}/cancel", cancel_one_ticket, methods=["POST"], name="organiser_cancel_ticket"),
    *badges.routes,
]
