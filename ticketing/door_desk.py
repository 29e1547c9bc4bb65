"""The door's desk work, beside the scanner (ticketing/door.py): finding a ticket by the attendee's name, and
taking the money an unpaid order owes before admitting."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kernel.auth import DOOR_OR_LINK, guard
from kernel.web import pence
from ticketing import checkin, door_lookup, services
from ticketing.door import (
    _scanner_page,
    _str,
    _wants_json,
    device_label,
    door_event,
    lookups_allowed,
    ticket_id_of,
    too_many_lookups,
)
from ticketing.models import Order, OrderStatus, Ticket, TicketStatus


@guard(DOOR_OR_LINK)
async def search(request: Request) -> Response:
    """Tickets of this event whose attendee name contains what was typed (a ticket with no code at hand)."""
    event = await door_event(request)
    query = " ".join(request.query_params.get("q", "")[:door_lookup.MAX_QUERY_CHARS].split())
    query = checkin.clean(query)
    if len(query) < door_lookup.MIN_NAME_CHARS:
        found, status = door_lookup.Found("Find by name", f"Type at least {door_lookup.MIN_NAME_CHARS} letters of the name.",
                              [], query), 400
    elif not await lookups_allowed(request):
        return await too_many_lookups(request, event)
    else:
        async with request.app.state.db.read() as session:
            matches, more = await door_lookup.by_name(session=session, event_id=event.id, query=query)
        detail = (f"The first {len(matches)} names with “{query}”: type more of the name to narrow it down."
                  if more else f"{len(matches) or 'No'} ticket{'s' if len(matches) != 1 else ''} "
                               f"with “{query}” in the name.")
        found, status = door_lookup.Found("Find by name", detail, matches, query), 200
    if _wants_json(request):
        return JSONResponse({**found.as_json(), "query": query}, status_code=status,
                            headers={"Cache-Control": "no-store"})
    return await _scanner_page(request, event, None, found=found, status_code=status)


def _int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12 else None


@guard(DOOR_OR_LINK)
async def pay_and_admit(request: Request) -> Response:
    """Door staff took the money the order owes (the amount they were shown): mark it paid, admit the ticket.

    The amount is the order's outstanding amount (its valid tickets that have a price): paying marks the whole
    order paid, so its other tickets are then admitted by their own scans with their money taken. A ticket
    with no price is admitted as free by its scan, and refused here (there is nothing to pay). An amount that is no longer what the order
    owes (changed meanwhile, or not sent) is refused with the right one: nobody is admitted unpaid. Pressed
    for an order already paid, it admits as a scan would (a second press admits nobody twice)."""
    event = await door_event(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    ticket_id, amount = ticket_id_of(form), _int(form.get("amount_pence"))
    if not await lookups_allowed(request):  # it names the ticket's holder: counted as a look-up
        return await too_many_lookups(request, event)
    async with request.app.state.db.write() as session:
        ticket = await session.get(Ticket, ticket_id) if ticket_id is not None else None
        if ticket is None or ticket.event_id != event.id:
            raise HTTPException(404, "No ticket with that number for this event.")
        order = await session.get(Order, ticket.order_id)
        refusal, due = None, (0, 0)
        if ticket.status == TicketStatus.CANCELLED or order.status == OrderStatus.CANCELLED:
            refusal = checkin.Verdict.CANCELLED, "This ticket was cancelled: take no payment."
        elif ticket.price_pence == 0:
            refusal = checkin.Verdict.REJECTED, "This ticket is free: there is nothing to pay. Scan it to admit."
        elif order.paid_at is None and order.status == OrderStatus.AWAITING_PAYMENT:
            due = await session.run_sync(lambda s: _order_due(s, order.id))
            if amount != due[0]:
                refusal = checkin.Verdict.UNPAID, (f"This order owes {pence(due[0])}: take that, then press "
                                                   "“mark paid” again. Nothing was recorded.")
            else:
                try:
                    await services.mark_paid(session=session, order=order,
                                             note=f"{pence(due[0])} paid at the door ({device_label(request)})")
                except services.TicketingError as exc:  # changed meanwhile
                    refusal = checkin.Verdict.REJECTED, str(exc)
        if refusal is not None:  # nothing paid, nobody admitted, no scan recorded
            result = checkin.ScanResult(refusal[0], ticket=await checkin.door_ticket(session, ticket.id),
                                        detail=refusal[1], amount_due_pence=due[0], due_tickets=due[1])
        else:
            result = await checkin.scan(session=session, event_id=event.id, text="", ticket_id=ticket.id,
                                        device=device_label(request), gate=_str(form, "gate", 64))
    status = 200 if refusal is None else 409
    if _wants_json(request):
        return JSONResponse(result.as_json(), status_code=status)
    return await _scanner_page(request, event, result, status_code=status)


def _order_due(session: Session, order_id: int) -> tuple[int, int]:
    return checkin.order_due(session.connection(), order_id)


routes = [
    Route("/events/{event_id:int}/search", search, methods=["GET"], name="door_search"),
    Route("/events/{event_id:int}/pay", pay_and_admit, methods=["POST"], name="door_pay"),
]
