"""Rate-limit counts: per bucket and key, within the window, and counted only up to the limit they are
compared with (so a busy address costs the database no more than the limit's worth of rows)."""

from __future__ import annotations

import datetime as dt

from kernel import ratelimit
from kernel.db import utcnow
from kernel.ratelimit import RateEvent


async def test_counts_stop_at_the_limit_and_keep_to_their_bucket_key_and_window(db):
    now = utcnow()
    async with db.write() as session:
        for _ in range(7):
            await ratelimit.record(session=session, bucket="register-address", key="198.51.100.7")
        # outside the window, another key, another bucket: never counted
        session.add(RateEvent(bucket="register-address", key="198.51.100.7", at=now - dt.timedelta(seconds=700)))
        session.add(RateEvent(bucket="register-address", key="198.51.100.8", at=now))
        session.add(RateEvent(bucket="login-address", key="198.51.100.7", at=now))

    async def count(up_to: int, *, key: str = "198.51.100.7", window: int = 600) -> int:
        async with db.read() as session:
            return await ratelimit.count_recent(session=session, bucket="register-address", key=key,
                                                window_seconds=window, up_to=up_to)

    assert await count(30) == 7
    assert await count(7) == 7
    assert await count(5) == 5  # reached: 5 of at least 5
    assert await count(0) == 0
    assert await count(30, window=800) == 8  # the older one is inside a longer window
    assert await count(30, key="198.51.100.8") == 1
    assert await count(30, key="203.0.113.1") == 0
    # the same count inside a write transaction (on SQLite: straight on sqlite3, see kernel.sqlite_direct)
    async with db.write() as session:
        assert await ratelimit.count_recent(session=session, bucket="register-address", key="198.51.100.7",
                                            window_seconds=600, up_to=6) == 6
        assert await ratelimit.count_recent(session=session, bucket="register-address", key="198.51.100.7",
                                            window_seconds=600, up_to=10) == 7


async def test_recording_under_the_limit_stops_at_the_limit(db):
    async def record(key: str = "198.51.100.7") -> bool:
        async with db.write() as session:
            return await ratelimit.record_under_limit(session=session, bucket="register-address", key=key,
                                                      window_seconds=600, limit=3)

    assert [await record() for _ in range(5)] == [True, True, True, False, False]
    assert await record("198.51.100.8")  # another key has its own count
    async with db.read() as session:
        assert await ratelimit.count_recent(session=session, bucket="register-address", key="198.51.100.7",
                                            window_seconds=600, up_to=100) == 3
