"""iCalendar (.ics) files for events, shared by the event page and ticket emails."""

from __future__ import annotations

from icalendar import Calendar
from icalendar import Event as VEvent

from events.models import Event
from kernel.db import utcnow


def event_ics(event: Event, *, base_url: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//denhub//Soho House events//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    item = VEvent()
    host = base_url.split("://", 1)[-1].split("/", 1)[0] or "denhub"
    item.add("uid", f"event-{event.id}@{host}")
    item.add("dtstamp", utcnow())
    item.add("dtstart", event.starts_at)
    item.add("dtend", event.ends_at)
    item.add("summary", event.title)
    location = ", ".join(part for part in (event.venue_name, event.venue_address) if part)
    item.add("location", location)
    url = f"{base_url.rstrip('/')}/events/{event.slug}"
    item.add("description", f"{event.summary}\n\n{url}".strip())
    item.add("url", url)
    item.add("status", "CANCELLED" if event.is_cancelled else "CONFIRMED")
    cal.add_component(item)
    return cal.to_ical()
