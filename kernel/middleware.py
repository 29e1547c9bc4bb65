"""Security headers on every response (pure ASGI)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (b"content-security-policy",
     # 'wasm-unsafe-eval' lets the door scanner compile its vendored QR decoder (static/vendor/zxing-wasm);
     # it allows WebAssembly only, not eval() of JavaScript.
     (b"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
     b"media-src 'self' blob:; object-src 'none'; "
     b"base-uri 'self'; form-action 'self'; frame-ancestors 'none'")),
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
