"""One Jinja2 environment for every page: filters, the base context and the error pages."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from zoneinfo import ZoneInfo

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from denhub.auth import csrf_token
from denhub.settings import PROJECT_ROOT

LONDON = ZoneInfo("Europe/London")
log = logging.getLogger("denhub")

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
    autoescape=True,  # every template, whatever its extension
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


@functools.lru_cache(maxsize=4096)  # a page shows the same few times to everyone; the time zone costs more
def london(value: dt.datetime | None, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    """A UTC datetime shown in Birmingham's local time."""
    if value is None:
        return ""
    return value.astimezone(LONDON).strftime(fmt)


def london_time(value: dt.datetime | None) -> str:
    return london(value, "%H:%M")


def london_range(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """'Sat 28 Nov 2026, 18:00 to 20:30', or both dates in full when the event spans days."""
    if start is None or end is None:
        return london(start)
    if start.astimezone(LONDON).date() == end.astimezone(LONDON).date():
        return f"{london(start)} to {london_time(end)}"
    return f"{london(start)} to {london(end)}"


def iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value else ""


def pence(value: int | None) -> str:
    if not value:
        return "Free"
    return f"£{value // 100}.{value % 100:02d}"


env.filters.update(london=london, london_time=london_time, london_range=london_range, iso=iso, pence=pence)
templates = Jinja2Templates(env=env)


def _flashes(request: Request) -> list[list[str]]:
    if "session" not in request.scope or "flash" not in request.session:
        return []
    return request.session.pop("flash")


def render(
    request: Request,
    name: str,
    context: dict | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a page with the base context: user, CSRF token function, flash messages."""
    has_session = "session" in request.scope
    base = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_token": (lambda: csrf_token(request)) if has_session else (lambda: ""),
        "flashes": _flashes(request),
    }
    base.update(context or {})
    return templates.TemplateResponse(request, name, base, status_code=status_code, headers=headers)


def render_string(name: str, **context) -> str:
    """Render a template outside a request (cached public pages, emails, PDFs)."""
    return env.get_template(name).render(**context)


TITLES = {
    400: "Something in that request was not right",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
}


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else None
    if status == 404 and (not detail or detail == "Not Found"):
        detail = "We could not find that page. It may have moved, or the link may be mistyped."
    if detail in (None, "", "Internal Server Error") or status >= 500:
        detail = "Sorry, that did not work. The team has been told; please try again in a moment."
    headers = getattr(exc, "headers", None)
    try:
        return render(
            request, "error.html", {"status": status, "title": TITLES.get(status, "Error"), "detail": detail},
            status_code=status, headers=headers,
        )
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return await http_error(request, exc)
