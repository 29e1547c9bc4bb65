"""The domain contract (kernel.hooks): a domain plugs in by being listed, with no edit to the kernel or the other
domains; the extension points refuse two domains claiming the same thing."""

from __future__ import annotations

import dataclasses
import html

import pytest

from denhub import demo
from denhub.app import create_app
from denhub.domains import DOMAINS
from kernel.accounts import Role
from kernel.db import utcnow
from kernel.hooks import BadgeRole, Domain, HookError, Hooks
from tests.core.helpers import new_client, sign_in
from tests.toy_domain.domain import DOMAIN as TOY
from tests.toy_domain.models import ToyBase


async def test_a_new_domain_plugs_in_by_being_listed(settings):
    app = create_app(settings, domains=[*DOMAINS, TOY])
    async with app.router.lifespan_context(app):
        db = app.state.db
        async with db.engine.begin() as connection:  # a real domain's table comes with its migration
            await connection.run_sync(ToyBase.metadata.create_all)
        try:
            festival = await _walk_through_the_toy(app, db)
        finally:  # the PostgreSQL database is shared by the run's tests: leave it as the migrations made it
            async with db.engine.begin() as connection:
                await connection.run_sync(ToyBase.metadata.drop_all)

    plain = create_app(settings)  # the app without it knows nothing of it
    async with plain.router.lifespan_context(plain), new_client(plain) as client:
        assert (await client.get(f"/stewards/{festival.id}")).status_code == 404
        assert "steward" not in plain.state.hooks.badge_roles


async def _walk_through_the_toy(app, db):
    """Its demo row, its page, its badges and its menu entry, in the app that lists it."""
    async with db.write() as session:  # its demo row, after the events it hangs on
        created = await demo.load(session=session, now=utcnow(), organiser_password="organiser-password-1",
                                  domains=app.state.hooks.domains)
    assert [s.name for s in created["toy"]] == ["Shahida Steward"] and created["events"]
    festival = next(e for e in created["events"] if e.slug.startswith("bangla-month"))
    workshop = next(e for e in created["events"] if e.slug.startswith("social-enterprise"))

    async with new_client(app) as client:
        page = await client.get(f"/stewards/{festival.id}")  # its route, under its own prefix
        assert page.status_code == 200 and page.text == "Shahida Steward"
        await sign_in(client, db, Role.ADMIN)
        badges = html.unescape((await client.get(f"/organiser/events/{festival.id}/badges")).text)
        assert "Stewards (1)" in badges and "Attendees (0)" in badges  # its badge role beside ticketing's
        pdf = await client.get(f"/organiser/events/{festival.id}/badges.pdf", params={"role": "steward"})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        other = html.unescape((await client.get(f"/organiser/events/{workshop.id}/badges")).text)
        assert "Stewards (" not in other and "Attendees (0)" in other  # declined: no stewards there
        assert '<a href="/stewards/1">Stewards</a>' in (await client.get("/organiser/events")).text
    return festival


def test_two_domains_cannot_claim_the_same_thing():
    with pytest.raises(HookError, match="listed twice"):
        Hooks.collect([TOY, TOY])
    impostor = dataclasses.replace(TOY, name="impostor", badge_roles=(BadgeRole("steward", "Other", None),))
    with pytest.raises(HookError, match="badge role 'steward'"):
        Hooks.collect([TOY, impostor])
    with pytest.raises(HookError, match="door link loader"):
        Hooks.collect([*DOMAINS, Domain(name="door2", door_link_loader=DOMAINS[1].door_link_loader)])


def test_the_app_lists_every_domain_once_from_the_ground_up():
    names = [domain.name for domain in DOMAINS]
    assert names == ["events", "ticketing", "judging", "accounts"]
    hooks = Hooks.collect(DOMAINS)
    assert list(hooks.badge_roles) == ["attendee", "volunteer", "organiser", "judge", "entrant"]
    assert hooks.door_link_loader is not None and hooks.role_homes[Role.DOOR_STAFF.value] == "/door/"
