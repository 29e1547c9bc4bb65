"""The email outbox against a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL.

These tests use their own Database objects (not the `db` fixture) where the app's own background sender
would otherwise race the sender under test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import email.policy
import os
import socket
import sys
import textwrap
import time
import weakref
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from denhub.app import create_app
from kernel import mail
from kernel.db import Database, utcnow
from kernel.mail import (
    DEAD,
    PENDING,
    SENT,
    FileTransport,
    MailSender,
    OutboxMessage,
    SMTPTransport,
    attachment,
    bodies,
    enqueue,
    message_id_header,
    render_email,
)
from kernel.settings import PROJECT_ROOT, Settings, SettingsError

PDF_BYTES = b"%PDF-1.4\n% denhub test ticket\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


async def _test_ticket_pdf(db: Database, args: dict) -> tuple[str, str, bytes]:
    return f"ticket-{args['ticket_id']}.pdf", "application/pdf", PDF_BYTES + str(args["ticket_id"]).encode()




async def _test_greeting(db: Database, args: dict) -> tuple[str, str]:
    async with db.read() as session:  # made when sending, from the database as it is then
        count = await session.scalar(select(func.count(OutboxMessage.id)))
    return f"Hello {args['name']}, one of {count}.", f"<p>Hello {args['name']} &amp; welcome</p>"


# What a domain would give through kernel.hooks (mail_bodies, mail_attachments).
PROVIDERS = {"bodies": {"test_greeting": _test_greeting}, "attachments": {"test_ticket_pdf": _test_ticket_pdf}}


# --- a real SMTP server ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """aiosmtpd handler: keeps every accepted envelope; refuses nobody@... with a permanent 550."""

    def __init__(self, delay: float = 0.0):
        self.envelopes = []
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)  # widen the window in which two senders overlap
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content, policy=email.policy.default)
                for e in list(self.envelopes)]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp_server():
    """start(port=None, delay=0) -> Collector with .port; every server is stopped at the end."""
    controllers = []

    def start(port: int | None = None, delay: float = 0.0) -> Collector:
        collector = Collector(delay)
        controller = Controller(collector, hostname="127.0.0.1", port=port or free_port(),
                                server_hostname="localhost", ready_timeout=5.0)
        controller.start()
        controllers.append(controller)
        collector.port = controller.port
        return collector

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
async def mail_db(db_url):
    database = Database(db_url)
    yield database
    await database.dispose()


def smtp_settings(settings: Settings, port: int, **overrides) -> Settings:
    return dataclasses.replace(
        settings, smtp_url=f"smtp://127.0.0.1:{port}", smtp_timeout_seconds=5.0, **overrides
    ).validated()


class FakeClock:
    """The sender's idea of now; starts a little ahead so email queued during the test is due."""

    def __init__(self):
        self.now = utcnow() + dt.timedelta(seconds=5)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += dt.timedelta(**kwargs)


async def queue(database: Database, n: int = 1, *, to: str = "amira@example.org", **kwargs) -> list[int]:
    async with database.write() as session:
        rows = [await enqueue(session=session, to=to, subject=kwargs.get("subject", f"Your ticket {i}"),
                              text=kwargs.get("text", f"Ticket {i}"), html=kwargs.get("html"),
                              attachments=kwargs.get("attachments", ()))
                for i in range(n)]
    return [r.id for r in rows]


async def outbox_rows(database: Database) -> list[OutboxMessage]:
    async with database.read() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def wait_for(predicate, timeout: float = 10.0):
    """Poll `predicate` (plain or async) every 20 ms until it is true."""
    deadline = time.monotonic() + timeout
    while not (await result if asyncio.iscoroutine(result := predicate()) else result):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


# --- delivery --------------------------------------------------------------------------------------

