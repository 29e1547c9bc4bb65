"""PDF tickets: one A4 page per ticket with the signed QR code the door scanner reads.

Pure: the caller (ticketing services / routes) loads the tickets and builds TicketDoc values; nothing here
touches the database. Output follows the provider shape (filename, mimetype, bytes).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass

from kernel.i18n import gettext as _
from kernel.pdf import render_pdf
from kernel.qr import qr_svg
from kernel.web import env, london

PDF_MIMETYPE = "application/pdf"
# Statuses that must not get anyone in: no QR is printed, the page says so in large letters.
VOID_STATUSES = ("cancelled", "refunded")


def void_label(status: str) -> str:
    """"CANCELLED" or "REFUNDED" in the PDF's language; "" for a ticket that gets its holder in."""
    if status == "cancelled":
        return _("CANCELLED")
    if status == "refunded":
        return _("REFUNDED")
    return ""


@dataclass
class TicketDoc:
    code: str
    attendee_name: str
    ticket_type_name: str
    tier_label: str  # "" when the ticket type has no tiers
    price_label: str  # already formatted, e.g. with kernel.web.pence: "£5.00", "Free"
    event_title: str
    starts_at: dt.datetime  # UTC; a naive value is taken as UTC (SQLite returns them naive)
    ends_at: dt.datetime | None
    venue_name: str
    venue_address: str
    order_ref: str
    qr_payload: str  # ticketing.signing.sign_ticket(...)
    status: str = "valid"


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def when_label(starts_at: dt.datetime, ends_at: dt.datetime | None) -> str:
    """"Saturday 12 April 2025, 18:00 – 21:00" in London time; both dates when it ends another day."""
    start = _utc(starts_at)
    if ends_at is None:
        return london(start, "%A %-d %B %Y, %H:%M")
    end = _utc(ends_at)
    if london(start, "%Y-%m-%d") == london(end, "%Y-%m-%d"):
        return _("%(start)s – %(end)s", start=london(start, "%A %-d %B %Y, %H:%M"), end=london(end, "%H:%M"))
    return _("%(start)s – %(end)s", start=london(start), end=london(end))


def _filename(stem: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:80]
    return f"{safe or 'tickets'}.pdf"


def ticket_html(tickets: list[TicketDoc]) -> str:
    """The HTML that ticket_pdf renders (also handy to preview in a browser)."""
    pages = []
    for ticket in tickets:
        void = void_label(ticket.status)
        pages.append({
            **asdict(ticket),
            "when": when_label(ticket.starts_at, ticket.ends_at),
            "void_label": void,
            "qr_svg": "" if void else qr_svg(ticket.qr_payload, border=4),
        })
    titles = sorted({t.event_title for t in tickets})
    title = _("Tickets: %(title)s", title=titles[0]) if len(titles) == 1 else _("Tickets")
    return env.get_template("pdf/ticket.html").render(tickets=pages, title=title)


async def ticket_pdf(tickets: list[TicketDoc], *, filename_stem: str = "tickets") -> tuple[str, str, bytes]:
    """(filename, "application/pdf", bytes): one A4 page per ticket, a cancelled one marked CANCELLED."""
    if not tickets:
        raise ValueError("ticket_pdf needs at least one ticket")
    pdf = await render_pdf(ticket_html(tickets), stylesheets=("ticket.css",))
    return _filename(filename_stem), PDF_MIMETYPE, pdf
