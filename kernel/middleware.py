"""Security headers on every response, and which proxies' X-Forwarded-For is believed (pure ASGI)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

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
    # The door scanner needs this site's camera; nothing here needs any other powerful feature.
    (b"permissions-policy",
     (b"camera=(self), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
      b"midi=(), magnetometer=(), gyroscope=(), accelerometer=(), browsing-topics=()")),
]
# Only when served over https (a browser ignores it over http, and it would pin a plain-http site to https).
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware) so the cached listing stays fast. `https` adds Strict-Transport-Security."""

    def __init__(self, app: ASGIApp, https: bool = False):
        self.app = app
        self.headers = SECURITY_HEADERS + ([HSTS] if https else [])
        self.names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if self.names.isdisjoint([name for name, _ in headers]):
                    headers += self.headers
                else:  # a response that sets its own (say, a looser CSP) keeps it
                    present = {name for name, _ in headers}
                    headers += [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def trusting_proxies(app: ASGIApp, trusted_proxies: str) -> ASGIApp:
    """`app` taking the client address (and scheme) from X-Forwarded-For (-Proto) when, and only when, the
    connection comes from one of `trusted_proxies` (comma-separated addresses or networks, "*" for any);
    empty trusts none, so no one can choose the address rate limits count by sending the header."""
    trusted = [item.strip() for item in trusted_proxies.split(",") if item.strip()]
    return ProxyHeadersMiddleware(app, trusted_hosts=trusted) if trusted else app
