"""What the events domain brings to the app (kernel.hooks.Domain): listings, event pages, calendars."""

from __future__ import annotations

from starlette.routing import Mount, Route

from events import demo, manage, models, organisers, routes
from kernel.accounts import Role
from kernel.hooks import Domain, MenuEntry

DOMAIN = Domain(
    name="events",
    models=(models,),
    first_routes=(Route("/", routes.listing, methods=["GET"], name="listing"),),  # the busiest page
    routes=(Mount("/events", routes=routes.routes),),
    organiser_routes=(*manage.routes, *organisers.routes),
    state=lambda settings: {"listing_cache": routes.ListingCache(settings.listing_cache_seconds)},
    demo=demo.load,
    menu=(MenuEntry("Manage events", "/organiser/events", frozenset({Role.ADMIN.value, Role.ORGANISER.value})),),
    role_homes={Role.ADMIN.value: "/organiser/events", Role.ORGANISER.value: "/organiser/events"},
)
