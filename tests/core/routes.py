"""Walk every route of the app: used by the permission and CSRF tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kernel.auth import Access

PARAM_RE = re.compile(r"{(\w+)(?::(\w+))?}")


@dataclass(frozen=True)
class Endpoint:
    path: str  # the template, e.g. /events/{slug}
    methods: tuple[str, ...]
    endpoint: object

    @property
    def access(self) -> Access | None:
        return getattr(self.endpoint, "access", None)

    def url(self, values: dict[str, object]) -> str:
        """The path with its parameters filled from `values` (unknown ints 1, unknown strings x)."""

        def fill(match: re.Match) -> str:
            name, convertor = match.group(1), match.group(2)
            if name in values:
                return str(values[name])
            return "1" if convertor == "int" else "x"

        return PARAM_RE.sub(fill, self.path)


def walk(routes, prefix: str = "") -> tuple[list[Endpoint], list[tuple[str, object]]]:
    """(every Route, recursively through Mounts; every Mount that serves an app rather than routes)."""
    endpoints: list[Endpoint] = []
    apps: list[tuple[str, object]] = []
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                inner, inner_apps = walk(route.routes, prefix + route.path)
                endpoints += inner
                apps += inner_apps
            else:
                apps.append((prefix + route.path, route.app))
        elif isinstance(route, Route):
            endpoints.append(
                Endpoint(prefix + route.path, tuple(sorted(route.methods or ())), route.endpoint)
            )
        else:  # a WebSocketRoute or Host would need its own permission check: make this test say so
            raise TypeError(f"route type not covered by the permission walk: {route!r}")
    return endpoints, apps


def unguarded(routes) -> list[str]:
    """Paths whose endpoint was not wrapped by kernel.auth.guard, plus mounted apps that are not static."""
    endpoints, apps = walk(routes)
    missing = [e.path for e in endpoints if not isinstance(e.access, Access)]
    missing += [path for path, app in apps if not isinstance(app, StaticFiles)]
    return missing
