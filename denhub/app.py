"""The application factory: the composition root. It lists the domains (denhub.domains), mounts their routes,
starts their jobs and collects their contributions to the kernel's extension points (kernel.hooks)."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Sequence

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from denhub.domains import DOMAINS
from kernel import documents, keyring, login
from kernel.accounts import SESSION_MAX_AGE_SECONDS, Role
from kernel.db import Database
from kernel.health import healthz
from kernel.hooks import Domain, Hooks, JobContext, MenuEntry
from kernel.i18n import Languages
from kernel.i18n import configure as configure_languages
from kernel.mail import MailSender
from kernel.mail import pages as mail_pages
from kernel.middleware import SecurityHeaders, trusting_proxies
from kernel.sessions import Sessions
from kernel.settings import PROJECT_ROOT, Settings, private_directory
from kernel.web import http_error, server_error, storage_error

log = logging.getLogger("denhub")

def merged_mounts(routes: list[BaseRoute]) -> list[BaseRoute]:
    """`routes` with the Mounts that share a path made one (in order): several domains add pages under
    /events, and Starlette stops at the first Mount whose prefix matches."""
    merged: list[BaseRoute] = []
    mounts: dict[str, Mount] = {}
    for route in routes:
        if isinstance(route, Mount) and route.app is not None and hasattr(route.app, "routes") \
                and route.name is None:
            if route.path in mounts:
                mounts[route.path].routes.extend(route.routes)
                continue
            route = mounts[route.path] = Mount(route.path, routes=list(route.routes))
        merged.append(route)
    return merged


def create_app(settings: Settings | None = None, *, domains: Sequence[Domain] | None = None) -> Starlette:
    """The app made of `domains` (denhub.domains.DOMAINS when not given): their routes, jobs, state and
    contributions to the extension points (kernel.hooks)."""
    settings = settings or Settings.from_env()
    domains = DOMAINS if domains is None else tuple(domains)
    hooks = Hooks.collect(domains)
    keyring.use(settings)  # the key file that opens each event's sealed signing key (kernel.keyring)
    # The outbox's problems (kernel.mail.pages) for organisers, after the domains' own entries.
    hooks = dataclasses.replace(hooks, menu=(*hooks.menu, MenuEntry("Email", "/organiser/mail",
                                                                    frozenset({Role.ADMIN.value}))))
    if settings.var_path.is_dir():  # made 0755 by older versions: the database and emails are in it
        private_directory(settings.var_path, ours=True)
    configure_languages(settings.languages)  # every catalogue compiled now, once per process
    db = Database(settings.effective_database_url)
    mail_sender = MailSender(db, settings, bodies=hooks.mail_bodies, attachments=hooks.mail_attachments)
    context = JobContext(db=db, settings=settings, wake_mail=mail_sender.wake)
    jobs = {name: factory(context) for domain in domains for name, factory in domain.jobs.items()}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        mail_sender.start()
        for job in jobs.values():
            job.start()
        # Everything loaded so far (modules, templates, mappers) lives as long as the process: keep it out
        # of the garbage collector's full collections, which otherwise walk it all and stall every request.
        gc.collect()
        gc.freeze()
        try:
            yield {"settings": settings, "db": db, "hooks": hooks}
        finally:
            for job in reversed(jobs.values()):
                await job.stop()
            await mail_sender.stop()
            await db.dispose()

    # Starlette tries routes in order: the domains' busiest first (a booking rush's POSTs, the listing), then
    # the rest (no two paths overlap, so the order changes nothing else).
    routes = merged_mounts([
        *(route for domain in domains for route in domain.first_routes),
        *(route for domain in domains for route in domain.routes),
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        *login.routes,
        *documents.routes,
        *mail_pages.routes,
        Mount("/organiser", routes=[route for domain in domains for route in domain.organiser_routes]),
        Mount("/static", app=StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
    ])
    middleware = [
        # Outermost: every layer below sees the visitor's address, from a trusted proxy's X-Forwarded-For.
        Middleware(trusting_proxies, trusted_proxies=settings.trusted_proxies),
        Middleware(SecurityHeaders, https=settings.https),
        Middleware(
            Sessions,
            secret_key=settings.effective_secret_key(),
            session_cookie="denhub_session",
            max_age=SESSION_MAX_AGE_SECONDS,
            same_site="lax",
            https_only=settings.https,
        ),
        # The request's language (?lang=, cookie, Accept-Language; kernel.i18n), for everything below.
        Middleware(Languages, https=settings.https),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        # A full disk: the 503 page, not a 500 (kernel.web.storage_error passes any other error on).
        exception_handlers={HTTPException: http_error, DBAPIError: storage_error, OSError: storage_error,
                            Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.hooks = hooks
    app.state.mail_sender = mail_sender
    for domain in domains:
        for name, value in (domain.state(settings) if domain.state else {}).items():
            setattr(app.state, name, value)
    for name, job in jobs.items():
        setattr(app.state, name, job)
    return app


def app_factory() -> Starlette:
    """Entry point for `uvicorn --factory denhub.app:app_factory` and `denhub serve`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return create_app()
