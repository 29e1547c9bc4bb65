"""The toy domain's one table. Its own declarative base, so that the real app's metadata (compared with the
migrations by tests/core/test_migrations.py) does not see it; a real domain uses kernel.db.Base and adds a
migration."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ToyBase(DeclarativeBase):
    pass


class Steward(ToyBase):
    """A volunteer steward for an event (the toy domain's people)."""

    __tablename__ = "toy_steward"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(index=True)  # an event.id (no foreign key: another metadata)
    name: Mapped[str] = mapped_column(String(120))
