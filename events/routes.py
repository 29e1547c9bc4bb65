"""Public event pages: the upcoming listing, past events, an event's page, its .ics file and image."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from events import services
from events.access import may_preview
from events.calendar import event_ics
from events.models import CATEGORY_LABELS, Category
from kernel import i18n
from kernel.auth import PUBLIC, guard
from kernel.hooks import hooks_of
from kernel.markdown import render_markdown
from kernel.web import render, render_string


class ListingCache:
    """Rendered public listings kept for a second or two: a hint, never the truth.

    Only anonymous pages are cached; an organiser's edit clears this worker's copy at once, and other
    workers' copies expire within `ttl` seconds. When a copy expires under load, one request renders the
    page and the others arriving meanwhile wait for that render instead of each querying and rendering
    it again (64 concurrent renders every `ttl` cost a sixth of the throughput and 200 ms at p99).
    """

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._pages: dict[str, tuple[float, bytes]] = {}
        self._renders: dict[str, asyncio.Task[bytes]] = {}
        self._generation = 0  # bumped by clear(): a render begun before an edit is never stored

    def get(self, key: str) -> bytes | None:
        hit = self._pages.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: str, body: bytes) -> None:
        if self.ttl > 0:
            self._pages[key] = (time.monotonic() + self.ttl, body)

    def clear(self) -> None:
        self._generation += 1
        self._pages.clear()
        self._renders.clear()

    async def get_or_render(self, key: str, render: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached page, or the one render in progress for `key`, or a new render (then cached)."""
        body = self.get(key)
        if body is not None:
            return body
        if self.ttl <= 0:
            return await render()
        task = self._renders.get(key)
        if task is None:
            task = asyncio.ensure_future(self._render(key, render, self._generation))
            self._renders[key] = task
        # shield: a client that hangs up must not cancel the render other requests are waiting for
        return await asyncio.shield(task)

    async def _render(self, key: str, render: Callable[[], Awaitable[bytes]], generation: int) -> bytes:
        try:
            body = await render()
            if generation == self._generation:
                self.put(key, body)
            return body
        finally:
            if generation == self._generation:
                self._renders.pop(key, None)


def _category(request: Request) -> str | None:
    if not request.scope["query_string"]:
        return None  # the common case, without parsing an empty query string
    value = request.query_params.get("category") or None
    if value is not None and value not in {c.value for c in Category}:
        raise HTTPException(400, f"There is no category called “{value[:40]}”. Choose one from the list.")
    return value


def _anonymous(request: Request) -> bool:
    session = request.scope.get("session") or {}
    return "uid" not in session and "flash" not in session


async def _listing_context(request: Request, category: str | None) -> dict:
    """The upcoming events and what other domains say on their cards (kernel.hooks.event_card_facts)."""
    async with request.app.state.db.read() as session:
        events = await services.list_upcoming(session=session, category=category)
        facts = await hooks_of(request.app).card_facts(session, events)
    return {"events": events, "facts": facts, "category": category, "categories": CATEGORY_LABELS}


async def _render_anonymous_listing(request: Request, category: str | None) -> bytes:
    context = await _listing_context(request, category)
    return render_string("events/listing.html", request=request, user=None, flashes=[], csrf_token=lambda: "",
                         **context).encode()


@guard(PUBLIC)
async def listing(request: Request) -> Response:
    category = _category(request)
    if _anonymous(request):
        cache: ListingCache = request.app.state.listing_cache
        key = f"{i18n.current()}:{category or ''}"  # one rendered listing per language
        body = cache.get(key)
        if body is None:
            body = await cache.get_or_render(key, lambda: _render_anonymous_listing(request, category))
        return HTMLResponse(body)
    return render(request, "events/listing.html", await _listing_context(request, category))


@guard(PUBLIC)
async def past(request: Request) -> Response:
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        raise HTTPException(400, "The page number must be a whole number.") from None
    async with request.app.state.db.read() as session:
        events, more = await services.list_past(session=session, page=page)
    return render(request, "events/past.html", {"events": events, "page": page, "more": more})


PREVIEWERS = frozenset({"admin", "organiser"})  # who may see drafts: those they may manage (events.access)


async def _public_event(request: Request):
    user = getattr(request.state, "user", None)
    is_organiser = user is not None and user.role in PREVIEWERS
    async with request.app.state.db.read() as session:
        event = await services.get_by_slug(
            session=session, slug=request.path_params["slug"], include_drafts=is_organiser
        )
        if event is not None and event.status == "draft" and not await may_preview(
                session=session, user=user, event_id=event.id):
            event = None  # another organiser's draft
    if event is None:
        raise HTTPException(404, "We could not find that event. It may have been removed or the link mistyped.")
    return event


async def event_page_context(request: Request, event) -> dict:
    """Everything events/event.html needs. Other domains add panels through the event_page_panels extension
    point (kernel.hooks), e.g. ticketing's booking panel: each panel's template is included in order
    (`panel_templates`) and its context merged in."""
    image_alt = ""
    if event.image_version:
        async with request.app.state.db.read() as session:
            # `event` was already allowed through (a draft only for organisers), so its image is too.
            image = await services.get_image(session=session, slug=event.slug, include_drafts=True)
            image_alt = image.alt_text if image else ""
    context = {"event": event, "description_html": render_markdown(event.description), "image_alt": image_alt}
    hooks = hooks_of(request.app)
    context["panel_templates"] = []
    for panel in await hooks.panels(hooks.event_page_panels, request, event):
        context.update(panel.context)
        context["panel_templates"].append(panel.template)
    return context


async def public_event(request: Request):
    """The event named by the slug in the path, or a 404 (drafts only for organisers)."""
    return await _public_event(request)


@guard(PUBLIC)
async def event_page(request: Request) -> Response:
    event = await _public_event(request)
    return render(request, "events/event.html", await event_page_context(request, event))


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
    user = getattr(request.state, "user", None)
    is_organiser = user is not None and user.role in PREVIEWERS  # previews drafts, as on the event page
    async with request.app.state.db.read() as session:
        image = await services.get_image(
            session=session, slug=request.path_params["slug"], include_drafts=is_organiser
        )
    if image is None:
        raise HTTPException(404, "This event has no image.")
    # What an organiser sees may be a draft's image: never kept by a shared cache.
    cache = "private, max-age=86400" if is_organiser else "public, max-age=86400"
    return Response(
        image.data,
        media_type=image.content_type,
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )


routes = [
    Route("/past", past, methods=["GET"], name="past_events"),
    Route("/{slug}/calendar.ics", event_calendar, methods=["GET"], name="event_calendar"),
    Route("/{slug}/image", event_image, methods=["GET"], name="event_image"),
    Route("/{slug}", event_page, methods=["GET"], name="event"),
]
