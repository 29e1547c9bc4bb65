"""Door check-in: one verdict per scan, the first admission wins, every scan recorded.

Verdicts: admitted, readmitted (after a check-out), already_checked_in, cancelled, unpaid, wrong_event,
unknown (not a ticket of ours), forged (bad signature), checked_out, not_inside.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from denhub.db import Base, UTCDateTime, utcnow
from ticketing.models import EventKey, Order, OrderStatus, Ticket, TicketStatus, TicketType
from ticketing.signing import ForgedTicket, InvalidTicket, parse_unverified, verify_ticket

PLAIN_CODE_RE = re.compile(r"[A-Za-z0-9_-]{6,40}")
MAX_SCAN_CHARS = 512


class Verdict(enum.StrEnum):
    ADMITTED = "admitted"
    READMITTED = "readmitted"
    ALREADY_CHECKED_IN = "already_checked_in"
    CANCELLED = "cancelled"
    UNPAID = "unpaid"
    WRONG_EVENT = "wrong_event"
    UNKNOWN = "unknown"
    FORGED = "forged"
    CHECKED_OUT = "checked_out"
    NOT_INSIDE = "not_inside"

    @property
    def ok(self) -> bool:
        return self in (Verdict.ADMITTED, Verdict.READMITTED, Verdict.CHECKED_OUT)


HEADLINES = {
    Verdict.ADMITTED: "Admitted",
    Verdict.READMITTED: "Re-entry: admitted",
    Verdict.ALREADY_CHECKED_IN: "Already checked in",
    Verdict.CANCELLED: "Cancelled ticket",
    Verdict.UNPAID: "Not paid yet",
    Verdict.WRONG_EVENT: "Wrong event",
    Verdict.UNKNOWN: "Not a valid ticket",
    Verdict.FORGED: "Forged ticket",
    Verdict.CHECKED_OUT: "Checked out",
    Verdict.NOT_INSIDE: "Not checked in",
}


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


@dataclass
class ScanResult:
    verdict: Verdict
    ticket: Ticket | None = None
    ticket_type: TicketType | None = None
    order: Order | None = None
    first_checked_in_at: dt.datetime | None = None
    first_device: str = ""
    first_gate: str = ""
    detail: str = ""

    @property
    def headline(self) -> str:
        return HEADLINES[self.verdict]

    def as_json(self) -> dict:
        t = self.ticket
        return {
            "verdict": self.verdict.value, "ok": self.verdict.ok, "headline": self.headline, "detail": self.detail,
            "ticket": None if t is None else {
                "id": t.id, "code": t.code, "name": t.attendee_name,
                "type": self.ticket_type.name if self.ticket_type else "",
                "tier": self.ticket_type.tier_label if self.ticket_type else "",
                "order_id": t.order_id, "unpaid": bool(self.order and self.order.status == OrderStatus.AWAITING_PAYMENT),
                "price_pence": t.price_pence,
            },
            "first_checked_in_at": self.first_checked_in_at.isoformat() if self.first_checked_in_at else None,
            "first_device": self.first_device, "first_gate": self.first_gate,
        }


async def _resolve(session: AsyncSession, event_id: int, text: str) -> tuple[Verdict | None, Ticket | None, str]:
    """Find the ticket a scan names, or the verdict that says why not."""
    text = (text or "").strip()
    if not text or len(text) > MAX_SCAN_CHARS:
        return Verdict.UNKNOWN, None, "Nothing readable was scanned." if not text else "The code is too long."
    if text.startswith("DH1."):
        try:
            claims = parse_unverified(text)
        except InvalidTicket:
            return Verdict.UNKNOWN, None, "This QR code is damaged or not one of our tickets."
        key = await session.get(EventKey, claims.event_id)
        if key is None:
            return Verdict.FORGED, None, "The code claims an event we never issued tickets for."
        try:
            claims = verify_ticket(key.public_key, text)
        except ForgedTicket:
            return Verdict.FORGED, None, "The signature does not match: this ticket was not issued by us."
        except InvalidTicket:
            return Verdict.UNKNOWN, None, "This QR code is damaged or not one of our tickets."
        ticket = await session.scalar(select(Ticket).where(Ticket.code == claims.ticket_code))
        if ticket is None or ticket.ticket_type_id != claims.ticket_type_id or ticket.event_id != claims.event_id:
            return Verdict.FORGED, None, "The signed details do not match any ticket."
        return None, ticket, ""
    if not PLAIN_CODE_RE.fullmatch(text):
        return Verdict.UNKNOWN, None, "That is not a ticket code."
    ticket = await session.scalar(select(Ticket).where(Ticket.code == text))
    if ticket is None:
        return Verdict.UNKNOWN, None, "No ticket has that code."
    return None, ticket, ""


async def scan(*, session: AsyncSession, event_id: int, text: str, direction: str = "in", device: str = "",
               gate: str = "", scanned_at: dt.datetime | None = None, client_scan_id: str | None = None,
               offline: bool = False, now: dt.datetime | None = None) -> ScanResult:
    """Judge one scan at the door of `event_id` and record it, in the caller's transaction."""
    now = now or utcnow()
    scanned_at = min(scanned_at or now, now)  # a device clock ahead of ours must not win "first scan"
    device, gate = device[:64], gate[:64]
    if client_scan_id:
        previous = await session.scalar(select(CheckIn).where(CheckIn.client_scan_id == client_scan_id))
        if previous is not None:  # a replayed offline batch: same answer, nothing counted twice
            return await _replay(session, previous)
    verdict, ticket, detail = await _resolve(session, event_id, text)
    result = ScanResult(Verdict.UNKNOWN)
    duplicate = False
    if verdict is None and ticket.event_id != event_id:
        verdict, detail = Verdict.WRONG_EVENT, "This ticket is for a different event."
    if verdict is None:
        order = await session.get(Order, ticket.order_id)
        ticket_type = await session.get(TicketType, ticket.ticket_type_id)
        result.order, result.ticket_type = order, ticket_type
        if ticket.status == TicketStatus.CANCELLED:
            verdict = Verdict.CANCELLED
            detail = "This ticket was cancelled and is not valid."
        elif direction == "out":
            verdict = await _check_out(session, ticket)
        elif order.status == OrderStatus.AWAITING_PAYMENT:
            verdict, detail = Verdict.UNPAID, "Take payment, mark it paid, then admit."
        else:
            verdict, duplicate = await _admit(session, ticket, scanned_at, device, gate)
        await session.refresh(ticket)
        result.first_checked_in_at = ticket.checked_in_at
        result.first_device, result.first_gate = ticket.checked_in_device, ticket.checked_in_gate
    result.verdict, result.ticket, result.detail = verdict, ticket, detail
    session.add(CheckIn(
        event_id=event_id, ticket_id=ticket.id if ticket else None, scanned_text=(text or "")[:80], verdict=verdict.value,
        direction="out" if direction == "out" else "in", device=device, gate=gate, scanned_at=scanned_at,
        recorded_at=now, client_scan_id=client_scan_id, offline=offline, duplicate=duplicate,
    ))
    await session.flush()
    return result