async def test_send_due_delivers_text_html_and_attachment(mail_db, settings, smtp_server):
    server = smtp_server()
    text, html = render_email(
        "notice", heading="Your ticket for Bangla Month", paragraphs=["Doors open at 6 & close at 10."],
        action_url="http://testserver/tickets/7", action_label="See your ticket", base_url="http://testserver",
    )
    async with mail_db.write() as session:
        queued = await enqueue(session=session, to="Amira Khan <amira@example.org>",
                               subject="Your ticket for Bangla Month", text=text, html=html,
                               attachments=[attachment("test_ticket_pdf", ticket_id=7)])
    sender = MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS)

    assert await sender.send_due() == 1

    assert len(server.envelopes) == 1
    envelope = server.envelopes[0]
    assert envelope.mail_from == "no-reply@denhub.example"
    assert envelope.rcpt_tos == ["amira@example.org"]
    message = server.messages[0]
    assert message["Subject"] == "Your ticket for Bangla Month"
    assert message["To"] == "Amira Khan <amira@example.org>"
    assert message["Message-ID"] == message_id_header(queued, settings.mail_from)
    assert message.get_content_type() == "multipart/mixed"
    alternative = message.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    plain, rich = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert "Doors open at 6 & close at 10." in plain.get_content()
    assert "See your ticket: http://testserver/tickets/7" in plain.get_content()
    assert rich.get_content_type() == "text/html"
    assert "Doors open at 6 &amp; close at 10." in rich.get_content()
    [pdf] = list(message.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "ticket-7.pdf"
    assert pdf.get_content() == PDF_BYTES + b"7"

    [row] = await outbox_rows(mail_db)
    assert (row.status, row.attempts, row.claimed_until, row.last_error) == (SENT, 1, None, None)
    assert row.sent_at is not None and row.sent_at.tzinfo is not None
    assert await sender.send_due() == 0
    assert len(server.envelopes) == 1


async def test_rolled_back_enqueue_leaves_no_row_and_sends_nothing(mail_db, settings, smtp_server):
    server = smtp_server()

    class OrderFailed(Exception):
        pass

    with pytest.raises(OrderFailed):
        async with mail_db.write() as session:
            await enqueue(session=session, to="amira@example.org", subject="Your order", text="Thanks")
            await session.flush()  # the row really was written inside the transaction
            raise OrderFailed

    assert await outbox_rows(mail_db) == []
    assert await MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS).send_due() == 0
    assert server.envelopes == []


async def test_smtp_down_records_backoff_then_delivers_once_when_up(mail_db, settings, smtp_server):
    port = free_port()  # nothing listens here yet
    clock = FakeClock()
    sender = MailSender(mail_db, smtp_settings(settings, port), clock=clock, **PROVIDERS)
    await queue(mail_db)

    assert await sender.send_due() == 0
    [row] = await outbox_rows(mail_db)
    assert row.status == PENDING
    assert row.attempts == 1
    assert row.claimed_until is None
    assert "SMTPConnect" in row.last_error or "onnect" in row.last_error
    assert row.next_attempt_at == clock.now + sender.backoff(1) == clock.now + dt.timedelta(seconds=30)

    server = smtp_server(port)
    assert await sender.send_due() == 0, "not due again until the backoff has passed"
    assert server.envelopes == []

    clock.advance(seconds=31)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    clock.advance(hours=2)
    assert await sender.send_due() == 0
    assert len(server.envelopes) == 1
    [row] = await outbox_rows(mail_db)
    assert (row.status, row.attempts, row.last_error) == (SENT, 2, None)


async def test_repeated_failures_back_off_exponentially_then_give_up(mail_db, settings):
    clock = FakeClock()
    sender = MailSender(mail_db, smtp_settings(settings, free_port()), clock=clock, **PROVIDERS)
    sender.max_attempts = 4
    await queue(mail_db)

    waits = []
    for _ in range(4):
        before = clock.now
        assert await sender.send_due() == 0
        [row] = await outbox_rows(mail_db)
        waits.append(row.next_attempt_at - before)
        clock.now = row.next_attempt_at
    assert waits[:3] == [dt.timedelta(seconds=30), dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    assert (row.status, row.attempts) == (DEAD, 4)
    clock.advance(days=1)
    assert await sender.send_due() == 0
    assert [sender.backoff(n) for n in (1, 2, 8, 12)] == [
        dt.timedelta(seconds=30), dt.timedelta(seconds=60), dt.timedelta(hours=1), dt.timedelta(hours=1)]


async def test_permanent_refusal_is_dead_at_once_and_others_still_go(mail_db, settings, smtp_server):
    server = smtp_server()
    await queue(mail_db, to="nobody@example.org")
    await queue(mail_db, to="amira@example.org")
    sender = MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS)

    assert await sender.send_due() == 1

    refused, delivered = await outbox_rows(mail_db)
    assert (refused.status, refused.attempts) == (DEAD, 1)
    assert "550" in refused.last_error
    assert delivered.status == SENT
    assert [e.rcpt_tos for e in server.envelopes] == [["amira@example.org"]]


