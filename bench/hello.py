"""The yardstick: a bare Starlette app with one route, served exactly like denhub (uvicorn, 1 worker).

Ratios against it cancel out the machine, the server and the load generator, leaving the app's own cost.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def app_factory() -> Starlette:
    """Entry point for `uvicorn --factory bench.hello:app_factory`."""
    return Starlette(routes=[Route("/", hello, methods=["GET"])])
