"""Events: what is on, where, when, and who can get in."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.db import Base, UTCDateTime, utcnow
from kernel.i18n import N_, gettext


class Category(enum.StrEnum):
    FESTIVAL = "festival"
    SCREENING = "screening"
    PITCH_NIGHT = "pitch_night"
    WORKSHOP = "workshop"
    OTHER = "other"

    @property
    def label(self) -> str:
        return gettext(CATEGORY_LABELS[self])  # in the reader's language


CATEGORY_LABELS = {
    Category.FESTIVAL: N_("Festival"),
    Category.SCREENING: N_("Screening"),
    Category.PITCH_NIGHT: N_("Pitch night"),
    Category.WORKSHOP: N_("Workshop"),
    Category.OTHER: N_("Other"),
}


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


# (attribute, label shown to the public)
ACCESS_FEATURES = [
    ("step_free", N_("Step-free access")),
    ("accessible_toilet", N_("Accessible toilet")),
    ("hearing_loop", N_("Hearing loop")),
    ("bsl", N_("British Sign Language interpretation")),
    ("captions", N_("Captions or subtitles")),
    ("quiet_space", N_("Quiet space")),
]


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (Index("ix_event_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, sanitised when shown
    category: Mapped[str] = mapped_column(String(20), default=Category.OTHER.value)
    venue_name: Mapped[str] = mapped_column(String(160))
    venue_address: Mapped[str] = mapped_column(String(300), default="")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Seats claimed across all ticket types; only ever changed by one atomic conditional UPDATE
    # (ticketing.inventory), never read-modify-written through the ORM.
    tickets_sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    step_free: Mapped[bool] = mapped_column(Boolean, default=False)
    accessible_toilet: Mapped[bool] = mapped_column(Boolean, default=False)
    hearing_loop: Mapped[bool] = mapped_column(Boolean, default=False)
    bsl: Mapped[bool] = mapped_column(Boolean, default=False)
    captions: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_space: Mapped[bool] = mapped_column(Boolean, default=False)
    accessibility_notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.DRAFT.value)
    image_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    image: Mapped[EventImage | None] = relationship(
        back_populates="event", cascade="all, delete-orphan", uselist=False, lazy="raise"
    )

    @property
    def category_label(self) -> str:
        try:
            return Category(self.category).label
        except ValueError:
            return self.category

    @property
    def is_published(self) -> bool:
        return self.status == EventStatus.PUBLISHED

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    @property
    def access_features(self) -> list[str]:
        return [gettext(label) for attr, label in ACCESS_FEATURES if getattr(self, attr)]


class EventImage(Base):
    """Kept in the database, not on one worker's disk, so every worker can serve it."""

    __tablename__ = "event_image"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt_text: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)

    event: Mapped[Event] = relationship(back_populates="image")


class EventOrganiser(Base):
    """An event organiser account given one event to manage (events.access): they see and change only those."""

    __tablename__ = "event_organiser"

    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
