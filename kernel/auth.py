"""Sessions, CSRF and the permission guard every route declares; login and logout pages.

Sessions are signed cookies (kernel.sessions; HttpOnly, SameSite=Lax, Secure behind https), so any worker
can read them; a signed-in one also names its server-side record (kernel.accounts.UserSession), checked on
every request, so that ending it on the server (logout, password change, deactivation) ends it everywhere. Every endpoint is wrapped by `guard(access)`: it loads the user, checks the role, and checks the
CSRF token on every unsafe method before the endpoint runs.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import make_transient_to_detached
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kernel import i18n
from kernel.accounts import Role, User, UserSession
from kernel.hooks import hooks_of
from kernel.sqlite_direct import read_now
from kernel.tokens import hash_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ID = 2**31 - 1  # the largest Integer primary key on PostgreSQL
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,20}")  # ASCII digits only ("²".isdigit() is true, int("²") fails)


def form_int(value: object, low: int = -MAX_ID - 1, high: int = MAX_ID) -> int | None:
    """A whole number from a form field, query string or JSON body, or None when it is not one or lies outside
    [low, high]. The default range is PostgreSQL's Integer: a bigger number would make the database refuse
    the query (a 500), where a missing row should be a clear 4xx."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if low <= number <= high else None


def form_id(value: object) -> int | None:
    """A row's id from user input (as path ids are bounded by `guard`): None when it cannot be one, which
    callers treat as not found."""
    return form_int(value, 0, MAX_ID)


@dataclass(frozen=True)
class Access:
    """Who may use a route: `roles` None means everyone, including people not signed in."""

    name: str
    roles: frozenset[str] | None
    # Also let in a door-link session (a volunteer with an event's door link and PIN, no account).
    door_links: bool = False
    # For roles limited to some events: async (request, user) -> None when this user may act on what the
    # request concerns, else the reason to refuse (403); it may raise an HTTPException of its own instead (a
    # 404 where even the thing's existence is not this user's to learn). A domain gives it
    # (events.access.scoped): the kernel knows no events. Asked only once the role is allowed.
    scope: Callable[[Request, User], Awaitable[str | None]] | None = None

    def allows(self, user: User | None) -> bool:
        if self.roles is None:
            return True
        return user is not None and user.role in self.roles


PUBLIC = Access("public", None)
SIGNED_IN = Access("signed in", frozenset(r.value for r in Role))
ADMINS = Access("hub administrators", frozenset({Role.ADMIN.value}))
# Routes written before roles: the hub administrator's alone until they say which event they concern.
ORGANISERS = ADMINS
# Event organisers are let in by role here, and then only to their own events by a scope (events.access).
ORGANISING = Access("hub administrators and event organisers",
                    frozenset({Role.ADMIN.value, Role.ORGANISER.value}))
MONEY = Access("hub administrators, event organisers and treasurers",
               frozenset({Role.ADMIN.value, Role.ORGANISER.value, Role.TREASURER.value}))
DOOR = Access("door staff and organisers",
              frozenset({Role.ADMIN.value, Role.ORGANISER.value, Role.DOOR_STAFF.value}))
DOOR_OR_LINK = Access("door staff, organisers and door links",
                      frozenset({Role.ADMIN.value, Role.ORGANISER.value, Role.DOOR_STAFF.value}), door_links=True)
JUDGES = Access("judges", frozenset({Role.JUDGE.value}))


class CSRFError(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            403,
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        )


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


MAX_FORM_FIELDS = 1000  # as Starlette's form parser


