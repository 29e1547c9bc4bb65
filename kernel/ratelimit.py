"""Rate limits kept in the database, so every worker sharing it sees the same counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kernel import sqlite_direct
from kernel.db import Base, UTCDateTime, utcnow


class RateEvent(Base):
    """One counted action (a failed login, a registration) by bucket and key (account, address)."""

    __tablename__ = "rate_event"
    __table_args__ = (Index("ix_rate_event_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(320))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def recent(*, bucket, key, since):
    """SELECT of the actions counted by bucket and key since `since`, at most `up_to` of them (bind parameter
    "up_to"), as a count: a limit only asks whether the count reached it, and the database then stops at the
    limit instead of walking every row an address has (a busy address, or many people behind one)."""
    found = (select(RateEvent.id).where(RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.at > since)
             .limit(bindparam("up_to", type_=Integer)).subquery())
    return select(func.count()).select_from(found)


_COUNT = recent(bucket=bindparam("bucket"), key=bindparam("key"), since=bindparam("since"))


async def count_recent(*, session: AsyncSession, bucket: str, key: str, window_seconds: int, up_to: int) -> int:
    """How many actions bucket and key made in the last `window_seconds`, counted up to `up_to` (the limit they
    are compared with: a count of `up_to` means the limit is reached)."""
    since = utcnow() - dt.timedelta(seconds=window_seconds)
    params = {"bucket": bucket, "key": key, "since": since, "up_to": max(0, up_to)}
    return (await sqlite_direct.execute(session, _COUNT, params)).scalar() or 0


async def serialize(*, session: AsyncSession, bucket: str, key: str) -> None:
    """Make this write transaction take its turn with every other one that counts and records the same bucket
    and key, so a count taken in it is exact when it commits. SQLite's write transactions already run one at
    a time; on PostgreSQL, a transaction-scoped advisory lock on the key (taken first, before any row lock, so
    two transactions never wait for each other the other way round)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{bucket}:{key[:320]}"))))


_INSERT = insert(RateEvent.__table__)


async def record(*, session: AsyncSession, bucket: str, key: str) -> None:
    # A Core INSERT: a booking rush records one per booking, and the ORM's unit of work costs far more.
    await sqlite_direct.execute(session, _INSERT, {"bucket": bucket, "key": key[:320], "at": utcnow()})


# One statement: the new action, inserted only while the count (up to the limit) is below the limit.
_RECORD_UNDER = insert(RateEvent.__table__).from_select(
    ["bucket", "key", "at"],
    select(bindparam("bucket", type_=String), bindparam("key", type_=String), bindparam("at", type_=UTCDateTime))
    .where(recent(bucket=bindparam("bucket"), key=bindparam("key"), since=bindparam("since"))
           .scalar_subquery() < bindparam("up_to", type_=Integer)),
)


async def record_under_limit(*, session: AsyncSession, bucket: str, key: str, window_seconds: int,
                             limit: int) -> bool:
    """Record one action for bucket and key unless they already made `limit` in the last `window_seconds`;
    whether it was recorded. Exact when the transaction took its turn first (serialize)."""
    now = utcnow()
    params = {"bucket": bucket, "key": key[:320], "at": now, "since": now - dt.timedelta(seconds=window_seconds),
              "up_to": max(0, limit)}
    return (await sqlite_direct.execute(session, _RECORD_UNDER, params)).rowcount == 1


async def clear(*, session: AsyncSession, bucket: str, key: str) -> None:
    await session.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == key))


async def prune(*, session: AsyncSession, older_than_seconds: int = 86_400) -> None:
    await session.execute(delete(RateEvent).where(RateEvent.at < utcnow() - dt.timedelta(seconds=older_than_seconds)))


class LimitReached(Exception):
    """An attempt was not claimed: `bucket` and its key already made their limit within the window."""

    def __init__(self, bucket: str) -> None:
        super().__init__(bucket)
        self.bucket = bucket


async def claim(*, session: AsyncSession, limits: list[tuple[str, str, int]], window_seconds: int) -> None:
    """Claim one attempt under every (bucket, key, limit) at once, before the secret is checked, so a burst of
    guesses cannot all be checked while each reads the count its neighbours have not written yet. Raises
    LimitReached (roll the transaction back: then nothing is claimed) when any of them is at its limit.
    The turns are taken in one order (sorted), so two transactions never wait for each other the other way
    round."""
    for bucket, key, _ in sorted(limits):
        await serialize(session=session, bucket=bucket, key=key)
    for bucket, key, limit in limits:
        if not await record_under_limit(session=session, bucket=bucket, key=key, window_seconds=window_seconds,
                                        limit=limit):
            raise LimitReached(bucket)


async def release(*, session: AsyncSession, bucket: str, key: str) -> None:
    """Give back one claimed attempt (the secret was right: only wrong ones count)."""
    newest = select(func.max(RateEvent.id)).where(RateEvent.bucket == bucket, RateEvent.key == key[:320])
    await session.execute(delete(RateEvent).where(RateEvent.id == newest.scalar_subquery()))
