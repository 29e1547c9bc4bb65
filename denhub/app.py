"""The application factory: one Starlette app, a Mount per domain, shared state set up here."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from base64 import b64decode, b64encode
from collections.abc import AsyncIterator

from itsdangerous.exc import BadSignature
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import Request, cookie_parser
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
from kernel.mail import MailSender
from kernel.settings import PROJECT_ROOT, Settings
from ticketing.emails import register_attachment_providers
from ticketing.jobs import WaitlistExpirer
from kernel.web import http_error, server_error

log = logging.getLogger("denhub")

SECURITY_HEADERS = [
    (b"content-security-policy",
     # 'wasm-unsafe-eval' lets the door scanner compile its vendored QR decoder (static/vendor/zxing-wasm);
     # it allows WebAssembly only, not eval() of JavaScript.
     b"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
     b"media-src 'self' blob:; object-src 'none'; "
     b"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware) so the cached listing stays fast."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if SECURITY_HEADER_NAMES.isdisjoint([name for name, _ in headers]):
                    headers += SECURITY_HEADERS
                else:  # a response that sets its own (say, a looser CSP) keeps it
                    present = {name for name, _ in headers}
                    headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Sessions(SessionMiddleware):
    """Starlette's signed-cookie sessions (same cookie, same headers), with two shortcuts.

    Most requests for public pages have no cookie; for them this skips parsing cookies, and only touches
    the response headers when the endpoint used the session. Signed-in people (door staff scanning, judges
    saving) send the same cookie again and again: a cookie whose signature this process has already
    checked is not checked again (its signing time still is, against max_age). Only cookies that passed
    the check are remembered, so forged ones cannot fill the memory; the session data is decoded afresh
    for every request, so no request sees another's changes.
    """

    MAX_REMEMBERED = 4096

    def __init__(self, app: ASGIApp, **options) -> None:
        super().__init__(app, **options)
        self._checked: dict[bytes, tuple[float, bytes]] = {}  # cookie -> (signed at, base64 JSON)

    def _load(self, cookie: bytes) -> Session | None:
        now = time.time()
        known = self._checked.get(cookie)
        if known is None:
            try:
                data, signed_at = self.signer.unsign(cookie, max_age=self.max_age, return_timestamp=True)
            except BadSignature:
                return None
            if len(self._checked) >= self.MAX_REMEMBERED:
                self._checked.clear()
            known = self._checked[cookie] = (signed_at.timestamp(), data)
        elif self.max_age is not None and not 0 <= now - known[0] <= self.max_age:
            del self._checked[cookie]
            return None
        try:
            return Session(json.loads(b64decode(known[1])))
        except ValueError:
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        cookie_header = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value if cookie_header is None else cookie_header + b"; " + value
        cookie = None
        if cookie_header is not None:
            raw = cookie_parser(cookie_header.decode("latin-1")).get(self.session_cookie)
            cookie = raw.encode("utf-8") if raw is not None else None
        loaded = self._load(cookie) if cookie is not None else None
        initial_session_was_empty = loaded is None
        scope["session"] = loaded if loaded is not None else Session()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                session: Session = scope["session"]
                if session.accessed:
                    headers = MutableHeaders(scope=message)
                    headers.add_vary_header("Cookie")
                    max_age = f"Max-Age={self.max_age}; " if self.max_age is not None else ""
                    if session.modified and session:
                        data = self.signer.sign(b64encode(json.dumps(session).encode("utf-8"))).decode("utf-8")
                        headers.append("Set-Cookie", f"{self.session_cookie}={data}; path={self.path}; "
                                                     f"{max_age}{self.security_flags}")
                    elif session.modified and not initial_session_was_empty:  # cleared: drop the cookie
                        headers.append("Set-Cookie", f"{self.session_cookie}=null; path={self.path}; "
                                                     "expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                                                     f"{self.security_flags}")
            await send(message)

        await self.app(scope, receive, send_wrapper)


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
