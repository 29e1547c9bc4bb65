"""The named extension points, and the domain contract.

A domain (events, ticketing, judging, ...) says in one place, its `domain.py`, what it brings: a `Domain`. The
assembly (denhub.app) lists the domains, mounts their routes, starts their jobs and collects their contributions
into one `Hooks` object, kept on `app.state.hooks`. Nothing registers itself at import time: a contribution
exists only because a listed domain names it.

Extension points (what a contribution receives -> what it returns). Any provider may decline by returning None,
as pretix's event plugin signals do for events they do not concern:

event_page_panels   async (request, event) -> Panel | None
                    A part of the public event page: `template` is included in order, `context` is merged into
                    the page's context (ticketing's booking panel).
ticket_page_panels  async (request, ticket, event) -> Panel | None
                    A part of a ticket's own page (judging's people's-choice ballot).
badge_roles         BadgeRole(role, label, provider, by_default); provider async (session, event) ->
                    list[BadgeData] | None. None: the role does not concern this event and is not offered
                    (judging's judges and entrants, only where the event has a competition).
mail_bodies         {name: async (db, args) -> (text, html)}: an email's text made when it is sent, from the
                    data as it is then (kernel.mail.enqueue with a body {"provider": name, "args": {...}}).
mail_attachments    {name: async (db, args) -> (filename, mimetype, bytes)}: an attachment made when the email
                    is sent (kernel.mail.enqueue with attachments [{"provider": name, "args": {...}}]).
documents           DocumentProvider(name, access, make); make async (request, ref: str) -> Document |
                    None. One route, /documents/{name}/{ref}, checks `access` and serves what `make` returns
                    (None: 404).
jobs                {name: (JobContext) -> Job}: background work started by the lifespan and stopped with it
                    (kept as app.state.<name>).
menu                MenuEntry(label, path, roles): the main navigation's links for signed-in people.
role_homes          {role: path}: where a person of that role lands after signing in.
door_link_loader    async (request, link_id, sid) -> link | None: the door link a session signed in with, `sid`
                    naming its server-side record (the kernel's DOOR_OR_LINK access asks it; None when the
                    link is revoked or that session has left the door). At most one domain gives it.
event_cancelled     async (*, session, event, base_url) -> None: called in the transaction that cancels an
                    event, before it commits (ticketing cancels the bookings, closes the waiting lists and
                    emails each booker and each person waiting once).
organiser_event_links
                    (event) -> Sequence[Link] | None: an event's organiser pages in other domains, shown as
                    tabs on its edit page and as links in the Manage events list (ticketing's ticket types,
                    attendees, door, badges).
event_card_facts    async (session, events) -> Mapping[event_id, Sequence[CardFact]]: what a listing card
                    says about each event beyond the event's own fields, read once for the whole listing
                    (ticketing's price, "Sold out" and "Few left"). An event it has nothing for is left out.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple, Protocol

from starlette.routing import BaseRoute


class Panel(NamedTuple):
    template: str
    context: Mapping[str, Any]


class Document(NamedTuple):
    filename: str
    mimetype: str
    content: bytes


@dataclass(frozen=True)
class BadgeRole:
    role: str
    label: str
    provider: Callable[..., Awaitable[list | None]]
    by_default: bool = True  # printed when nobody asks for particular roles


@dataclass(frozen=True)
class DocumentProvider:
    name: str
    access: Any  # a kernel.auth.Access
    make: Callable[..., Awaitable[Document | None]]


@dataclass(frozen=True)
class MenuEntry:
    label: str
    path: str
    roles: frozenset[str]


class Link(NamedTuple):
    """A page of another domain for one event; `roles` None: everyone who may open the event's organiser pages."""

    label: str
    path: str
    roles: frozenset[str] | None = None


class CardFact(NamedTuple):
    """One short fact on a listing card; `kind` names it for styling and tests ("price", "availability")."""

    text: str
    kind: str


@dataclass(frozen=True)
class JobContext:
    db: Any  # kernel.db.Database
    settings: Any  # kernel.settings.Settings
    wake_mail: Callable[[], None]


