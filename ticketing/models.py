"""Ticketing: ticket types, orders, tickets, the event signing key, the waiting list and the door (who may
scan, door links, every scan)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.db import Base, UTCDateTime, utcnow
from kernel.i18n import N_, gettext


class Tier(enum.StrEnum):
    FREE = "free"
    COMMUNITY = "community"
    CORPORATE = "corporate"
    STANDARD = "standard"
    PAY_WHAT_YOU_CAN = "pay_what_you_can"

    @property
    def label(self) -> str:
        return gettext(TIER_LABELS[self])  # in the reader's language


TIER_LABELS = {
    Tier.FREE: N_("Free"),
    Tier.COMMUNITY: N_("Community rate"),
    Tier.CORPORATE: N_("Corporate rate"),
    Tier.STANDARD: N_("Standard"),
    Tier.PAY_WHAT_YOU_CAN: N_("Pay what you can"),
}

# What a community-rate buyer may declare (recorded on the order).
COMMUNITY_DECLARATIONS = {
    "resident": N_("Local resident"),
    "community_group": N_("Member of a community group or charity"),
    "student": N_("Student"),
    "unwaged": N_("Unwaged, retired or on benefits"),
    "other": N_("Other"),
}


class OrderStatus(enum.StrEnum):
    CONFIRMED = "confirmed"  # free, or paid
    AWAITING_PAYMENT = "awaiting_payment"  # to pay at the door or by invoice
    CANCELLED = "cancelled"


class TicketStatus(enum.StrEnum):
    VALID = "valid"
    CANCELLED = "cancelled"


# What organisers read in the attendee list and its CSV, never the stored values.
# An order's status as its attendee reads it (Order.status_label), translated where shown
ORDER_STATUS_SENTENCES = {"confirmed": N_("Confirmed"), "awaiting_payment": N_("To pay at the door or by invoice"),
                          "cancelled": N_("Cancelled")}
ORDER_STATUS_LABELS = {"confirmed": "Confirmed", "awaiting_payment": "Awaiting payment", "cancelled": "Cancelled"}


def ticket_state_label(status: str, checked_in_at) -> str:
    """"Valid", "Checked in" or "Cancelled"."""
    if status == TicketStatus.CANCELLED:
        return "Cancelled"
    return "Checked in" if checked_in_at is not None else "Valid"


class WaitlistStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CLAIMED = "claimed"
    EXPIRED = "expired"


class TicketType(Base):
    __tablename__ = "ticket_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(300), default="")
    tier: Mapped[str] = mapped_column(String(20), default=Tier.FREE.value)
    # Pence. For pay-what-you-can this is the minimum.
    price_pence: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Seats claimed (sold, or held for a waiting-list offer); changed only by atomic conditional UPDATEs.
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sales_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sales_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    max_per_order: Mapped[int] = mapped_column(Integer, default=10)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label

    @property
    def is_paid(self) -> bool:
        return self.tier != Tier.FREE and (self.price_pence > 0 or self.tier == Tier.PAY_WHAT_YOU_CAN)

    @property
    def remaining(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.sold)


class EventKey(Base):
    """The event's Ed25519 key pair: tickets are signed with it, door scanners verify offline."""

    __tablename__ = "event_key"

    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    __tablename__ = "ticket_order"
    # An event's orders in the order they were booked: the attendee list and its export walk it a page at a time.
    __table_args__ = (Index("ix_ticket_order_event_created", "event_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40), unique=True)  # unguessable, but no secret: not a way in
    reference: Mapped[str] = mapped_column(String(12), index=True)  # short, for people to read out
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # SHA-256 of the booking's secret, which only the email's links carry (ticketing.access): with it the
    # attendee sees the booking, prints it and cancels. Ticket codes (QR, print) only get someone in.
    access_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True, nullable=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    buyer_name: Mapped[str] = mapped_column(String(120))
    organisation: Mapped[str] = mapped_column(String(120), default="", server_default="")  # for badges
    access_needs: Mapped[str] = mapped_column(Text, default="")
    community_declaration: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.CONFIRMED.value)
    total_pence: Mapped[int] = mapped_column(Integer, default=0)
    consent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The language the attendee booked in (kernel.i18n): their emails, PDF tickets and offers use it.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)

    tickets: Mapped[list[Ticket]] = relationship(back_populates="order", lazy="raise", order_by="Ticket.id")

    # The secret itself, only on the object that has just made or been opened with it; never stored. (No
    # annotation: an annotated attribute would be taken for a column.)
    access_token = None

    @property
    def status_label(self) -> str:
        return gettext(ORDER_STATUS_SENTENCES[self.status])

    @property
    def status_short_label(self) -> str:
        """The status in a list or a spreadsheet's column."""
        return ORDER_STATUS_LABELS.get(self.status, self.status)

    @property
    def declaration_label(self) -> str:
        return gettext(COMMUNITY_DECLARATIONS.get(self.community_declaration, self.community_declaration))


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (Index("ix_ticket_event_status", "event_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # unguessable; in the QR and the URL
    order_id: Mapped[int] = mapped_column(ForeignKey("ticket_order.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_type.id"), index=True)
    attendee_name: Mapped[str] = mapped_column(String(120))
    price_pence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.VALID.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Door: the first admission wins (set by one conditional UPDATE); `inside` supports check-out and re-entry.
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_in_device: Mapped[str] = mapped_column(String(64), default="", server_default="")
    checked_in_gate: Mapped[str] = mapped_column(String(64), default="", server_default="")
    inside: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    order: Mapped[Order] = relationship(back_populates="tickets", lazy="raise")
    ticket_type: Mapped[TicketType] = relationship(lazy="raise")

    @property
    def is_cancelled(self) -> bool:
        return self.status == TicketStatus.CANCELLED

    @property
    def state_label(self) -> str:
        return ticket_state_label(self.status, self.checked_in_at)

    @property
    def is_free(self) -> bool:
        return self.price_pence == 0

    @property
    def price_summary(self) -> str:
        """"Standard · £5.00", or "Free" once (not "Free · Free"); the ticket type must be loaded."""
        from kernel.web import pence  # lazily: the models are imported before the web layer

        tier, price = self.ticket_type.tier_label, pence(self.price_pence)
        return price if self.ticket_type.tier == Tier.FREE or tier == price else f"{tier} · {price}"


class WaitlistEntry(Base):
    __tablename__ = "waitlist_entry"
    __table_args__ = (
        Index("ix_waitlist_type_status_created", "ticket_type_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_type.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default=WaitlistStatus.WAITING.value)
    offer_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    offered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    offer_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_order.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)  # for the offer email


# --- the door ----------------------------------------------------------------------------------------

class DoorAssignment(Base):
    """A door staff account allowed to scan for one event."""

    __tablename__ = "door_assignment"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_door_assignment_event_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DoorLink(Base):
    """A per-event door link for volunteers without accounts: the link plus a PIN, revocable."""

    __tablename__ = "door_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DoorLinkSession(Base):
    """One phone signed in with a door link and its PIN, kept on the server as account sessions are
    (kernel.accounts.UserSession): the cookie holds a random id whose SHA-256 is stored here, so leaving the
    door (or revoking the link) ends that session at once, every copy of its cookie with it."""

    __tablename__ = "door_link_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("door_link.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckIn(Base):
    """Every scan with its verdict; `client_scan_id` makes replayed offline batches harmless."""

    __tablename__ = "check_in"
    __table_args__ = (Index("ix_check_in_event_recorded", "event_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), nullable=True, index=True)
    scanned_text: Mapped[str] = mapped_column(String(80), default="")
    verdict: Mapped[str] = mapped_column(String(30))
    direction: Mapped[str] = mapped_column(String(3), default="in")
    device: Mapped[str] = mapped_column(String(64), default="")
    gate: Mapped[str] = mapped_column(String(64), default="")
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_scan_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    # A scan that admitted someone already admitted by an earlier scan (seen when offline devices sync).
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
