"""Ticketing's `denhub` commands: `denhub badges EVENT --out badges.pdf`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from kernel.badges import LAYOUTS, page_count, render_badges
from kernel.db import Database
from kernel.hooks import Command, CommandContext
from ticketing import keys
from ticketing.badges import event_badges, find_event, find_ticket_type


def configure_badges(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event", help="the event's slug or number")
    parser.add_argument("--out", required=True, help="the PDF file to write")
    parser.add_argument("--layout", default="sheet", choices=list(LAYOUTS),
                        help="sheet: A4, 10 of 90 x 55 mm; a6: A4, 4 of A6; label: one 62 x 100 mm label a page")
    parser.add_argument("--role", action="append",
                        help="attendee, volunteer, organiser, or a role another domain adds (judge, entrant); "
                             "repeat for several (default: everyone at the event, organisers not included)")
    parser.add_argument("--type", help="only attendees of this ticket type (its number or name)")


def run_badges(args: argparse.Namespace, context: CommandContext) -> None:
    roles = context.hooks.badge_roles
    unknown = [role for role in args.role or () if role not in roles]
    if unknown:
        sys.exit(f"denhub: no such role {', '.join(unknown)}; roles are {', '.join(roles)}")

    async def load():
        db = Database(context.settings.effective_database_url)
        try:
            async with db.read() as session:
                event = await find_event(session=session, ref=args.event)
                if event is None:
                    sys.exit(f"denhub: there is no event {args.event!r} (give its slug or number)")
                type_id = None
                if args.type:
                    ticket_type = await find_ticket_type(session=session, event=event, ref=args.type)
                    if ticket_type is None:
                        sys.exit(f"denhub: {event.title} has no ticket type {args.type!r}")
                    type_id = ticket_type.id
                return event, await event_badges(session=session, event=event, badge_roles=roles,
                                                 roles=args.role or (), ticket_type_id=type_id)
        finally:
            await db.dispose()

    event, badges = asyncio.run(load())
    if not badges:
        if args.role or args.type:
            sys.exit(f"denhub: nothing to print: nobody at {event.title} matches --role / --type")
        sys.exit(f"denhub: nothing to print: {event.title} has no attendees, door volunteers, judges or "
                 "entrants yet")

    def progress(done: int, total: int) -> None:
        last = done >= total or not sys.stderr.isatty()
        print(f"rendering badges {done}/{total}", end="\n" if last else "\r", file=sys.stderr, flush=True)

    progress(0, len(badges))
    pdf = render_badges(badges, args.layout, title=f"Badges: {event.title}", progress=progress)
    out = Path(args.out)
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(pdf)
    partial.replace(out)
    pages = page_count(len(badges), LAYOUTS[args.layout])
    plural = "s" if len(badges) != 1 else ""
    print(f"{len(badges)} badge{plural} on {pages} page{'s' if pages != 1 else ''}: {out}")


COMMANDS = (Command("badges", "print an event's name badges to a PDF", configure_badges, run_badges), keys.COMMAND)
