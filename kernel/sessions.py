"""Signed-cookie sessions."""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode

from itsdangerous.exc import BadSignature
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