async def _admit(session: AsyncSession, ticket: Ticket, scanned_at: dt.datetime, device: str,
                 gate: str) -> tuple[Verdict, bool]:
    first = await session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.checked_in_at.is_(None))
        .values(checked_in_at=scanned_at, checked_in_device=device, checked_in_gate=gate, inside=True)
        .execution_options(synchronize_session=False)
    )
    if first.rowcount == 1:
        return Verdict.ADMITTED, False
    back = await session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.inside.is_(False))
        .values(inside=True).execution_options(synchronize_session=False)
    )
    if back.rowcount == 1:
        return Verdict.READMITTED, False
    # Already inside. An offline scan that happened earlier than the recorded first admission becomes the
    # first (first scan wins); the later one is the duplicate either way.
    await session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.checked_in_at > scanned_at)
        .values(checked_in_at=scanned_at, checked_in_device=device, checked_in_gate=gate)
        .execution_options(synchronize_session=False)
    )
    return Verdict.ALREADY_CHECKED_IN, True


async def _check_out(session: AsyncSession, ticket: Ticket) -> Verdict:
    out = await session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.inside.is_(True))
        .values(inside=False).execution_options(synchronize_session=False)
    )
    return Verdict.CHECKED_OUT if out.rowcount == 1 else Verdict.NOT_INSIDE


