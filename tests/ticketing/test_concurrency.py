"""Never oversell: many concurrent attempts on few seats end with exactly the capacity sold."""

import asyncio
import re
import secrets

import httpx
from sqlalchemy import func, select

from events.models import Event
from kernel.db import Database
from tests.factories import make_event
from tests.live import live_app
from tests.ticketing.factories import make_ticket_type
from ticketing import services
from ticketing.inventory import SoldOut
from ticketing.models import Order, Ticket, TicketType

ATTEMPTS = 200
SEATS = 50


async def _counts(db, event_id, type_id):
    async with db.read() as session:
        tickets = await session.scalar(select(func.count(Ticket.id)).where(Ticket.event_id == event_id))
        orders = await session.scalar(select(func.count(Order.id)).where(Order.event_id == event_id))
        sold = await session.scalar(select(TicketType.sold).where(TicketType.id == type_id))
        event_sold = await session.scalar(select(Event.tickets_sold).where(Event.id == event_id))
    return tickets, orders, sold, event_sold


async def test_service_level_race_never_oversells(db):
    async with db.write() as session:
        event = await make_event(session, capacity=SEATS + 10)
        ticket_type = await make_ticket_type(session, event, capacity=SEATS)

    async def attempt(i):
        req = services.RegistrationRequest(lines=[services.TicketLine(ticket_type.id, f"Person {i}")],
                                           email=f"p{i}@example.org", form_token=secrets.token_urlsafe(24))
        try:
            async with db.write() as session:
                await services.register(session=session, event_id=event.id, req=req)
            return "ok"
        except SoldOut:
            return "sold_out"

    results = await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS)))
    assert results.count("ok") == SEATS
    assert results.count("sold_out") == ATTEMPTS - SEATS
    assert await _counts(db, event.id, ticket_type.id) == (SEATS, SEATS, SEATS, SEATS)


async def test_event_wide_capacity_shared_by_types(db):
    async with db.write() as session:
        event = await make_event(session, capacity=30)
        a = await make_ticket_type(session, event, name="A", capacity=25)
        b = await make_ticket_type(session, event, name="B", capacity=25)

    async def attempt(i):
        type_id = a.id if i % 2 else b.id
        req = services.RegistrationRequest(lines=[services.TicketLine(type_id, f"Person {i}")],
                                           email=f"p{i}@example.org", form_token=secrets.token_urlsafe(24))
        try:
            async with db.write() as session:
                await services.register(session=session, event_id=event.id, req=req)
            return True
        except SoldOut:
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(120)))
    assert sum(results) == 30
    async with db.read() as session:
        assert await session.scalar(select(func.count(Ticket.id)).where(Ticket.event_id == event.id)) == 30
        assert await session.scalar(select(Event.tickets_sold).where(Event.id == event.id)) == 30
        sold_a = await session.scalar(select(TicketType.sold).where(TicketType.id == a.id))
        sold_b = await session.scalar(select(TicketType.sold).where(TicketType.id == b.id))
    assert sold_a + sold_b == 30 and sold_a <= 25 and sold_b <= 25


async def test_http_race_in_worker_processes(db, settings, tmp_path):
    """200 concurrent form submissions against real uvicorn workers (2 on PostgreSQL, 1 on SQLite)."""
    async with db.write() as session:
        event = await make_event(session, capacity=None)
        ticket_type = await make_ticket_type(session, event, capacity=SEATS)
    workers = 1 if db.is_sqlite else 2
    var = tmp_path / "live"
    var.mkdir()
    with live_app(settings.database_url, var, workers=workers,
                  extra_env={"DENHUB_REGISTRATION_LIMIT": "100000"}) as base:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            page = await client.get(f"/events/{event.slug}/register", params={f"qty_{ticket_type.id}": "1"})
            assert page.status_code == 200
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

            async def attempt(i):
                form = {"csrf_token": csrf, "form_token": secrets.token_urlsafe(24), "type_0": str(ticket_type.id),
                        "name_0": f"Person {i}", "email": f"p{i}@example.org", "consent": "on"}
                r = await client.post(f"/events/{event.slug}/register", data=form)
                return r.status_code

            statuses = await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS)))
    assert statuses.count(303) == SEATS, sorted(set(statuses))
    assert statuses.count(409) == ATTEMPTS - SEATS
    check = Database(settings.database_url)
    try:
        assert await _counts(check, event.id, ticket_type.id) == (SEATS, SEATS, SEATS, SEATS)
    finally:
        await check.dispose()