class Job(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class CommandContext:
    settings: Any  # kernel.settings.Settings, already validated
    hooks: Hooks


@dataclass(frozen=True)
class Command:
    """A `denhub` sub-command: `configure` adds its arguments, `run(args, context)` does it (exits with a message
    on failure, as the other commands do)."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, CommandContext], None]


@dataclass(frozen=True)
class Domain:
    """What one domain brings. Routes are mounted as given (the domain chooses its own prefix, for example a
    Mount("/judging")); `organiser_routes` under /organiser; `first_routes` before every other route (the
    busiest paths: Starlette tries routes in order)."""

    name: str
    models: Sequence[ModuleType] = ()
    routes: Sequence[BaseRoute] = ()
    organiser_routes: Sequence[BaseRoute] = ()
    first_routes: Sequence[BaseRoute] = ()
    commands: Sequence[Command] = ()
    jobs: Mapping[str, Callable[[JobContext], Job]] = field(default_factory=dict)  # kept as app.state.<name>
    state: Callable[[Any], Mapping[str, Any]] | None = None  # (settings) -> what it keeps on app.state
    demo: Callable[..., Awaitable[Any]] | None = None  # async (*, session, now) -> None, in domain order
    event_page_panels: Sequence[Callable[..., Awaitable[Panel | None]]] = ()
    ticket_page_panels: Sequence[Callable[..., Awaitable[Panel | None]]] = ()
    badge_roles: Sequence[BadgeRole] = ()
    mail_bodies: Mapping[str, Callable] = field(default_factory=dict)
    mail_attachments: Mapping[str, Callable] = field(default_factory=dict)
    documents: Sequence[DocumentProvider] = ()
    menu: Sequence[MenuEntry] = ()
    role_homes: Mapping[str, str] = field(default_factory=dict)
    door_link_loader: Callable[..., Awaitable[Any]] | None = None
    event_cancelled: Sequence[Callable[..., Awaitable[None]]] = ()
    organiser_event_links: Sequence[Callable[[Any], Sequence[Link] | None]] = ()
    event_card_facts: Sequence[Callable[..., Awaitable[Mapping[int, Sequence[CardFact]]]]] = ()


class HookError(ValueError):
    """Two domains claim what only one may have (a badge role, a mail provider, a document name...)."""


def _merge_unique(what: str, items: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, value in items:
        if key in merged:
            raise HookError(f"two domains give the {what} {key!r}")
        merged[key] = value
    return merged


@dataclass(frozen=True)
class Hooks:
    """Every listed domain's contributions, in the order the domains are listed."""

    domains: tuple[Domain, ...] = ()
    event_page_panels: tuple = ()
    ticket_page_panels: tuple = ()
    badge_roles: Mapping[str, BadgeRole] = field(default_factory=dict)
    mail_bodies: Mapping[str, Callable] = field(default_factory=dict)
    mail_attachments: Mapping[str, Callable] = field(default_factory=dict)
    documents: Mapping[str, DocumentProvider] = field(default_factory=dict)
    menu: tuple[MenuEntry, ...] = ()
    role_homes: Mapping[str, str] = field(default_factory=dict)
    door_link_loader: Callable[..., Awaitable[Any]] | None = None
    event_cancelled: tuple = ()
    organiser_event_links: tuple = ()
    event_card_facts: tuple = ()

    @classmethod
    def collect(cls, domains: Sequence[Domain]) -> Hooks:
        names = [d.name for d in domains]
        if len(set(names)) != len(names):
            raise HookError(f"a domain is listed twice: {names}")
        loaders = [d.door_link_loader for d in domains if d.door_link_loader is not None]
        if len(loaders) > 1:
            raise HookError("more than one domain gives the door link loader")
        return cls(
            domains=tuple(domains),
            event_page_panels=tuple(p for d in domains for p in d.event_page_panels),
            ticket_page_panels=tuple(p for d in domains for p in d.ticket_page_panels),
            badge_roles=_merge_unique("badge role", [(r.role, r) for d in domains for r in d.badge_roles]),
            mail_bodies=_merge_unique("mail body", [i for d in domains for i in d.mail_bodies.items()]),
            mail_attachments=_merge_unique("mail attachment",
                                           [i for d in domains for i in d.mail_attachments.items()]),
            documents=_merge_unique("document", [(p.name, p) for d in domains for p in d.documents]),
            menu=tuple(e for d in domains for e in d.menu),
            role_homes=_merge_unique("home of role", [i for d in domains for i in d.role_homes.items()]),
            door_link_loader=loaders[0] if loaders else None,
            event_cancelled=tuple(r for d in domains for r in d.event_cancelled),
            organiser_event_links=tuple(p for d in domains for p in d.organiser_event_links),
            event_card_facts=tuple(p for d in domains for p in d.event_card_facts),
        )

    def menu_for(self, role: str | None) -> list[MenuEntry]:
        return [entry for entry in self.menu if role in entry.roles]

    def event_links(self, event, role: str | None = None) -> list[Link]:
        """Every domain's organiser pages for `event` that `role` may open, in domain order."""
        return [link for provider in self.organiser_event_links for link in provider(event) or ()
                if link.roles is None or role in link.roles]

    async def card_facts(self, session, events: Sequence[Any]) -> dict[int, list[CardFact]]:
        """{event id: its listing card's facts from every domain}; events nobody has a fact for are left out."""
        facts: dict[int, list[CardFact]] = {}
        for provider in self.event_card_facts:
            for event_id, found in (await provider(session, events)).items():
                facts.setdefault(event_id, []).extend(found)
        return facts

    async def panels(self, points: Sequence[Callable[..., Awaitable[Panel | None]]], *args) -> list[Panel]:
        """Ask each provider of an extension point in turn; the panels of those that did not decline."""
        found = []
        for provider in points:
            panel = await provider(*args)
            if panel is not None:
                found.append(panel)
        return found


EMPTY = Hooks()


def hooks_of(app) -> Hooks:
    """The app's hooks (none for an app built without domains, as some kernel tests do, or no app at all)."""
    return getattr(getattr(app, "state", None), "hooks", EMPTY)
