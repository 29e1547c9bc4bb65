"""The demo programme's events: what a newcomer sees after `make run` (events' part of `denhub demo`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Category, Event, EventStatus
from kernel.web import LONDON

SOHO_HOUSE = "Soho House – Visitor Centre"
SOHO_ADDRESS = "Soho Avenue, Handsworth, Birmingham B18 5LB"


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(dt.UTC)


def _next_weekday(today: dt.date, weekday: int, weeks_ahead: int) -> dt.date:
    days = (weekday - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=days + 7 * weeks_ahead)


def programme(now: dt.datetime) -> list[dict]:
    """The demo events, dated relative to `now` (the festival is the coming or current November)."""
    today = now.astimezone(LONDON).date()
    # This year's festival until it has ended (30 November, 18:00), then next year's.
    year = today.year if now < _local(dt.date(today.year, 11, 30), 18) else today.year + 1
    saturday = _next_weekday(today, 5, 0)
    friday = _next_weekday(today, 4, 1)
    wednesday = _next_weekday(today, 2, 2)
    last_month = today - dt.timedelta(days=30)
    return [
        {
            "slug": f"bangla-month-{year}", "title": f"Bangla Month {year}", "category": Category.FESTIVAL,
            "summary": "A month of Bengali music, poetry, food and film at Soho House, with workshops for all ages.",
            "description": (
                f"## বাংলা মাস · Bangla Month {year}\n\n"
                "Every November Handsworth celebrates Bengali heritage and culture. Join us for:\n\n"
                "- **Baul and Nazrul songs** in the Visitor Centre every Saturday afternoon\n"
                "- *Alpana* floor-art and calligraphy workshops for families\n"
                "- A community iftar-style shared supper with local caterers\n"
                "- Poetry readings in Bangla and English\n\n"
                "Free for everyone; some workshops have limited places."
            ),
            "venue_name": SOHO_HOUSE, "venue_address": SOHO_ADDRESS,
            "starts_at": _local(dt.date(year, 11, 1), 10), "ends_at": _local(dt.date(year, 11, 30), 18),
            "capacity": 400, "step_free": True, "accessible_toilet": True, "hearing_loop": True, "bsl": False,
            "accessibility_notes": "Step-free entrance from Soho Avenue. Ask at the desk for the hearing loop.",
        },
        {
            "slug": "outdoor-cinema-soho-house-gardens", "title": "Outdoor cinema in the Soho House gardens",
            "category": Category.SCREENING,
            "summary": "Handsworth Creative screens a family film under the trees. Bring a blanket; hot chai on sale.",
            "description": (
                "Presented with **Handsworth Creative**. Gates open 45 minutes before the film.\n\n"
                "Seating is on the lawn: bring a blanket or a low chair. Some chairs are kept for people "
                "who need them; ask a steward. The screening goes ahead in light rain."
            ),
            "venue_name": "Soho House gardens", "venue_address": SOHO_ADDRESS,
            "starts_at": _local(saturday, 18), "ends_at": _local(saturday, 20, 30), "capacity": 150,
            "step_free": True, "captions": True, "accessible_toilet": True,
            "accessibility_notes": "Firm paths to the lawn; subtitles on screen.",
        },
        {
            "slug": "dragons-den-pitch-night", "title": "Dragons’ Den pitch night: social entrepreneurs",
            "category": Category.PITCH_NIGHT,
            "summary": "Early-stage social entrepreneurs pitch to a panel of judges, with Legacy West Midlands.",
            "description": (
                "Five early-stage social enterprises from Handsworth, Lozells and Aston have five minutes each "
                "to pitch to our panel. Judges score social impact, viability, innovation, team and pitch; "
                "the audience votes for a people's choice award.\n\n"
                "In partnership with **Legacy West Midlands**."
            ),
            "venue_name": SOHO_HOUSE, "venue_address": SOHO_ADDRESS,
            "starts_at": _local(friday, 18, 30), "ends_at": _local(friday, 21), "capacity": 80,
            "step_free": True, "hearing_loop": True, "bsl": True, "accessible_toilet": True,
        },
        {
            "slug": "social-enterprise-start-up-workshop", "title": "Starting a social enterprise: a practical workshop",
            "category": Category.WORKSHOP,
            "summary": "Legal forms, a first business plan and where the money comes from, in one evening.",
            "description": (
                "A hands-on evening for people with an idea for a social enterprise. We cover:\n\n"
                "1. Choosing a legal form (CIC, co-operative, charity)\n"
                "2. Writing a one-page business plan\n"
                "3. Grants, social investment and trading income\n\n"
                "Tea, coffee and samosas provided."
            ),
            "venue_name": SOHO_HOUSE, "venue_address": SOHO_ADDRESS,
            "starts_at": _local(wednesday, 18), "ends_at": _local(wednesday, 20, 30), "capacity": 30,
            "step_free": True, "quiet_space": True, "accessible_toilet": True,
        },
        {
            "slug": "community-business-clinic", "title": "Community business clinic",
            "category": Category.OTHER,
            "summary": "One-to-one advice for community businesses in Handsworth.",
            "description": "Drop-in advice sessions with volunteer accountants and mentors.",
            "venue_name": SOHO_HOUSE, "venue_address": SOHO_ADDRESS,
            "starts_at": _local(last_month, 10), "ends_at": _local(last_month, 13), "step_free": True,
        },
    ]


async def load(*, session: AsyncSession, now: dt.datetime) -> list[Event]:
    """Add the programme's events that are not there yet (published); returns those added."""
    created = []
    for spec in programme(now):
        if await session.scalar(select(Event.id).where(Event.slug == spec["slug"])):
            continue
        event = Event(status=EventStatus.PUBLISHED.value, **{**spec, "category": spec["category"].value})
        session.add(event)
        created.append(event)
    await session.flush()
    return created
