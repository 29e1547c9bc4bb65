"""Parsing the registration forms: step 1 (quantities, from the event page) and step 2 (names, email)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import FormData, QueryParams

from kernel.i18n import gettext as _
from kernel.text import has_control_characters, one_line
from ticketing.models import TicketType, Tier
from ticketing.services import RegistrationRequest, TicketLine

EMAIL_RE = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
MAX_TICKETS_PER_ORDER = 20
HONEYPOT_FIELD = "website"


def valid_email(value: str) -> bool:
    return len(value) <= 254 and bool(EMAIL_RE.match(value)) and not has_control_characters(value)


def valid_form_token(value: str) -> bool:
    return 16 <= len(value) <= 64 and bool(re.fullmatch(r"[A-Za-z0-9_-]+", value))


@dataclass
class Selection:
    """Step 1: how many of each type; `errors` keyed qty_<type id> or quantity."""

    quantities: dict[int, int]
    errors: dict[str, str]
    raw: dict[str, str]


def parse_quantities(params: QueryParams | FormData, types: list[TicketType]) -> Selection:
    by_id = {t.id: t for t in types}
    quantities: dict[int, int] = {}
    errors: dict[str, str] = {}
    raw: dict[str, str] = {}
    for key, value in params.multi_items():
        if not key.startswith("qty_") or not isinstance(value, str):
            continue
        raw[key] = value[:10]
        try:
            type_id = int(key[4:])
        except ValueError:
            errors["quantity"] = _("That ticket type is not available for this event.")
            continue
        ticket_type = by_id.get(type_id)
        if ticket_type is None:
            errors["quantity"] = _("That ticket type is not available for this event.")
            continue
        value = value.strip() or "0"
        try:
            n = int(value)
        except ValueError:
            errors[key] = _("Enter a whole number of tickets.")
            continue
        if n < 0:
            errors[key] = _("The number of tickets cannot be negative.")
        elif n > ticket_type.max_per_order:
            errors[key] = _("You can book up to %(count)s “%(name)s” tickets at a time.", count=ticket_type.max_per_order, name=ticket_type.name)
        elif n:
            quantities[type_id] = n
    if not errors and not quantities:
        errors["quantity"] = _("Choose how many tickets you want (at least one).")
    if sum(quantities.values()) > MAX_TICKETS_PER_ORDER:
        errors["quantity"] = _("One booking can have up to %(count)s tickets.", count=MAX_TICKETS_PER_ORDER)
    return Selection(quantities, errors, raw)


def parse_pounds(value: str) -> int | None:
    """'5', '5.5', '£5.50' -> pence; None when it is not an amount."""
    cleaned = value.strip().replace("£", "").replace(",", "")
    if not re.fullmatch(r"\d{1,6}(\.\d{1,2})?", cleaned):
        return None
    pounds, _, pence = cleaned.partition(".")
    return int(pounds) * 100 + int((pence + "00")[:2])


@dataclass
class Step2:
    request: RegistrationRequest  # complete only when `errors` is empty
    errors: dict[str, str]
    values: dict[str, str]
    honeypot: bool


def parse_registration(form: FormData, types: list[TicketType]) -> Step2:
    """Step 2: one line per ticket (type_<i>, name_<i>, price_<i>), email, needs, declaration, consent."""
    by_id = {t.id: t for t in types}
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values[key] = value[:2000]
    errors: dict[str, str] = {}
    lines: list[TicketLine] = []
    for i in range(MAX_TICKETS_PER_ORDER + 1):
        raw_type = values.get(f"type_{i}")
        if raw_type is None:
            break
        if i == MAX_TICKETS_PER_ORDER:
            errors["quantity"] = _("One booking can have up to %(count)s tickets.", count=MAX_TICKETS_PER_ORDER)
            break
        try:
            type_id = int(raw_type)
        except ValueError:
            errors["quantity"] = _("That ticket type is not available for this event.")
            continue
        if type_id not in by_id:
            errors["quantity"] = _("That ticket type is not available for this event.")
            continue
        price = None
        if by_id[type_id].tier == Tier.PAY_WHAT_YOU_CAN:
            price = parse_pounds(values.get(f"price_{i}", ""))
            if price is None:
                errors[f"price_{i}"] = _("Enter an amount in pounds, e.g. 5 or 7.50.")
        # A name goes on one line: the PDF ticket, the QR's initials, the attendee list's CSV.
        lines.append(TicketLine(type_id, one_line(values.get(f"name_{i}", "")), price))
    if not lines and "quantity" not in errors:
        errors["quantity"] = _("Choose at least one ticket.")

    email = values.get("email", "").strip()
    if not email:
        errors["email"] = _("Enter your email address: we send the tickets there.")
    elif not valid_email(email):
        errors["email"] = _("Enter an email address like name@example.com.")
    if values.get("consent") not in ("on", "yes", "1"):
        errors["consent"] = _("Please agree to how we use your details, or we cannot book your tickets.")
    token = values.get("form_token", "")
    if not valid_form_token(token):
        errors["__all__"] = _("This form has expired. Please start your booking again from the event page.")
    honeypot = bool(values.get(HONEYPOT_FIELD, "").strip())
    # Built even when there are errors, so the booking rules can report their problems in the same round.
    request = RegistrationRequest(
        lines=lines, email=email.lower() if email.isascii() else email,
        access_needs=values.get("access_needs", "").strip(),
        organisation=one_line(values.get("organisation", "")),
        community_declaration=values.get("community_declaration", ""), form_token=token,
    )
    return Step2(request, errors, values, honeypot)


@dataclass
class TicketTypeInput:
    name: str
    description: str
    tier: str
    price_pence: int
    capacity: int | None
    sales_start: object
    sales_end: object
    max_per_order: int
    position: int
    is_active: bool


TYPE_FIELDS = ["name", "description", "tier", "price", "capacity", "sales_start", "sales_end", "max_per_order",
               "position"]


def values_from_type(t: TicketType) -> dict:
    from events.forms import to_local_input

    return {
        "name": t.name, "description": t.description, "tier": t.tier, "price": f"{t.price_pence / 100:.2f}",
        "capacity": "" if t.capacity is None else str(t.capacity), "sales_start": to_local_input(t.sales_start),
        "sales_end": to_local_input(t.sales_end), "max_per_order": str(t.max_per_order), "position": str(t.position),
        "is_active": t.is_active,
    }


def parse_ticket_type_form(form: FormData, *, sold: int = 0) -> tuple[TicketTypeInput | None, dict, dict]:
    from events.forms import parse_local_datetime, whole_number

    values: dict = {k: (form.get(k) or "").strip() if isinstance(form.get(k, ""), str) else "" for k in TYPE_FIELDS}
    values["is_active"] = form.get("is_active") in ("on", "1", "true")
    for key in TYPE_FIELDS:
        if key != "description":  # the one field that may hold line breaks
            values[key] = one_line(values[key])
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Give the ticket type a name, e.g. “Community rate”."
    elif len(values["name"]) > 120:
        errors["name"] = "Keep the name to 120 characters or fewer."
    if len(values["description"]) > 300:
        errors["description"] = "Keep the description to 300 characters or fewer."
    try:
        tier = Tier(values["tier"])
    except ValueError:
        tier = None
        errors["tier"] = "Choose a tier from the list."
    price = parse_pounds(values["price"] or "0")
    if price is None:
        errors["price"] = "Enter a price in pounds, e.g. 5 or 12.50."
    elif tier == Tier.FREE and price:
        errors["price"] = "Free tickets have no price: set it to 0 or choose another tier."
    elif tier in (Tier.COMMUNITY, Tier.CORPORATE, Tier.STANDARD) and price == 0:
        errors["price"] = "A paid tier needs a price above £0 (use the Free tier for free tickets)."
    capacity = None
    if values["capacity"]:
        try:
            capacity = whole_number(values["capacity"], 1, 100_000)
        except ValueError:
            errors["capacity"] = "Capacity must be a whole number from 1 to 100000, or empty for no limit."
        else:
            if capacity < sold:
                errors["capacity"] = f"{sold} tickets are already taken; the capacity cannot be lower than that."
    times = {}
    for key in ("sales_start", "sales_end"):
        times[key] = None
        if values[key]:
            try:
                times[key] = parse_local_datetime(values[key])
            except ValueError:
                errors[key] = "Enter a date and time, e.g. 2026-11-01 09:00, or leave empty."
    if times["sales_start"] and times["sales_end"] and times["sales_end"] <= times["sales_start"]:
        errors["sales_end"] = "Sales must close after they open."
    try:
        max_per_order = int(values["max_per_order"] or "10")
        if not 1 <= max_per_order <= MAX_TICKETS_PER_ORDER:
            raise ValueError
    except ValueError:
        max_per_order = 10
        errors["max_per_order"] = f"Enter a whole number from 1 to {MAX_TICKETS_PER_ORDER}."
    try:
        position = int(values["position"] or "0")
        if not -1000 <= position <= 1000:
            raise ValueError
    except ValueError:
        position = 0
        errors["position"] = "Enter a whole number (lower numbers are listed first)."
    if errors:
        return None, errors, values
    return TicketTypeInput(
        name=values["name"], description=values["description"], tier=tier.value, price_pence=price,
        capacity=capacity, sales_start=times["sales_start"], sales_end=times["sales_end"],
        max_per_order=max_per_order, position=position, is_active=values["is_active"],
    ), errors, values