async def urlencoded_form(request: Request, limit: int) -> FormData:
    """An application/x-www-form-urlencoded body as Starlette's request.form() gives it (which then returns
    this one), parsed by the standard library: python-multipart's parser in pure Python costs more than a
    whole sold-out answer's database read. Names and values are decoded as Starlette does (percent escapes
    as UTF-8, other bytes as Latin-1). A body over `limit` bytes is refused (413); so is one over
    MAX_FORM_FIELDS fields (400). `check_csrf` hands the endpoint a FormRequest holding it."""
    if isinstance(request, FormRequest):
        return request.parsed_form
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, "That form is too large to send.")
        chunks.append(chunk)
    try:
        items = parse_qsl(b"".join(chunks).decode("latin-1"), keep_blank_values=True,
                          max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise HTTPException(400, f"Too many fields. Maximum number of fields is {MAX_FORM_FIELDS}.") from None
    return FormData(items)


class FormRequest(Request):
    """The same request (same scope: session, state, path) with its urlencoded body already parsed, so the
    endpoint's `await request.form()` reads it without parsing (or reading) the body again."""

    def __init__(self, request: Request, form: FormData) -> None:
        super().__init__(request.scope, request.receive)
        self.parsed_form = form

    async def form(self, **_options) -> FormData:  # type: ignore[override]
        return self.parsed_form


async def check_csrf(request: Request) -> Request:
    """Refuse (403) a state-changing request without the session's CSRF token, in a header or the form; the
    request to go on with (a FormRequest once a urlencoded form has been parsed for the token)."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        limit = request.app.state.settings.max_image_bytes + 1024
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = await urlencoded_form(request, limit)
            request = FormRequest(request, form)
        elif content_type.startswith("multipart/form-data"):
            form = await request.form(max_part_size=limit)
        else:
            form = None
        if form is not None:
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CSRFError()
    return request


# The account a session belongs to, through its server-side record: one indexed read per request, in the
# database every worker shares, so an ended session (logout, password change, deactivation) is refused at once
# everywhere. Nothing about a signed-in account is cached in a process. A Core SELECT of the account's
# columns: on SQLite it runs at once on a read-only connection (sqlite_direct.read_now), which the door's and
# the judges' busy pages notice; the User made from it is detached, as one loaded in a closed session is.
_SIGNED_IN_USER = (select(*User.__table__.columns).join(UserSession, UserSession.user_id == User.id)
                   .where(UserSession.token_hash == bindparam("token_hash"), User.id == bindparam("uid"),
                          User.is_active.is_(True)))


async def _load_user(request: Request, uid: int, sid: str) -> User | None:
    db = request.app.state.db
    params = {"token_hash": hash_token(sid), "uid": uid}
    rows = read_now(db, _SIGNED_IN_USER, params)
    if rows is None:
        async with db.read() as session:
            rows = (await session.execute(_SIGNED_IN_USER, params)).all()
    if not rows:
        return None
    user = User(**rows[0]._mapping)
    make_transient_to_detached(user)
    return user


def state_of(request: Request, name: str):
    """request.state.<name>, or None when unset (getattr with a default raises and catches inside Starlette:
    measurable on the door's hot path)."""
    return request.scope.get("state", {}).get(name)  # the ASGI scope's state: what request.state wraps


async def current_user(request: Request) -> User | None:
    """The signed-in user, loaded once per request; None when signed out or the session is stale."""
    if "user" in request.scope.get("state", ()):
        return request.state.user
    user = None
    uid = request.session.get("uid") if "session" in request.scope else None
    if uid is not None:
        sid = request.session.get("sid")
        user = await _load_user(request, uid, sid) if isinstance(uid, int) and isinstance(sid, str) else None
        if user is None or request.session.get("sv") != user.session_version:
            request.session.pop("uid", None)
            request.session.pop("sid", None)
            user = None
    request.state.user = user
    if user is not None:
        chosen = i18n.apply_account_preference(request.scope, user.language)
        if chosen is not None:  # chosen with the switch while signed in: kept on the account
            async with request.app.state.db.write() as session:
                await session.execute(update(User).where(User.id == user.id).values(language=chosen))
            user.language = chosen
    return user


async def current_door_link(request: Request):
    """The door link this session signed in with, through its server-side record (checked against the
    database: leaving the door or revoking the link is immediate, for every copy of the cookie)."""
    if "door_link" in request.scope.get("state", ()):
        return request.state.door_link
    link = None
    if "session" in request.scope and request.session.get("door_link"):
        loader = hooks_of(request.app).door_link_loader
        sid = request.session.get("door_sid")
        link = await loader(request, request.session["door_link"], sid) if loader and isinstance(sid, str) else None
        if link is None:
            request.session.pop("door_link", None)
            request.session.pop("door_sid", None)
    request.state.door_link = link
    return link


def begin_session(request: Request, user: User, sid: str) -> None:
    """Sign this browser in as `user` with the server-side session `sid` (kernel.accounts.open_session): a fresh
    cookie session, and so a fresh CSRF token, on every sign-in."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["sid"] = sid
    request.session["sv"] = user.session_version
    request.state.user = user


def flash(request: Request, message: str, category: str = "info") -> None:
    request.session.setdefault("flash", []).append([category, message])
    request.session["flash"] = request.session["flash"]  # mark the session as changed


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths are followed after login."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


Endpoint = Callable[[Request], Awaitable[Response]]


async def refusal(request: Request, access: Access) -> Response | None:
    """None when `access` lets this request in; a redirect to sign in (GET from someone signed out), or raises
    403. `guard` asks it for every endpoint; a route serving several kinds of thing asks it per thing."""
    user = await current_user(request) if "session" in request.scope else None
    if access.allows(user) and user is not None and access.scope is not None:
        reason = await access.scope(request, user)
        if reason is not None:
            raise HTTPException(403, reason)
        return None
    if access.allows(user) or (access.door_links and await current_door_link(request)):
        return None
    if user is None and request.method in SAFE_METHODS:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if user is None:
        raise HTTPException(403, "Please sign in to do this.")
    raise HTTPException(403, "Your account does not have access to this page.")


def guard(access: Access) -> Callable[[Endpoint], Endpoint]:
    """Declare who may use an endpoint; also checks CSRF on POST, PUT, PATCH and DELETE."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            refused = await refusal(request, access)
            if refused is not None:
                return refused
            if request.method not in SAFE_METHODS:
                request = await check_csrf(request)
            if "\x00" in request.scope["path"] or any(
                isinstance(value, int) and not 0 <= value <= MAX_ID for value in request.path_params.values()
            ):  # no row has such a slug or id, and the database would refuse the query (a 500, not a 404)
                raise HTTPException(404)
            if request.method == "HEAD":
                # Starlette adds HEAD to every GET route. Endpoints see it as the GET it stands for, never
                # as a form submission (HEAD skips the CSRF check); the server still sends no body.
                request = Request({**request.scope, "method": "GET"}, request.receive)
            return await endpoint(request)

        guarded.access = access  # type: ignore[attr-defined]
        return guarded

    return decorate


def home_for(request: Request, user: User) -> str:
    """Where `user` lands after signing in: their role's home as a domain gives it (kernel.hooks.role_homes)."""
    return hooks_of(request.app).role_homes.get(user.role, "/account")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