async def test_unknown_attachment_provider_is_a_failure_to_retry(mail_db, settings, smtp_server):
    server = smtp_server()
    await queue(mail_db, attachments=[attachment("no_such_provider", x=1)])
    sender = MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS)

    assert await sender.send_due() == 0
    [row] = await outbox_rows(mail_db)
    assert row.status == PENDING and row.attempts == 1
    assert "no_such_provider" in row.last_error
    assert server.envelopes == []


async def test_body_provider_makes_the_bodies_when_sending_and_the_row_keeps_them(mail_db, settings, smtp_server):
    server = smtp_server()
    async with mail_db.write() as session:
        await enqueue(session=session, to="amira@example.org", subject="Welcome",
                      body={"provider": "test_greeting", "args": {"name": "Amira"}})
        await enqueue(session=session, to="amira@example.org", subject="Lost",
                      body={"provider": "no_such_body", "args": {}})
    queued, lost = await outbox_rows(mail_db)
    assert queued.text_body == "" and queued.html_body is None  # nothing rendered while queueing
    assert await bodies(mail_db, queued, PROVIDERS["bodies"]) == ("Hello Amira, one of 2.", "<p>Hello Amira &amp; welcome</p>")
    sender = MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS)

    assert await sender.send_due() == 1
    [message] = server.messages
    assert message["Subject"] == "Welcome"
    assert message.get_body(("plain",)).get_content().strip() == "Hello Amira, one of 2."
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello Amira &amp; welcome</p>"
    sent, lost = await outbox_rows(mail_db)
    assert (sent.status, sent.text_body, sent.html_body) == (SENT, "Hello Amira, one of 2.",
                                                             "<p>Hello Amira &amp; welcome</p>")
    assert lost.status == PENDING and lost.attempts == 1 and "no_such_body" in lost.last_error
    assert lost.text_body == ""


async def test_stale_lease_is_reclaimed_after_it_expires(mail_db, settings, smtp_server):
    server = smtp_server()
    [row_id] = await queue(mail_db)
    clock = FakeClock()
    sender = MailSender(mail_db, smtp_settings(settings, server.port), clock=clock, **PROVIDERS)
    # A worker claimed the row and died before sending it.
    async with mail_db.write() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                              .values(claimed_until=clock.now + sender.lease))

    assert await sender.send_due() == 0
    clock.advance(seconds=sender.lease.total_seconds() + 1)
    assert await sender.send_due() == 1
    assert len(server.envelopes) == 1


# --- several senders -------------------------------------------------------------------------------

@pytest.mark.parametrize("shared", [True, False], ids=["one-database", "two-databases"])
async def test_concurrent_senders_deliver_every_email_exactly_once(mail_db, db_url, settings, smtp_server,
                                                                   shared):
    server = smtp_server(delay=0.005)
    ids = await queue(mail_db, 30)
    second_db = mail_db if shared else Database(db_url)
    config = smtp_settings(settings, server.port)
    senders = [MailSender(mail_db, config, **PROVIDERS), MailSender(second_db, config, **PROVIDERS)]
    try:
        sent = [0, 0]
        for _ in range(20):
            counts = await asyncio.gather(*(s.send_due(limit=4) for s in senders))
            sent = [a + b for a, b in zip(sent, counts, strict=True)]
            if sum(sent) == len(ids):
                break
    finally:
        if not shared:
            await second_db.dispose()

    assert sum(sent) == 30
    assert all(sent), "both senders took part"
    delivered = server.message_ids()
    assert len(delivered) == 30
    assert len(set(delivered)) == 30
    rows = await outbox_rows(mail_db)
    assert {r.status for r in rows} == {SENT}
    assert sorted(delivered) == sorted(message_id_header(r, config.mail_from) for r in rows)


WORKER_SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from sqlalchemy import func, select
    from kernel.db import Database
    from kernel.mail import PENDING, MailSender, OutboxMessage
    from kernel.settings import Settings

    async def main(url, smtp_url, var_dir):
        db = Database(url)
        settings = Settings(env="development", database_url=url, smtp_url=smtp_url, var_dir=var_dir)
        sender = MailSender(db, settings)
        sent, deadline = 0, time.monotonic() + 60
        sys.stdout.write("ready\\n"); sys.stdout.flush()
        sys.stdin.readline()  # both workers start sending together
        while time.monotonic() < deadline:
            sent += await sender.send_due(limit=3)
            async with db.read() as session:
                left = await session.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING))
            if not left:
                break
            await asyncio.sleep(0.01)
        await db.dispose()
        print(sent)

    asyncio.run(main(*sys.argv[1:]))
