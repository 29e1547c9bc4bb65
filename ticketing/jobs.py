"""Background work for ticketing: passing expired waiting-list offers on to the next person."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kernel.db import Database
from kernel.settings import Settings
from ticketing import emails, waitlist

log = logging.getLogger("denhub.ticketing")


class WaitlistExpirer:
    """Every `interval` seconds, expire overdue offers. Safe with several workers (rows are claimed with
    FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer at a time)."""

    def __init__(self, db: Database, settings: Settings, *, interval: float = 30.0, on_mail=None):
        self.db, self.settings, self.interval, self.on_mail = db, settings, interval, on_mail
        self._task: asyncio.Task | None = None

    async def run_once(self) -> int:
        async def notify(session, entry, token):
            await emails.enqueue_offer(session=session, entry=entry, token=token, base_url=self.settings.base_url)

        async with self.db.write() as session:
            n = await waitlist.expire_offers(session=session, offer_hours=self.settings.waitlist_offer_hours,
                                             notify=notify)
        if n and self.on_mail:
            self.on_mail()
        return n

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep going: a bad row must not stop every later offer
                log.exception("waiting-list expiry failed")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="waitlist-expirer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
