"""The competition's audit trail: who changed what, when. No HTTP here.

An entry is added in the caller's transaction, so it is kept exactly when the change it records is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from judging.models import AuditEntry
from kernel.db import utcnow


async def audit(*, session: AsyncSession, competition_id: int, actor_id: int | None, action: str,
                subject: str = "", old: Any = None, new: Any = None) -> None:
    """Record one change (in the caller's transaction: it is kept exactly when the change is)."""
    session.add(AuditEntry(competition_id=competition_id, actor_id=actor_id, action=action,
                           subject=subject[:200], old=old, new=new, at=utcnow()))


async def audit_trail(*, session: AsyncSession, competition_id: int, limit: int = 1000) -> list[AuditEntry]:
    stmt = (select(AuditEntry).where(AuditEntry.competition_id == competition_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
    return list(await session.scalars(stmt))
