"""Secrets and files at rest (#16 point 3): each event's signing key is sealed with a key kept outside the
database, a copy of the database cannot sign without that key file, raw keys of older versions are sealed,
`denhub keys rotate` seals them again under a new key; the database, its -wal and -shm, the outbox's emails,
the key files and their folders are readable by the app's user only."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from denhub.app import create_app
from denhub.cli import main
from kernel import keyring
from kernel.db import Database
from kernel.mail import MailSender
from kernel.migrate import upgrade
from kernel.settings import Settings
from tests.conftest import TEST_SECRET
from tests.core.helpers import new_client
from tests.factories import make_event
from tests.ticketing.factories import book, make_order, make_ticket_type
from ticketing.keys import private_key, seal_raw_keys
from ticketing.models import EventKey, Ticket
from ticketing.outputs import qr_payload
from ticketing.signing import generate_keypair, verify_ticket


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _booked(db) -> tuple[EventKey, Ticket]:
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
        order = await make_order(session, event, [(ticket_type.id, "Amina Khan")])
        key = await session.get(EventKey, event.id)
        return key, order.tickets[0]


async def test_the_key_column_holds_no_raw_key_and_tickets_still_verify(app, db, settings):
    key, ticket = await _booked(db)
    raw = private_key(key.private_key)
    assert len(raw) == 32 and keyring.is_sealed(key.private_key)
    assert raw not in bytes(key.private_key)
    assert verify_ticket(key.public_key, qr_payload(key, ticket)).ticket_code == ticket.code
    key_file = settings.effective_signing_key_file
    assert key_file.is_file() and mode(key_file) == 0o600 and mode(key_file.parent) == 0o700
    if db.is_sqlite:  # nowhere in the database's files, raw
        path = Path(db.engine.url.database)
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert raw not in file.read_bytes()


async def test_a_copy_of_the_database_without_the_key_file_cannot_sign(app, db, settings, tmp_path):
    key, ticket = await _booked(db)
    try:
        # Somewhere else: the same rows, no key file (a stolen backup).
        keyring.use_file(tmp_path / "elsewhere" / "signing-keys")
        with pytest.raises(keyring.KeyringError, match="missing"):
            qr_payload(key, ticket)
        # A key file of its own does not open them either.
        keyring.current().seal(b"x" * 32)  # makes that file
        with pytest.raises(keyring.KeyringError, match="no key in"):
            qr_payload(key, ticket)
        assert not (tmp_path / "elsewhere" / "signing-keys").read_bytes().strip() in bytes(key.private_key)
    finally:
        keyring.use(settings)
    assert verify_ticket(key.public_key, qr_payload(key, ticket))


async def test_raw_keys_from_an_older_version_are_sealed_when_the_app_starts(db, settings):
    private, public = generate_keypair()
    async with db.write() as session:
        event = await make_event(session)
        ticket_type = await make_ticket_type(session, event)
        session.add(EventKey(event_id=event.id, private_key=private, public_key=public))
    async with db.write() as session:
        order = await make_order(session, event, [(ticket_type.id, "Rahim Uddin")])
        old_key = await session.get(EventKey, event.id)
        before = qr_payload(old_key, order.tickets[0])  # a raw key still signs until it is sealed
    assert bytes(old_key.private_key) == private

    fresh = create_app(settings)  # its start-up seals the raw keys (ticketing.keys.KeySealer)
    async with fresh.router.lifespan_context(fresh):
        await fresh.state.mail_sender.stop()
        for _ in range(200):
            async with fresh.state.db.read() as session:
                stored = await session.scalar(select(EventKey.private_key).where(EventKey.event_id == event.id))
            if keyring.is_sealed(stored):
                break
            await asyncio.sleep(0.02)
    assert keyring.is_sealed(stored) and private not in stored
    async with db.read() as session:
        key = await session.get(EventKey, event.id)
        ticket = await session.scalar(select(Ticket).where(Ticket.order_id == order.id))
    assert qr_payload(key, ticket) == before  # the same QR as before: the same key, sealed
    assert await seal_raw_keys(db) == 0


def test_denhub_keys_rotate_seals_every_key_again_under_a_new_key(db_url, settings, monkeypatch, capsys):
    monkeypatch.setenv("DENHUB_ENV", "test")
    monkeypatch.setenv("DENHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("DENHUB_VAR_DIR", settings.var_dir)
    monkeypatch.setenv("DENHUB_DATABASE_URL", db_url)

    async def book_one() -> tuple[bytes, bytes]:
        database = Database(db_url)
        try:
            keyring.use(settings)
            key, _ = await _booked(database)
            return bytes(key.private_key), private_key(key.private_key)
        finally:
            await database.dispose()

    stored_before, raw = asyncio.run(book_one())
    key_file = settings.effective_signing_key_file
    old_keys = key_file.read_bytes()

    main(["keys", "rotate"])
    assert "1 event signing keys sealed again with a new key" in capsys.readouterr().out

    assert key_file.read_bytes() != old_keys and len(key_file.read_bytes().split()) == 1
    assert mode(key_file) == 0o600

    async def after() -> bytes:
        database = Database(db_url)
        try:
            async with database.read() as session:
                return bytes(await session.scalar(select(EventKey.private_key)))
        finally:
            await database.dispose()

    stored_after = asyncio.run(after())
    assert stored_after != stored_before and keyring.is_sealed(stored_after)
    keyring.use(settings)
    assert private_key(stored_after) == raw  # the same event key, sealed under the new key
    old_ring = keyring.KeyRing(key_file.with_name("old-keys"))
    old_ring.write_keys(old_keys.split())
    with pytest.raises(keyring.KeyringError):
        old_ring.open(stored_after)  # the old key file opens nothing any more


async def test_data_files_and_folders_are_readable_by_the_app_user_only(tmp_path):
    var = tmp_path / "var"
    settings = Settings(env="test", secret_key=TEST_SECRET, var_dir=str(var), base_url="http://testserver").validated()
    await asyncio.to_thread(upgrade, settings.effective_database_url)  # the default: var/denhub.sqlite3
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.mail_sender.stop()
        db = app.state.db
        async with db.write() as session:
            event = await make_event(session)
            ticket_type = await make_ticket_type(session, event)
        async with new_client(app) as visitor:
            assert (await book(visitor, event, [(ticket_type.id, "Amina Khan")])).status_code == 303
        sender = MailSender(db, settings, bodies=app.state.hooks.mail_bodies,
                            attachments=app.state.hooks.mail_attachments)  # no SMTP: .eml files under var/outbox
        assert await sender.send_due() == 1
        database = var / "denhub.sqlite3"
        files = [database, database.with_name("denhub.sqlite3-wal"), database.with_name("denhub.sqlite3-shm"),
                 settings.effective_signing_key_file, *(var / "outbox").glob("*.eml")]
        assert len(files) == 5 and all(f.exists() for f in files)
        assert {str(f.relative_to(var)): oct(mode(f)) for f in files} == {
            str(f.relative_to(var)): "0o600" for f in files}
        assert oct(mode(var)) == oct(mode(var / "outbox")) == "0o700"


async def test_an_existing_world_readable_database_and_var_folder_are_made_private(tmp_path, sqlite_template):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    database = var / "denhub.sqlite3"
    shutil.copy(sqlite_template, database)
    database.chmod(0o644)
    settings = Settings(env="test", secret_key=TEST_SECRET, var_dir=str(var), base_url="http://testserver").validated()
    app = create_app(settings)
    await app.state.db.dispose()
    assert mode(var) == 0o700 and mode(database) == 0o600


async def test_sealed_keys_survive_their_row_being_read_by_the_door(app, db):
    """The door's check-in reads the key pair straight from the table (ticketing.checkin): sealed, it works."""
    from ticketing import checkin

    key, _ticket = await _booked(db)
    checkin._event_keys.clear()
    async with db.write() as session:
        connection = await session.connection()
        pair = await connection.run_sync(lambda conn: checkin._event_key(conn, key.event_id))
    assert pair == (bytes(key.public_key), private_key(key.private_key))
