"""One Jinja2 environment for every page: filters, the base context and the error pages."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime
from babel.numbers import format_currency
from markupsafe import escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from kernel import i18n
from kernel.auth import csrf_token
from kernel.hooks import hooks_of
from kernel.settings import PROJECT_ROOT

LONDON = ZoneInfo("Europe/London")
log = logging.getLogger("denhub")

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
    autoescape=True,  # every template, whatever its extension
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
i18n.install(env)  # {% trans %}, _(), ngettext() in every template, in the request's language (kernel.i18n)


# strftime patterns as Babel (CLDR) patterns, for the other languages: the same parts, in their words and digits
_CLDR = {"%a %-d %b %Y, %H:%M": "EEE d MMM y, HH:mm", "%H:%M": "HH:mm", "%H:%M:%S": "HH:mm:ss",
         "%Y-%m-%d %H:%M": "yyyy-MM-dd HH:mm", "%-d %B %Y": "d MMMM y", "%a %-d %b": "EEE d MMM",
         "%-d %b %H:%M:%S": "d MMM HH:mm:ss", "%-d %b %Y": "d MMM y", "%A %-d %B %Y": "EEEE d MMMM y",
         "%A %-d %B %Y, %H:%M": "EEEE d MMMM y, HH:mm", "%Y-%m-%d": "yyyy-MM-dd", "%a %-d %b %Y": "EEE d MMM y"}


def london(value: dt.datetime | None, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    """A UTC datetime shown in Birmingham's local time, as the request's language writes dates."""
    if value is None:
        return ""
    return _london(value, fmt, i18n.current())


@functools.lru_cache(maxsize=4096)  # a page shows the same few times to everyone; the time zone costs more
def _london(value: dt.datetime, fmt: str, code: str) -> str:
    if code == i18n.DEFAULT or fmt not in _CLDR:
        return value.astimezone(LONDON).strftime(fmt)
    text = format_datetime(value, _CLDR[fmt], tzinfo=LONDON, locale=i18n.locale_of(code))
    return i18n.native_digits(text, code)


def london_time(value: dt.datetime | None) -> str:
    return london(value, "%H:%M")


def london_range(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """'Sat 28 Nov 2026, 18:00 to 20:30', or both dates in full when the event spans days."""
    if start is None or end is None:
        return london(start)
    if start.astimezone(LONDON).date() == end.astimezone(LONDON).date():
        return i18n.gettext("%(start)s to %(end)s", start=london(start), end=london_time(end))
    return i18n.gettext("%(start)s to %(end)s", start=london(start), end=london(end))


def iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value else ""


def pence(value: int | None) -> str:
    """Money (integer pence) in pounds, as the request's language writes it; nothing to pay is "Free"."""
    if not value:
        return i18n.gettext("Free")
    code = i18n.current()
    if code == i18n.DEFAULT:
        return f"£{value // 100}.{value % 100:02d}"
    return i18n.native_digits(format_currency(value / 100, "GBP", locale=i18n.locale_of(code)), code)


env.filters.update(london=london, london_time=london_time, london_range=london_range, iso=iso, pence=pence,
                   number=i18n.format_number)
# An event's organiser pages in every domain (kernel.hooks.organiser_event_links), for the organiser tab bar.
env.globals["event_links"] = lambda request, event: hooks_of(request.scope.get("app")).event_links(
    event, getattr(request.scope.get("state", {}).get("user"), "role", None))
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
    """Render a page with the base context: user, the navigation's entries for them (kernel.hooks.menu), CSRF
    token function, flash messages."""
    has_session = "session" in request.scope
    user = getattr(request.state, "user", None)
    base = {
        "request": request,
        "user": user,
        "menu": hooks_of(request.scope.get("app")).menu_for(user.role if user is not None else None),
        "csrf_token": (lambda: csrf_token(request)) if has_session else (lambda: ""),
        "flashes": _flashes(request),
    }
    base.update(context or {})
    return templates.TemplateResponse(request, name, base, status_code=status_code, headers=headers)