""")


async def test_two_worker_processes_deliver_every_email_exactly_once(mail_db, db_url, settings, smtp_server,
                                                                     tmp_path):
    server = smtp_server(delay=0.005)
    await queue(mail_db, 40)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WORKER_SCRIPT, db_url, f"smtp://127.0.0.1:{server.port}", str(tmp_path),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=PROJECT_ROOT, env=env,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    for worker in workers:
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    results = [await asyncio.wait_for(w.communicate(), 90) for w in workers]
    for worker, (_out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err.decode()

    sent = [int(out.strip()) for out, _err in results]
    assert sum(sent) == 40
    delivered = server.message_ids()
    assert len(delivered) == 40 and len(set(delivered)) == 40
    async with mail_db.read() as session:
        assert await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == SENT)) == 40


# --- without SMTP: .eml files ----------------------------------------------------------------------

async def test_without_smtp_each_email_is_an_eml_file(mail_db, settings):
    assert not settings.smtp_url
    [row_id] = await queue(mail_db, subject="Fish & chips night", text="See you there",
                           html="<p>See you <b>there</b></p>",
                           attachments=[attachment("test_ticket_pdf", ticket_id=3)])
    sender = MailSender(mail_db, settings, **PROVIDERS)
    assert isinstance(sender.transport, FileTransport)

    assert await sender.send_due() == 1

    [path] = sorted((settings.var_path / "outbox").glob("*.eml"))
    assert path.name.endswith(f"-{row_id}.eml")
    with path.open("rb") as fh:
        message = BytesParser(policy=email.policy.default).parse(fh)
    assert message["Subject"] == "Fish & chips night"
    assert message["To"] == "amira@example.org"
    assert message["From"] == settings.mail_from
    assert message.get_body(("plain",)).get_content().strip() == "See you there"
    assert "<b>there</b>" in message.get_body(("html",)).get_content()
    [pdf] = list(message.iter_attachments())
    assert (pdf.get_filename(), pdf.get_content()) == ("ticket-3.pdf", PDF_BYTES + b"3")
    [row] = await outbox_rows(mail_db)
    assert row.status == SENT
    assert list((settings.var_path / "outbox").glob("*.partial")) == []


# --- in the app ------------------------------------------------------------------------------------

async def test_app_lifespan_sender_delivers_queued_email(settings, smtp_server):
    server = smtp_server()
    # A long poll: delivery within the test's timeout shows the commit woke the sender.
    app = create_app(smtp_settings(settings, server.port, mail_poll_seconds=60.0))
    async with app.router.lifespan_context(app):
        task = app.state.mail_sender._task
        assert task is not None and not task.done()
        async with app.state.db.write() as session:
            await enqueue(session=session, to="amira@example.org", subject="Welcome", text="Hello")
        await wait_for(lambda: len(server.envelopes) == 1, timeout=5)

        async def marked_sent():
            return [r.status for r in await outbox_rows(app.state.db)] == [SENT]

        await wait_for(marked_sent, timeout=5)
    assert task.done()
    assert app.state.mail_sender._task is None
    assert [m["Subject"] for m in server.messages] == ["Welcome"]


async def test_run_forever_survives_errors_and_polls(mail_db, settings, smtp_server, monkeypatch):
    server = smtp_server()
    sender = MailSender(mail_db, smtp_settings(settings, server.port, mail_poll_seconds=0.05), **PROVIDERS)
    real_claim = sender._claim
    calls = {"n": 0}

    async def flaky_claim(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("database went away")
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(sender, "_claim", flaky_claim)
    monkeypatch.setattr(mail.sender, "_running_senders", weakref.WeakSet())  # no wake-up: polling only
    await queue(mail_db)
    task = sender.start()
    try:
        await wait_for(lambda: len(server.envelopes) == 1, timeout=5)
        assert not task.done()
    finally:
        await sender.stop()
    assert task.done()
    assert calls["n"] >= 3


# --- checks without a server -----------------------------------------------------------------------

async def test_enqueue_refuses_header_injection_and_bad_attachments(mail_db):
    async with mail_db.write() as session:
        with pytest.raises(ValueError):
            await enqueue(session=session, to="a@example.org\r\nBcc: all@example.org", subject="x", text="x")
        with pytest.raises(ValueError):
            await enqueue(session=session, to="not-an-address", subject="x", text="x")
        with pytest.raises(TypeError):
            await enqueue(session=session, to="a@example.org", subject="x", text="x",
                          attachments=[{"provider": "test_ticket_pdf", "args": {"when": object()}}])
        with pytest.raises(ValueError):
            await enqueue(session=session, to="a@example.org", subject="x", text="x",
                          attachments=[{"provider": "", "args": {}}])
        with pytest.raises(ValueError):  # bodies given and to be made
            await enqueue(session=session, to="a@example.org", subject="x", text="x",
                          body={"provider": "test_greeting", "args": {"name": "x"}})
        with pytest.raises(ValueError):  # no body at all
            await enqueue(session=session, to="a@example.org", subject="x")
    assert await outbox_rows(mail_db) == []


async def test_a_line_break_in_a_subject_is_made_one_line_not_refused(mail_db, settings, smtp_server):
    # A subject comes from an event title: refusing it made every booking of the event fail (#16 point 5).
    async with mail_db.write() as session:
        await enqueue(session=session, to="a@example.org", subject="Hi\r\nBcc: x@example.org\u2028\x00!", text="x")
    [row] = await outbox_rows(mail_db)
    assert row.subject == "Hi Bcc: x@example.org !"
    # A row written before enqueue made subjects one line is sent with it made one line too.
    async with mail_db.write() as session:
        await session.execute(update(OutboxMessage).values(subject="Old\nBcc: x@example.org"))
    server = smtp_server()
    assert await MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS).send_due() == 1
    [message] = server.messages
    assert message["Subject"] == "Old Bcc: x@example.org" and message["Bcc"] is None
    assert [r.status for r in await outbox_rows(mail_db)] == [SENT]


def test_smtp_url_forms():
    t = SMTPTransport("smtp://user:p%40ss@mail.example.org:587?starttls=true", timeout=5)
    assert (t.hostname, t.port, t.username, t.password, t.use_tls, t.start_tls) == (
        "mail.example.org", 587, "user", "p@ss", False, True)
    t = SMTPTransport("smtps://mail.example.org", timeout=5)
    assert (t.port, t.use_tls, t.start_tls, t.username) == (465, True, False, None)
    t = SMTPTransport("smtp://127.0.0.1:1025", timeout=5)
    assert (t.hostname, t.port, t.use_tls, t.start_tls) == ("127.0.0.1", 1025, False, None)
    t = SMTPTransport("smtp://relay?starttls=false", timeout=5)
    assert (t.port, t.start_tls) == (25, False)


def test_mail_settings_are_validated_and_the_password_hidden():
    settings = Settings.from_env({"DENHUB_SMTP_URL": "smtp://u:hunter2@mail.example.org:587?starttls=true",
                                  "DENHUB_MAIL_POLL_SECONDS": "0.5"}, env_file=PROJECT_ROOT / "no-such.env")
    assert settings.mail_poll_seconds == 0.5
    assert settings.mail_from == "denhub <no-reply@denhub.example>"
    shown = {name: value for name, value, _help in settings.describe()}
    assert "hunter2" not in shown["DENHUB_SMTP_URL"]
    with pytest.raises(SettingsError):
        Settings(smtp_url="http://mail.example.org").validated()
    with pytest.raises(SettingsError):
        Settings(mail_poll_seconds=0).validated()


async def test_a_row_whose_address_can_never_be_a_header_is_given_up_at_once(mail_db, settings, smtp_server):
    # Queued before enqueue() refused such addresses: retrying twelve times over hours would not help.
    server = smtp_server()
    [row_id] = await queue(mail_db)
    async with mail_db.write() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                              .values(to_addr="a@example.org\r\nBcc: all@example.org"))
    assert await MailSender(mail_db, smtp_settings(settings, server.port), **PROVIDERS).send_due() == 0
    [row] = await outbox_rows(mail_db)
    assert row.status == DEAD and row.attempts == 1 and "not an address" in row.last_error
    assert server.envelopes == []
