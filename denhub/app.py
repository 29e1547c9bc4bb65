"""The application factory: one Starlette app, a Mount per domain, shared state set up here."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import events.manage
import events.routes
import judging.host
import judging.manage
import judging.manage_panel
import judging.routes
import judging.vote_pages
import ticketing.door
import ticketing.door_manage
import ticketing.manage
import ticketing.routes
import ticketing.tickets
from kernel import auth
from kernel.auth import PUBLIC, guard
from kernel.db import Database
from kernel.middleware import SecurityHeaders
from kernel.sessions import Sessions
from kernel.mail import MailSender
from kernel.settings import PROJECT_ROOT, Settings
from ticketing.emails import register_attachment_providers
from ticketing.jobs import WaitlistExpirer
from kernel.web import http_error, server_error

log = logging.getLogger("denhub")

@guard(PUBLIC)
async def healthz(request: Request) -> Response:
    async with request.app.state.db.read() as session:
        await session.connection()
    return PlainTextResponse("ok")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    db = Database(settings.effective_database_url)
    mail_sender = MailSender(db, settings)
    expirer = WaitlistExpirer(db, settings, on_mail=mail_sender.wake)
    register_attachment_providers()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        mail_sender.start()
        expirer.start()
        # Everything loaded so far (modules, templates, mappers) lives as long as the process: keep it out
        # of the garbage collector's full collections, which otherwise walk it all and stall every request.
        gc.collect()
        gc.freeze()
        try:
            yield {}
        finally:
            await expirer.stop()
            await mail_sender.stop()
            await db.dispose()

    # Starlette tries routes in order, so the busiest come first: a booking rush's POSTs, the listing, then the
    # door's scans, judges' saves and registrations (no two of these paths overlap, so the order changes nothing
    # else).
    routes = [
        ticketing.routes.booking_route,
        Route("/", events.routes.listing, methods=["GET"], name="listing"),
        Mount("/door", routes=ticketing.door.routes),
        Mount("/judging", routes=[*judging.routes.routes, *judging.vote_pages.routes]),
        Mount("/events", routes=[*ticketing.routes.event_routes, *ticketing.tickets.event_routes,
                                 *events.routes.routes]),
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        *auth.routes,
        # judging adds the people's-choice ballot to the ticket page (judging.vote_pages).
        *judging.vote_pages.with_ticket_ballots(ticketing.tickets.routes),
        Mount("/organiser", routes=[*events.manage.routes, *ticketing.manage.routes, *ticketing.door_manage.routes,
                                    *judging.manage.routes, *judging.manage_panel.routes, *judging.host.routes]),
        Mount("/static", app=StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            Sessions,
            secret_key=settings.effective_secret_key(),
            session_cookie="denhub_session",
            max_age=12 * 60 * 60,
            same_site="lax",
            https_only=settings.https,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.mail_sender = mail_sender
    app.state.waitlist_expirer = expirer
    app.state.event_page_extras = [ticketing.routes.registration_panel]
    app.state.door_link_loader = ticketing.door.load_door_link
    app.state.user_cache = auth.UserCache(settings.user_cache_seconds)
    app.state.listing_cache = events.routes.ListingCache(settings.listing_cache_seconds)
    return app


def app_factory() -> Starlette:
    """Entry point for `uvicorn --factory denhub.app:app_factory` and `denhub serve`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return create_app()