_HOLE = "\u2063hole-{}-{}\u2063"  # invisible separators: text no template or typed value will hold
_PROCESS_MARK = secrets.token_hex(8)
_framed: dict[tuple, tuple[str, dict[str, str]]] = {}


def render_framed(request: Request, name: str, context: dict, *, key: tuple, holes: dict[str, str],
                  status_code: int = 200) -> Response:
    """render(request, name, {**context, **holes}), the same page, from a frame rendered once per `key`.

    For a page answered many times a second with only a few values that change (the sold-out answer in a
    booking rush: the name and email just typed, the CSRF token): the page is rendered once with a marker for
    each hole and the CSRF token, and each answer puts its values, escaped as Jinja escapes them, into a copy.
    `key` must stand for everything else in `context`. A signed-in visitor or a pending flash message (the page
    shows them) gets the page rendered in full."""
    if getattr(request.state, "user", None) is not None or "session" not in request.scope \
            or "flash" in request.session:
        return render(request, name, {**context, **holes}, status_code=status_code)
    frame_key = (name, key, tuple(holes), i18n.current())
    found = _framed.get(frame_key)
    if found is None:
        markers = {hole: _HOLE.format(_PROCESS_MARK, hole) for hole in (*holes, "csrf_token")}
        text = env.get_template(name).render({
            "request": request, "user": None, "flashes": [], **context,
            **{hole: markers[hole] for hole in holes}, "csrf_token": lambda: markers["csrf_token"],
        })
        if len(_framed) > 256:
            _framed.clear()
        _framed[frame_key] = found = (text, markers)
    text, markers = found
    for hole, value in (*holes.items(), ("csrf_token", csrf_token(request))):
        text = text.replace(markers[hole], str(escape(value)))
    return HTMLResponse(text, status_code=status_code)


def render_string(name: str, **context) -> str:
    """Render a template outside a request (cached public pages, emails, PDFs)."""
    return env.get_template(name).render(**context)


TITLES = {  # translated where shown (http_error)
    400: i18n.N_("Something in that request was not right"),
    403: i18n.N_("Not allowed"),
    404: i18n.N_("Page not found"),
    405: i18n.N_("Not allowed"),
    413: i18n.N_("Too large"),
    429: i18n.N_("Too many attempts"),
    500: i18n.N_("Something went wrong"),
    503: i18n.N_("We cannot take bookings right now"),
}
# The page for a full or unwritable disk (kernel.health.is_storage_failure): nothing the visitor did wrong.
STORAGE_DETAIL = i18n.N_("We cannot take bookings or save changes right now: our storage is full. Nothing has been "
                  "booked or charged. The team has been told; please try again in a few minutes.")


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else None
    if status == 404 and (not detail or detail == "Not Found"):
        detail = i18n.N_("We could not find that page. It may have moved, or the link may be mistyped.")
    if detail in (None, "", "Internal Server Error") or (status >= 500 and detail != STORAGE_DETAIL):
        detail = i18n.N_("Sorry, that did not work. The team has been told; please try again in a moment.")
    headers = getattr(exc, "headers", None)
    try:
        return render(
            request, "error.html", {"status": status, "title": i18n.gettext(TITLES.get(status, i18n.N_("Error"))),
                                    # a message marked for translation where it was raised shows translated
                                    "detail": i18n.gettext(detail) if isinstance(detail, str) else detail},
            status_code=status, headers=headers,
        )
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)


async def storage_error(request: Request, exc: Exception) -> Response:
    """The handler for database and OS errors: a full or unwritable disk is the 503 "we cannot take bookings
    right now" page (answered, not raised: nothing is wrong with the code); anything else goes on to
    server_error as before."""
    from kernel.health import is_storage_failure  # kernel.health imports the models' base

    if not is_storage_failure(exc):
        raise exc
    log.critical("storage full or not writable on %s %s: %s", request.method, request.url.path, exc)
    return await http_error(request, HTTPException(503, STORAGE_DETAIL, headers={"Retry-After": "120"}))


async def server_error(request: Request, exc: Exception) -> Response:
    from kernel.health import is_storage_failure

    if is_storage_failure(exc):  # raised outside a route (a middleware)
        return await storage_error(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return await http_error(request, exc)
