"""Confirmation emails survive a crash of the server, and one that can never be sent is given up and shown.

The crash test runs the real server (uvicorn in a subprocess) with a real SMTP server (aiosmtpd on
loopback), books in a burst, kills the server with SIGKILL while its sender holds a lease, restarts it,
and expects every confirmed order's email within a minute of the restart (the lease alone would hold them
for minutes: DENHUB_SMTP_TIMEOUT_SECONDS is left at its default of 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import select

from kernel.accounts import Role
from kernel.mail import DEAD, SENT, MailSender, OutboxMessage
from tests.core.helpers import new_client, sign_in
from tests.core.test_mail import Collector
from tests.factories import make_event
from tests.live import ROOT, free_port
from tests.ticketing.factories import book, make_order, make_ticket_type
from ticketing import services
from ticketing.domain import DOMAIN as TICKETING
from ticketing.models import Order


class StallingCollector(Collector):
    """Holds every message in DATA while `stall` is true (the sender in the killed server is mid-send)."""

    def __init__(self):
        super().__init__()
        self.stall = True
        self.stalled = 0

    async def handle_DATA(self, server, session, envelope):
        if self.stall:
            self.stalled += 1
            while self.stall:
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"  # the client that sent it is long dead
        return await super().handle_DATA(server, session, envelope)


def _start_server(db_url: str, var_dir, smtp_port: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DENHUB_DATABASE_URL": db_url, "DENHUB_VAR_DIR": str(var_dir), "DENHUB_ENV": "test",
           "DENHUB_SECRET_KEY": "crash-test-secret-key-long-enough-0123456789abcdef", "DENHUB_BASE_URL": base,
           "DENHUB_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "DENHUB_REGISTRATION_LIMIT": "1000"}
    log = open(var_dir / f"uvicorn-{port}.log", "wb")  # noqa: SIM115 - the process keeps it
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "denhub.app:app_factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
            if r.status == 200:
                return proc, base
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {(var_dir / f'uvicorn-{port}.log').read_text()[-3000:]}")
        time.sleep(0.1)


async def _orders(db) -> list[Order]:
    async with db.read() as session:
        return list(await session.scalars(select(Order).order_by(Order.id)))


async def _outbox(db) -> list[OutboxMessage]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_emails_leased_by_a_killed_server_are_sent_within_a_minute_of_its_restart(
        db, db_url, tmp_path):
    collector = StallingCollector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port(), server_hostname="localhost",
                            ready_timeout=5.0)
    controller.start()
    async with db.write() as session:
        event = await make_event(session, title="Crash supper")
        ticket_type = await make_ticket_type(session, event, capacity=500, max_per_order=1)
    var_dir = tmp_path / "live"
    var_dir.mkdir()
    proc, base = await asyncio.to_thread(_start_server, db_url, var_dir, controller.port)
    try:
        async def one_booking(i: int) -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                with contextlib.suppress(httpx.HTTPError):
                    await book(client, event, [(ticket_type.id, f"Guest {i}")], email=f"guest{i}@example.org")

        # A first burst sets the sender going; it claims their email and stalls in DATA (its lease held).
        first = [asyncio.create_task(one_booking(i)) for i in range(4)]
        deadline = time.monotonic() + 60
        while not collector.stalled:
            assert time.monotonic() < deadline, "the server never started sending"
            await asyncio.sleep(0.02)
        # A second burst, killed mid-way: some of its bookings are confirmed, some never answered.
        before = len(await _orders(db))
        burst = [*first, *(asyncio.create_task(one_booking(i)) for i in range(4, 14))]
        while len(await _orders(db)) < before + 2:
            assert time.monotonic() < deadline, "the second burst booked nothing"
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait)
        await asyncio.gather(*burst)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    orders = await _orders(db)
    assert len(orders) >= 3
    leased = [row for row in await _outbox(db) if row.claimed_until is not None]
    assert leased, "the killed server held no lease: the test proves nothing"

    collector.stall = False
    restarted_at = time.monotonic()
    proc, base = await asyncio.to_thread(_start_server, db_url, var_dir, controller.port)
    try:
        wanted = {order.email for order in orders}
        while True:
            delivered = {rcpt for envelope in list(collector.envelopes) for rcpt in envelope.rcpt_tos}
            if wanted <= delivered:
                break
            if time.monotonic() - restarted_at > 60:
                state = [(r.to_addr, r.status, r.attempts, r.last_error, r.claimed_by, r.claimed_until,
                          r.next_attempt_at) for r in await _outbox(db) if r.to_addr not in delivered]
                raise AssertionError(f"not sent within a minute of the restart: {state}\n"
                                     f"{[p.read_text()[-3000:] for p in var_dir.glob('*.log')]}")
            await asyncio.sleep(0.1)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 15)
        controller.stop()
    rows = await _outbox(db)
    assert len(rows) == len(orders) and {row.status for row in rows} == {SENT}


async def test_a_confirmation_whose_only_ticket_was_cancelled_is_given_up_and_shown_to_organisers(
        app, db, settings, client):
    async with db.write() as session:
        event = await make_event(session, title="Cancelled supper")
        ticket_type = await make_ticket_type(session, event)
        order = await make_order(session, event, [(ticket_type.id, "Rahim Uddin")], email="rahim@example.org")
        from ticketing.emails import enqueue_confirmation
        await enqueue_confirmation(session=session, order=order, event=event, base_url=settings.base_url)
    async with db.write() as session:
        order = await services.get_order_by_id(session=session, order_id=order.id)
        assert await services.cancel_tickets(session=session, tickets=list(order.tickets)) == 1

    sender = MailSender(db, settings, bodies=TICKETING.mail_bodies, attachments=TICKETING.mail_attachments)
    assert await sender.send_due() == 0
    [row] = await _outbox(db)
    # Given up at once, not retried for ever (nor twelve times over five hours).
    assert row.status == DEAD and row.attempts == 1
    assert "cancelled" in row.last_error and row.last_error.startswith("Given up")
    assert not list((settings.var_path / "outbox").glob("*"))

    await sign_in(client, db, Role.ADMIN)
    page = await client.get("/organiser/mail")
    assert page.status_code == 200
    assert "Given up: never sent" in page.text and "rahim@example.org" in page.text
    assert f"every ticket of order {order.reference} was cancelled" in page.text
    assert 'href="/organiser/mail"' in (await client.get("/organiser/mail")).text  # in the organisers' menu
    # Not for anyone else.
    async with new_client(app) as stranger:
        assert (await stranger.get("/organiser/mail")).status_code in (302, 303, 401, 403)
    async with new_client(app) as door:
        await sign_in(door, db, Role.DOOR_STAFF)
        assert (await door.get("/organiser/mail")).status_code == 403
