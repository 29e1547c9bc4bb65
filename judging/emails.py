"""Judging emails to applicants, queued in the same transaction as the decision they announce."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Event
from judging.models import Competition, Entrant, EntrantStatus
from kernel import mail
from kernel.web import london


async def enqueue_decision(*, session: AsyncSession, entrant: Entrant, competition: Competition,
                           base_url: str) -> None:
    """Tell an applicant they are pitching (accepted) or not this time (rejected)."""
    event = await session.get(Event, competition.event_id)
    base = base_url.rstrip("/")
    if entrant.status == EntrantStatus.ACCEPTED:
        heading = f"You are pitching at {event.title}"
        paragraphs = [f"Hello {entrant.name},",
                      (f"Good news: {entrant.enterprise} has a place in {competition.name}. Please arrive in good "
                       f"time for {london(event.starts_at)} at {event.venue_name}."),
                      f"You will have {competition.pitch_seconds // 60} minutes to pitch, then questions from the judges."]
        subject = f"You are pitching: {competition.name}"
    else:
        heading = f"Your application to {competition.name}"
        paragraphs = [f"Hello {entrant.name},",
                      (f"Thank you for applying with {entrant.enterprise}. We had more applications than places and "
                       "cannot offer you a pitch this time."),
                      "You are very welcome to come and watch, and to apply again next time."]
        subject = f"Your application: {competition.name}"
    text, html = mail.render_email("notice", heading=heading, paragraphs=paragraphs,
                                   action_url=f"{base}/events/{event.slug}", action_label="About the event",
                                   base_url=base)
    await mail.enqueue(session=session, to=entrant.contact_email, subject=subject, text=text, html=html)
