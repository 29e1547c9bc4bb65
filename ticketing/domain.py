"""What the ticketing domain brings to the app (kernel.hooks.Domain): ticket types, bookings, tickets, the
waiting list, the door, badges."""

from __future__ import annotations

from starlette.routing import Mount

from kernel.accounts import Role
from kernel.hooks import Domain
from ticketing import (
    badges,
    commands,
    demo,
    door,
    door_manage,
    emails,
    listing,
    manage,
    models,
    routes,
    tickets,
)
from ticketing.jobs import WaitlistExpirer

DOMAIN = Domain(
    name="ticketing",
    models=(models,),
    first_routes=(routes.booking_route,),  # a booking rush's POSTs
    routes=(
        Mount("/door", routes=door.routes),
        Mount("/events", routes=[*routes.event_routes, *tickets.event_routes]),
        *tickets.routes,
    ),
    organiser_routes=(*manage.routes, *door_manage.routes),
    commands=commands.COMMANDS,
    jobs={"waitlist_expirer": lambda ctx: WaitlistExpirer(ctx.db, ctx.settings, on_mail=ctx.wake_mail)},
    demo=demo.load,
    event_page_panels=(routes.registration_panel,),
    badge_roles=badges.ROLES,
    documents=tickets.DOCUMENTS,
    mail_bodies={emails.CONFIRMATION_PROVIDER: emails.confirmation_body},
    mail_attachments={emails.PDF_PROVIDER: emails.pdf_attachment, emails.ICS_PROVIDER: emails.ics_attachment},
    role_homes={Role.DOOR_STAFF.value: "/door/"},
    door_link_loader=door.load_door_link,
    organiser_event_links=(listing.organiser_links,),
    event_card_facts=(listing.card_facts,),
)
