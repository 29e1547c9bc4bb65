"""The `denhub` command: serve, db upgrade, demo, user add, settings, and each domain's own (badges...)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys

from denhub.domains import DOMAINS
from kernel.hooks import Command, CommandContext, Hooks
from kernel.settings import Settings, SettingsError


def _settings() -> Settings:
    from kernel import keyring

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"denhub: {exc}")
    keyring.use(settings)  # commands that make tickets (demo, badges) open the events' sealed keys
    return settings


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    if args.forwarded_allow_ips is not None:  # the workers read their settings from the environment
        os.environ["DENHUB_TRUSTED_PROXIES"] = args.forwarded_allow_ips
    _settings()  # refuse to start with bad settings before forking workers
    # uvicorn's own proxy headers are off: it would believe any local process's X-Forwarded-For. The app
    # believes only DENHUB_TRUSTED_PROXIES (kernel.middleware.trusting_proxies).
    uvicorn.run(
        "denhub.app:app_factory", factory=True, host=args.host, port=args.port, workers=args.workers,
        proxy_headers=False, log_level="info",
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
                return True, len(created.get("events", ()))
        finally:
            await db.dispose()

    loaded, count = asyncio.run(run())
    if loaded:
        print(f"demo programme: {count} events added")
    else:
        print("demo programme: the database already has events; nothing added")
    if settings.env == "development" or loaded:
        print(f"demo organiser login: {demo.DEMO_ORGANISER_EMAIL} / {password} (the hub administrator)")
        print(f"demo event organiser (two events) and treasurer: {demo.DEMO_EVENT_ORGANISER_EMAIL} and "
              f"{demo.DEMO_TREASURER_EMAIL}, same password")
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


def _change_user(email: str, change) -> None:
    """Run `change(session=..., user=...)` on the account with this email, or exit saying there is none."""
    from sqlalchemy import select

    from kernel.accounts import AccountError, User, normalise_email
    from kernel.db import Database

    settings = _settings()

    async def run() -> bool:
        db = Database(settings.effective_database_url)
        try:
            async with db.write() as session:
                user = await session.scalar(select(User).where(User.email == normalise_email(email)))
                if user is not None:
                    await change(session=session, user=user)
                return user is not None
        finally:
            await db.dispose()

    try:
        found = asyncio.run(run())
    except AccountError as exc:
        sys.exit(f"denhub: {exc}")
    if not found:
        sys.exit(f"denhub: no account has the email {email}")


def cmd_user_deactivate(args: argparse.Namespace) -> None:
    from kernel.accounts import deactivate_user

    _change_user(args.email, deactivate_user)
    print(f"deactivated {args.email}: it can no longer sign in, and its sessions have ended")


def cmd_user_password(args: argparse.Namespace) -> None:
    from kernel.accounts import set_password

    password = args.password or getpass.getpass("New password (10+ characters): ")

    async def change(*, session, user) -> None:
        await set_password(session=session, user=user, password=password)

    _change_user(args.email, change)
    print(f"password changed for {args.email}: its other sessions have ended")


def _domain_command(command: Command):
    def run(args: argparse.Namespace) -> None:
        command.run(args, CommandContext(settings=_settings(), hooks=Hooks.collect(DOMAINS)))

    return run


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
    serve.add_argument("--forwarded-allow-ips", default=None,
                       help="proxies trusted for X-Forwarded-For (the client address rate limits count by); "
                            "sets DENHUB_TRUSTED_PROXIES, which is empty (no proxy trusted) by default")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database commands").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", help="load the demo programme and organiser")
    demo.add_argument("--if-empty", action="store_true", help="only when there are no events yet")
    demo.set_defaults(func=cmd_demo)

    user = sub.add_parser("user", help="accounts").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add an account: admin (hub administrator), organiser (event organiser: "
                                      "the events given to them), treasurer, door_staff or judge")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=["admin", "organiser", "treasurer", "door_staff", "judge"])
    add.add_argument("--name", default="")
    add.add_argument("--password", help="omit to be asked (keeps it out of shell history)")
    add.set_defaults(func=cmd_user_add)
    deactivate = user.add_parser("deactivate", help="stop an account signing in and end its sessions")
    deactivate.add_argument("email")
    deactivate.set_defaults(func=cmd_user_deactivate)
    password = user.add_parser("password", help="set an account's password and end its sessions")
    password.add_argument("email")
    password.add_argument("--password", help="omit to be asked (keeps it out of shell history)")
    password.set_defaults(func=cmd_user_password)

    sub.add_parser("settings", help="list settings and their current values").set_defaults(func=cmd_settings)

    for domain in DOMAINS:  # each domain's own commands (kernel.hooks.Command), e.g. ticketing's `badges`
        for command in domain.commands:
            parser_of_command = sub.add_parser(command.name, help=command.help)
            command.configure(parser_of_command)
            parser_of_command.set_defaults(func=_domain_command(command))

    args = parser.parse_args(argv)
    if args.command == "serve" and args.workers > 1:
        settings = _settings()
        if settings.effective_database_url.startswith("sqlite"):
            sys.exit("denhub: several workers need PostgreSQL (DENHUB_DATABASE_URL=postgresql+asyncpg://...)")
    args.func(args)


if __name__ == "__main__":
    main()
