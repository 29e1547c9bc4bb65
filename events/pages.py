"""What the organiser pages of every domain about one event share (events', ticketing's door and tickets pages):
the event their path names."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from events.models import Event

NO_SUCH_EVENT = "There is no event with that number."


async def event_in_path_or_404(request: Request) -> Event:
    """The event whose id is the path parameter `event_id`; 404 when there is none."""
    async with request.app.state.db.read() as session:
        event = await session.get(Event, request.path_params["event_id"])
    if event is None:
        raise HTTPException(404, NO_SUCH_EVENT)
    return event
