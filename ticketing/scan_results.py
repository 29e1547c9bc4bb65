"""What the door is told about a scan: the verdict, the ticket, and for an unpaid order what it still owes.
The verdicts are ticketing/checkin.py's (its module docstring lists them)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from ticketing.models import Tier


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
    LATE = "late"  # an offline scan older than the ticket's last recorded entry or exit: changes nothing
    REJECTED = "rejected"  # not judged: nothing about the ticket changed (a refused payment, a reused scan id)

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
    Verdict.LATE: "Late sync: not counted",
    Verdict.REJECTED: "Refused",
}


@dataclass(frozen=True)
class DoorTicket:
    """What the door is told about a ticket (read with its type and order in one query)."""

    id: int
    code: str
    attendee_name: str
    event_id: int
    ticket_type_id: int
    order_id: int
    price_pence: int
    type_name: str
    tier: str
    unpaid: bool  # this ticket has a price and its order is still to pay (a free ticket never is)

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label


@dataclass
class ScanResult:
    verdict: Verdict
    ticket: DoorTicket | None = None
    first_checked_in_at: dt.datetime | None = None
    first_device: str = ""
    first_gate: str = ""
    detail: str = ""
    inside: bool | None = None  # the ticket's state once this scan was judged (None: no ticket, or not known)
    # Unpaid: what the order still owes (its valid tickets that have a price) and for how many tickets; the
    # door takes this amount for the whole order (pay_and_admit checks the amount it was shown).
    amount_due_pence: int = 0
    due_tickets: int = 0
    conflict: bool = False  # a resent scan id that came with another ticket (or direction): refused

    @property
    def headline(self) -> str:
        return HEADLINES[self.verdict]

    def as_json(self) -> dict:
        t = self.ticket
        return {
            "verdict": self.verdict.value, "ok": self.verdict.ok, "headline": self.headline, "detail": self.detail,
            # No ticket code: the door is answered by ticket id (a name search or a booking reference must
            # not hand out the codes that open tickets' pages).
            "ticket": None if t is None else {
                "id": t.id, "name": t.attendee_name, "type": t.type_name, "tier": t.tier_label,
                "order_id": t.order_id, "unpaid": t.unpaid, "price_pence": t.price_pence,
            },
            "amount_due_pence": self.amount_due_pence, "due_tickets": self.due_tickets,
            "first_checked_in_at": self.first_checked_in_at.isoformat() if self.first_checked_in_at else None,
            "first_device": self.first_device, "first_gate": self.first_gate, "inside": self.inside,
            **({"conflict": True} if self.conflict else {}),
        }