async def _replay(session: AsyncSession, previous: CheckIn) -> ScanResult:
    result = ScanResult(Verdict(previous.verdict), detail="Already synced.")
    if previous.ticket_id:
        ticket = await session.get(Ticket, previous.ticket_id)
        result.ticket = ticket
        result.ticket_type = await session.get(TicketType, ticket.ticket_type_id)
        result.order = await session.get(Order, ticket.order_id)
        result.first_checked_in_at = ticket.checked_in_at
        result.first_device, result.first_gate = ticket.checked_in_device, ticket.checked_in_gate
    return result


async def scan_idempotent(db, **kwargs) -> ScanResult:
    """`scan` in its own write transaction; a concurrent replay of the same client_scan_id is answered
    from the row the other request wrote."""
    try:
        async with db.write() as session:
            return await scan(session=session, **kwargs)
    except IntegrityError:
        if not kwargs.get("client_scan_id"):
            raise
        async with db.write() as session:
            return await scan(session=session, **kwargs)


@dataclass
class DoorCount:
    ticket_type_id: int | None
    name: str
    expected: int
    checked_in: int
    inside: int


async def counts(*, session: AsyncSession, event_id: int) -> list[DoorCount]:
    """Checked in / expected per ticket type, plus a total row (ticket_type_id None)."""
    rows = await session.execute(
        select(TicketType.id, TicketType.name, func.count(Ticket.id),
               func.count(Ticket.checked_in_at),
               func.coalesce(func.sum(cast(Ticket.inside, Integer)), 0))
        .join(Ticket, (Ticket.ticket_type_id == TicketType.id) & (Ticket.status == TicketStatus.VALID.value),
              isouter=True)
        .where(TicketType.event_id == event_id)
        .group_by(TicketType.id, TicketType.name, TicketType.position)
        .order_by(TicketType.position, TicketType.id)
    )
    result = [DoorCount(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]
    total = DoorCount(None, "All tickets", sum(c.expected for c in result), sum(c.checked_in for c in result),
                      sum(c.inside for c in result))
    return [*result, total]


async def duplicates(*, session: AsyncSession, event_id: int, limit: int = 50) -> list[CheckIn]:
    return list(await session.scalars(
        select(CheckIn).where(CheckIn.event_id == event_id, CheckIn.duplicate.is_(True))
        .order_by(CheckIn.recorded_at.desc()).limit(limit)
    ))


async def manifest(*, session: AsyncSession, event_id: int) -> list[dict]:
    """The ticket list a scanner keeps for offline use: codes, names, types and status."""
    rows = await session.execute(
        select(Ticket.code, Ticket.attendee_name, Ticket.ticket_type_id, TicketType.name, TicketType.tier,
               Ticket.status, Order.status, Ticket.checked_in_at, Ticket.inside)
        .join(TicketType, Ticket.ticket_type_id == TicketType.id).join(Order, Ticket.order_id == Order.id)
        .where(Ticket.event_id == event_id).order_by(Ticket.id)
    )
    return [
        {"code": r[0], "name": r[1], "type_id": r[2], "type": r[3], "tier": r[4], "status": r[5],
         "unpaid": r[6] == OrderStatus.AWAITING_PAYMENT, "checked_in_at": r[7].isoformat() if r[7] else None,
         "inside": bool(r[8])}
        for r in rows
    ]
