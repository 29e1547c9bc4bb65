"""What the ticketing domain brings to the app (kernel.hooks.Domain): ticket types, bookings, tickets, the
waiting list, the door, badges."""

from __future__ import annotations

from starlette.routing import Mount

from kernel.accounts import Role
from kernel.hooks import Domain, MenuEntry
from ticketing import (
    badges,
    bookings,
    commands,
    demo,
    door,
    door_desk,
    door_manage,
    emails,
    event_cancel,
    listing,
    manage,
    models,
    notices,
    routes,
    tickets,
)
from ticketing.jobs import WaitlistExpirer
from ticketing.keys import KeySealer

DOMAIN = Domain(
    name="ticketing",
    models=(models,),
    first_routes=(routes.booking_route,),  # a booking rush's POSTs
    routes=(
        Mount("/door", routes=[*door.routes, *door_desk.routes]),
        Mount("/events", routes=[*routes.event_routes, *tickets.event_routes]),
        *bookings.routes,
        *tickets.routes,
    ),
    organiser_routes=(*manage.routes, *door_manage.routes),
    commands=commands.COMMANDS,
    jobs={"waitlist_expirer": lambda ctx: WaitlistExpirer(ctx.db, ctx.settings, on_mail=ctx.wake_mail),
          "key_sealer": lambda ctx: KeySealer(ctx.db)},
    demo=demo.load,
    event_page_panels=(routes.registration_panel,),
    badge_roles=badges.ROLES,
    documents=bookings.DOCUMENTS,
    mail_bodies={emails.CONFIRMATION_PROVIDER: emails.confirmation_body,
                 notices.CANCELLATION_PROVIDER: notices.cancellation_body},
    mail_attachments={emails.PDF_PROVIDER: emails.pdf_attachment, emails.ICS_PROVIDER: emails.ics_attachment},
    menu=(MenuEntry("Orders and payments", "/organiser/payments",
                    frozenset({Role.ADMIN.value, Role.TREASURER.value})),),
    role_homes={Role.DOOR_STAFF.value: "/door/", Role.TREASURER.value: "/organiser/payments"},
    door_link_loader=door.load_door_link,
    event_cancelled=(event_cancel.cancel_bookings,),
    organiser_event_links=(listing.organiser_links,),
    event_card_facts=(listing.card_facts,),
)
