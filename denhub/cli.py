"""The `denhub` command: serve, db upgrade, demo, user add, badges, settings."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from pathlib import Path

from kernel.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"denhub: {exc}")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    _settings()  # refuse to start with bad settings before forking workers
    uvicorn.run(
        "denhub.app:app_factory", factory=True, host=args.host, port=args.port, workers=args.workers,
        proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips, log_level="info",
    )


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from kernel.migrate import upgrade

    settings = _settings()
    upgrade(settings.effective_database_url, args.revision)
    print(f"database is at revision {args.revision}")


def cmd_demo(args: argparse.Namespace) -> None:
    from denhub import demo
    from kernel.db import Database, utcnow

    settings = _settings()
    password = demo.DEMO_ORGANISER_PASSWORD if settings.env == "development" else secrets.token_urlsafe(12)

    async def run() -> tuple[bool, int]:
        db = Database(settings.effective_database_url)
        try:
            async with db.write() as session:
                if args.if_empty and not await demo.is_empty(session=session):
                    return False, 0
                created = await demo.load(session=session, now=utcnow(), organiser_password=password)
                return True, len(created)
        finally:
            await db.dispose()

    loaded, count = asyncio.run(run())
    if loaded:
        print(f"demo programme: {count} events added")
    else:
        print("demo programme: the database already has events; nothing added")
    if settings.env == "development" or loaded:
        print(f"demo organiser login: {demo.DEMO_ORGANISER_EMAIL} / {password}")
        print(f"sign in at {settings.base_url}/login")


def cmd_user_add(args: argparse.Namespace) -> None:
    from kernel.accounts import AccountError, create_user
    from kernel.db import Database

    settings = _settings()
    password = args.password or getpass.getpass("Password (10+ characters): ")

    async def run() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.write() as session:
                await create_user(session=session, email=args.email, name=args.name or args.email,
                                  role=args.role, password=password)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except AccountError as exc:
        sys.exit(f"denhub: {exc}")
    print(f"added {args.role} {args.email}")


def cmd_badges(args: argparse.Namespace) -> None:
    from kernel.badges import LAYOUTS, page_count, render_badges
    from kernel.db import Database
    from ticketing.badges import PROVIDERS, event_badges, find_event, find_ticket_type

    settings = _settings()
    unknown = [role for role in args.role or () if role not in PROVIDERS]
    if unknown:
        sys.exit(f"denhub: no such role {', '.join(unknown)}; roles are {', '.join(PROVIDERS)}")

    async def load():
        db = Database(settings.effective_database_url)
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
                return event, await event_badges(session=session, event=event, roles=args.role or (),
                                                 ticket_type_id=type_id)
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


def cmd_settings(args: argparse.Namespace) -> None:
    for name, value, meaning in _settings().describe():
        print(f"{name:32} {value:40} {meaning}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="denhub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL for more than 1)")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="proxies trusted for X-Forwarded-For (client address for rate limits)")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database commands").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", help="load the demo programme and organiser")
    demo.add_argument("--if-empty", action="store_true", help="only when there are no events yet")
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="accounts").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add an organiser, door staff or judge account")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=["organiser", "door_staff", "judge"])
    add.add_argument("--name", default="")
    add.add_argument("--password", help="omit to be asked (keeps it out of shell history)")
    add.set_defaults(func=cmd_user_add)

    badges = sub.add_parser("badges", help="print an event's name badges to a PDF")
    badges.add_argument("event", help="the event's slug or number")
    badges.add_argument("--out", required=True, help="the PDF file to write")
    badges.add_argument("--layout", default="sheet", choices=["sheet", "a6", "label"],
                        help="sheet: A4, 10 of 90 x 55 mm; a6: A4, 4 of A6; label: one 62 x 100 mm label "
                             "a page")
    badges.add_argument("--role", action="append",
                        help="attendee, volunteer, organiser, judge or entrant; repeat for several "
                             "(default: everyone at the event, organisers not included)")
    badges.add_argument("--type", help="only attendees of this ticket type (its number or name)")
    badges.set_defaults(func=cmd_badges)

    sub.add_parser("settings", help="list settings and their current values").set_defaults(func=cmd_settings)

    args = parser.parse_args(argv)
    if args.command == "serve" and args.workers > 1:
        settings = _settings()
        if settings.effective_database_url.startswith("sqlite"):
            sys.exit("denhub: several workers need PostgreSQL (DENHUB_DATABASE_URL=postgresql+asyncpg://...)")
    args.func(args)


if __name__ == "__main__":
    main()
