"""Public event pages: the upcoming listing, past events, an event's page, its .ics file and image."""

from __future__ import annotations

import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from denhub.auth import PUBLIC, guard
from denhub.markdown import render_markdown
from denhub.web import render, render_string
from events import services
from events.calendar import event_ics
from events.models import CATEGORY_LABELS, Category


class ListingCache:
    """Rendered public listings kept for a second or two: a hint, never the truth.

    Only anonymous pages are cached; an organiser's edit clears this worker's copy at once, and other
    workers' copies expire within `ttl` seconds.
    """

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._pages: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        hit = self._pages.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: str, body: bytes) -> None:
        if self.ttl > 0:
            self._pages[key] = (time.monotonic() + self.ttl, body)

    def clear(self) -> None:
        self._pages.clear()


def _category(request: Request) -> str | None:
    value = request.query_params.get("category") or None
    if value is not None and value not in {c.value for c in Category}:
        raise HTTPException(400, f"There is no category called “{value[:40]}”. Choose one from the list.")
    return value


def _anonymous(request: Request) -> bool:
    session = request.scope.get("session") or {}
    return "uid" not in session and "flash" not in session


@guard(PUBLIC)
async def listing(request: Request) -> Response:
    category = _category(request)
    cache: ListingCache = request.app.state.listing_cache
    cacheable = _anonymous(request)
    key = category or ""
    if cacheable and (body := cache.get(key)) is not None:
        return HTMLResponse(body)
    async with request.app.state.db.read() as session:
        events = await services.list_upcoming(session=session, category=category)
    context = {"events": events, "category": category, "categories": CATEGORY_LABELS}
    if cacheable:
        body = render_string("events/listing.html", request=request, user=None, flashes=[],
                             csrf_token=lambda: "", **context).encode()
        cache.put(key, body)
        return HTMLResponse(body)
    return render(request, "events/listing.html", context)


@guard(PUBLIC)
async def past(request: Request) -> Response:
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        raise HTTPException(400, "The page number must be a whole number.") from None
    async with request.app.state.db.read() as session:
        events, more = await services.list_past(session=session, page=page)
    return render(request, "events/past.html", {"events": events, "page": page, "more": more})


async def _public_event(request: Request):
    user = getattr(request.state, "user", None)
    is_organiser = user is not None and user.role == "organiser"
    async with request.app.state.db.read() as session:
        event = await services.get_by_slug(
            session=session, slug=request.path_params["slug"], include_drafts=is_organiser
        )
    if event is None:
        raise HTTPException(404, "We could not find that event. It may have been removed or the link mistyped.")
    return event


@guard(PUBLIC)
async def event_page(request: Request) -> Response:
    event = await _public_event(request)
    image_alt = ""
    if event.image_version:
        async with request.app.state.db.read() as session:
            image = await services.get_image(session=session, slug=event.slug)
            image_alt = image.alt_text if image else ""
    return render(
        request, "events/event.html",
        {"event": event, "description_html": render_markdown(event.description), "image_alt": image_alt},
    )


@guard(PUBLIC)
async def event_calendar(request: Request) -> Response:
    event = await _public_event(request)
    body = event_ics(event, base_url=request.app.state.settings.base_url)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{event.slug}.ics"'},
    )


@guard(PUBLIC)
async def event_image(request: Request) -> Response:
    async with request.app.state.db.read() as session:
        image = await services.get_image(session=session, slug=request.path_params["slug"])
    if image is None:
        raise HTTPException(404, "This event has no image.")
    return Response(
        image.data,
        media_type=image.content_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


routes = [
    Route("/past", past, methods=["GET"], name="past_events"),
    Route("/{slug}/calendar.ics", event_calendar, methods=["GET"], name="event_calendar"),
    Route("/{slug}/image", event_image, methods=["GET"], name="event_image"),
    Route("/{slug}", event_page, methods=["GET"], name="event"),
]
