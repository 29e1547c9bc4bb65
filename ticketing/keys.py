"""Each event's ticket-signing key is stored sealed (kernel.keyring): never raw in the database.

A database or a backup without the key file cannot sign a ticket. Keys stored raw by older versions are
sealed when the app starts (KeySealer) or by `denhub keys seal`; until then they still work. `denhub keys
rotate` seals every key again under a new key file key (README, "Signing keys").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from sqlalchemy import select, update

from kernel import keyring
from kernel.db import Database
from kernel.hooks import Command, CommandContext
from ticketing.models import EventKey

log = logging.getLogger("denhub.ticketing")


def seal_private_key(private_raw: bytes) -> bytes:
    """A new event's private key as it is stored."""
    return keyring.current().seal(private_raw)


def private_key(stored: bytes) -> bytes:
    """The raw private key from its stored form (sealed; or raw, from before sealing)."""
    return keyring.current().open(stored)


async def _reseal(db: Database, ring: keyring.KeyRing, *, only_raw: bool) -> int:
    async with db.write() as session:
        rows = (await session.execute(select(EventKey.event_id, EventKey.private_key))).all()
        changed = 0
        for event_id, stored in rows:
            if only_raw and keyring.is_sealed(stored):
                continue
            await session.execute(update(EventKey).where(EventKey.event_id == event_id)
                                  .values(private_key=ring.reseal(stored)))
            changed += 1
    return changed


async def seal_raw_keys(db: Database) -> int:
    """Seal the keys stored raw by older versions; returns how many."""
    return await _reseal(db, keyring.current(), only_raw=True)


async def rotate_keys(db: Database) -> int:
    """A new key in the key file, every event's key sealed again with it, the old keys dropped."""
    ring = keyring.current()
    new, _old = keyring.rotate(ring)
    count = await _reseal(db, ring, only_raw=False)
    ring.write_keys([new])
    return count


class KeySealer:
    """A job (kernel.hooks) that seals raw keys left by older versions once, when the app starts."""

    def __init__(self, db: Database):
        self.db = db
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        try:
            sealed = await seal_raw_keys(self.db)
        except Exception:
            log.exception("could not seal the event keys stored raw; `denhub keys seal` does it by hand")
            return
        if sealed:
            log.warning("sealed %d event signing keys stored raw by an older version", sealed)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="denhub-seal-event-keys")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def configure_keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["seal", "rotate"],
                        help="seal: seal the keys stored raw by older versions; rotate: a new key file key, "
                             "every event's key sealed again with it, the old key file keys dropped")


def run_keys(args: argparse.Namespace, context: CommandContext) -> None:
    from kernel.db import Database

    ring = keyring.use(context.settings)

    async def run() -> int:
        db = Database(context.settings.effective_database_url)
        try:
            return await (rotate_keys(db) if args.action == "rotate" else seal_raw_keys(db))
        finally:
            await db.dispose()

    try:
        count = asyncio.run(run())
    except keyring.KeyringError as exc:
        sys.exit(f"denhub: {exc}")
    done = "sealed again with a new key" if args.action == "rotate" else "sealed (they were stored raw)"
    print(f"{count} event signing keys {done}; key file: {ring.path}")


COMMAND = Command("keys", "seal or rotate the keys that protect each event's ticket-signing key",
                  configure_keys, run_keys)
