"""Signed-cookie sessions: the session data in a cookie signed with the secret key, so any worker can read it.

The cookie is what Starlette's SessionMiddleware writes (base64 JSON signed by itsdangerous's
TimestampSigner; the same Set-Cookie attributes), so sessions survive a switch between the two. This is our
own middleware rather than a subclass of Starlette's, because its shortcuts would otherwise depend on that
class's undocumented attributes.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from collections.abc import Callable
from typing import Any, Literal, Self

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Session(dict[str, Any]):
    """One request's session: a dict that notes whether the endpoint read it (Starlette's `request.session`
    calls `mark_accessed`) or changed it, so untouched responses get no Set-Cookie or Vary header.

    Changing a value in place (appending to a list in it) is not noticed: assign it again to save it.
    """

    accessed = False
    modified = False

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def clear(self) -> None:
        self.mark_modified()
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.mark_modified()
        return super().__ior__(other)


class _ClockSigner(TimestampSigner):
    """A TimestampSigner that stamps and checks ages by `clock` (get_timestamp is its documented hook)."""

    def __init__(self, secret_key: str, clock: Callable[[], float]) -> None:
        super().__init__(secret_key)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock())


def _cookie_value(header: bytes, name: bytes) -> bytes | None:
    """The value of cookie `name` in a Cookie header (the last one when repeated, as Starlette reads it).

    Not http.cookies.SimpleCookie: it rejects the whole header when any cookie in it (another site's on the
    same domain) is malformed. Our own values are base64 and signature characters, never quoted.
    """
    found = None
    for chunk in header.split(b";"):
        key, sep, value = chunk.partition(b"=")
        if sep and key.strip() == name:
            found = value.strip()
    return found


class Sessions:
    """Signed-cookie sessions (the cookie and headers of Starlette's SessionMiddleware), with two shortcuts.

    Most requests for public pages have no cookie; for them this skips parsing cookies, and only touches
    the response headers when the endpoint used the session. Signed-in people (door staff scanning, judges
    saving) send the same cookie again and again: a cookie whose signature this process has already
    checked is not checked again (its signing time still is, against max_age). Only cookies that passed
    the check are remembered, and at most MAX_REMEMBERED of them, so forged ones cannot fill the memory;
    the session data is decoded afresh for every request, so no request sees another's changes.

    `clock` gives the time in seconds since the epoch (time.time by default); tests pass one they can move.
    """

    MAX_REMEMBERED = 4096

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        session_cookie: str = "session",
        max_age: int | None = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.max_age = max_age
        self._signer = _ClockSigner(str(secret_key), clock)
        self._name_bytes = session_cookie.encode("latin-1")
        flags = f"httponly; samesite={same_site}" + ("; secure" if https_only else "")
        max_age_attribute = f"Max-Age={max_age}; " if max_age is not None else ""
        self._set_cookie = (f"{session_cookie}=", f"; path={path}; {max_age_attribute}{flags}")
        expired = "expires=Thu, 01 Jan 1970 00:00:00 GMT; "
        self._drop_cookie = f"{session_cookie}=null; path={path}; {expired}{flags}"
        self._checked: dict[bytes, tuple[int, bytes]] = {}  # cookie -> (signed at, base64 JSON)

    def _load(self, cookie: bytes) -> Session | None:
        """The session in a cookie, or None when it is forged, changed, expired or not ours."""
        known = self._checked.get(cookie)
        if known is None:
            try:
                data, signed_at = self._signer.unsign(cookie, max_age=self.max_age, return_timestamp=True)
            except BadSignature:  # SignatureExpired included
                return None
            if len(self._checked) >= self.MAX_REMEMBERED:
                self._checked.clear()  # simplest bound; busy cookies come straight back
            known = self._checked[cookie] = (int(signed_at.timestamp()), data)
        elif self.max_age is not None and not 0 <= self._signer.get_timestamp() - known[0] <= self.max_age:
            del self._checked[cookie]
            return None
        try:
            return Session(json.loads(b64decode(known[1])))
        except ValueError:
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cookie_header = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie_header = value if cookie_header is None else cookie_header + b"; " + value
        cookie = _cookie_value(cookie_header, self._name_bytes) if cookie_header is not None else None
        loaded = self._load(cookie) if cookie else None
        had_session = loaded is not None
        session = scope["session"] = loaded if loaded is not None else Session()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and session.accessed:
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                if "cookie" not in {v.strip().lower() for v in headers.get("vary", "").split(",")}:
                    headers.add_vary_header("Cookie")  # once: kernel.i18n may have named it already
                if session.modified and session:
                    data = self._signer.sign(b64encode(json.dumps(session).encode("utf-8")))
                    headers.append("Set-Cookie", data.decode("utf-8").join(self._set_cookie))
                elif session.modified and had_session:  # signed out: drop the cookie
                    headers.append("Set-Cookie", self._drop_cookie)
            await send(message)

        await self.app(scope, receive, send_wrapper)
