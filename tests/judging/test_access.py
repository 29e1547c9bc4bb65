"""Who may use each judging route, checked with real data: organisers run competitions, judges see only
their own competitions and sheets, the public applies, signs in by link and reads released results."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from sqlalchemy import func, select

from judging.models import AuditEntry, Conflict, Score, ScoreSheet
from judging.pages import COMPETITION_ORGANISERS
from kernel.accounts import Role
from kernel.auth import JUDGES, ORGANISING, PUBLIC
from tests.conftest import csrf_for
from tests.core.helpers import new_client, sign_in
from tests.core.routes import walk
from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, score

PUBLIC_PATHS = {"/judging/apply/{competition_id:int}", "/judging/magic/{token}", "/judging/results/{competition_id:int}",
                "/judging/vote/{competition_id:int}", "/judging/vote/{competition_id:int}/thanks",
                "/judging/sw.js"}  # the scoring page's service worker: a static script


def _judging_endpoints(app):
    endpoints, _ = walk(app.routes)
    return [e for e in endpoints if e.path.startswith(("/judging", "/organiser/competitions"))]


def test_every_judging_route_declares_the_right_access(app):
    endpoints = _judging_endpoints(app)
    assert len(endpoints) >= 25
    for e in endpoints:
        if e.path in ("/organiser/competitions", "/organiser/competitions/new"):
            expected = ORGANISING  # lists and creates only what the event organiser's events allow
        elif e.path.startswith("/organiser/"):
            expected = COMPETITION_ORGANISERS
        elif e.path in PUBLIC_PATHS:
            expected = PUBLIC
        else:
            expected = JUDGES
        assert e.access is expected, (e.path, e.access)


async def _world(db):
    async with db.write() as session:
        mine = await make_competition(session)
        theirs = await make_competition(session)
        entrant = await make_entrant(session, mine)
        foreign_entrant = await make_entrant(session, theirs)
        judge = await make_judge(session, mine)
        other_judge = await make_judge(session, theirs)
        sheet = await score(session, theirs, other_judge, foreign_entrant, 5)
        values = {"competition_id": mine.id, "entrant_id": entrant.id, "sheet_id": sheet.id,
                  "assignment_id": 1, "token": "x"}
    return mine, theirs, entrant, foreign_entrant, judge, other_judge, sheet, values


async def test_every_judging_route_for_every_role(app, db):
    """Anonymous GETs go to the login page, other refusals are 403, and nothing allowed fails with a 5xx."""
    mine, *_, values = await _world(db)
    clients = {}
    for role in (None, Role.ADMIN, Role.DOOR_STAFF, Role.JUDGE):
        client = new_client(app)
        await client.__aenter__()
        if role is not None:
            user = await sign_in(client, db, role)
            if role == Role.JUDGE:
                async with db.write() as session:
                    from judging.models import JudgeAssignment

                    session.add(JudgeAssignment(competition_id=mine.id, user_id=user.id, is_chair=False))
        clients[role] = (client, await csrf_for(client))
    problems = []
    try:
        for endpoint in _judging_endpoints(app):
            url = endpoint.url(values)
            for method in endpoint.methods:
                for role, (client, token) in clients.items():
                    kwargs = {"data": {"csrf_token": token}} if method == "POST" else {}
                    response = await client.request(method, url, **kwargs)
                    allowed = endpoint.access.allows(None if role is None else type("U", (), {"role": role.value}))
                    where = f"{method} {url} as {role}: {response.status_code}"
                    if response.status_code >= 500:
                        problems.append(where + " (server error)")
                    elif allowed:
                        if response.status_code == 403 or response.headers.get("location", "").startswith("/login"):
                            problems.append(where + ", expected to be allowed")
                    elif role is None and method in ("GET", "HEAD"):
                        if response.headers.get("location") != f"/login?next={quote(url)}":
                            problems.append(where + ", expected a redirect to sign in")
                    elif response.status_code != 403:
                        problems.append(where + ", expected 403")
    finally:
        for client, _ in clients.values():
            await client.__aexit__(None, None, None)
    assert problems == []


async def test_a_judge_cannot_read_or_write_another_competition(client, db):
    mine, theirs, _, foreign_entrant, judge, *_ = await _world(db)
    from tests.conftest import login
    from tests.factories import PASSWORD

    await login(client, judge.email, PASSWORD)
    token = await csrf_for(client, "/judging/")
    async with db.read() as session:
        foreign_rubric = await criteria(session, theirs)
        own_rubric = await criteria(session, mine)
        before = await session.scalar(select(func.count(AuditEntry.id)))
    home = await client.get("/judging/")
    assert mine.name in home.text and theirs.name not in home.text
    for path in (f"/judging/{theirs.id}", f"/judging/{theirs.id}/entrants/{foreign_entrant.id}"):
        response = await client.get(path)
        assert response.status_code == 403 and "not on the judging panel" in response.text
    data = {"csrf_token": token, "action": "save", **{f"c{c.id}": "1" for c in foreign_rubric}}
    assert (await client.post(f"/judging/{theirs.id}/entrants/{foreign_entrant.id}", data=data)).status_code == 403
    assert (await client.post(f"/judging/{theirs.id}/entrants/{foreign_entrant.id}/conflict",
                              data={"csrf_token": token, "reason": "x"})).status_code == 403
    # Through their own competition's URL with the other competition's entrant: not found.
    own_data = {"csrf_token": token, "action": "save", **{f"c{c.id}": "1" for c in own_rubric}}
    assert (await client.post(f"/judging/{mine.id}/entrants/{foreign_entrant.id}", data=own_data)).status_code == 404
    assert (await client.get(f"/judging/{mine.id}/entrants/{foreign_entrant.id}")).status_code == 404
    async with db.read() as session:
        assert await session.scalar(select(func.count(AuditEntry.id))) == before
        assert await session.scalar(select(func.count(Conflict.id))) == 0
        assert {s.value for s in await session.scalars(select(Score))} == {5}  # the other judge's, untouched
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 1


async def test_other_roles_and_anonymous_are_refused(app, db):
    mine, _, entrant, *_ = await _world(db)
    score_url = f"/judging/{mine.id}/entrants/{entrant.id}"
    async with new_client(app) as anonymous:
        response = await anonymous.get(score_url)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={quote(score_url)}"
        token = await csrf_for(anonymous)
        assert (await anonymous.post(score_url, data={"csrf_token": token})).status_code == 403
        assert (await anonymous.get(f"/organiser/competitions/{mine.id}")).status_code == 303
    for role in (Role.ADMIN, Role.DOOR_STAFF):
        async with new_client(app) as other:
            await sign_in(other, db, role)
            assert (await other.get(score_url)).status_code == 403
            assert (await other.get("/judging/")).status_code == 403
    async with new_client(app) as judge:
        await sign_in(judge, db, Role.JUDGE)
        for path in ("/organiser/competitions", f"/organiser/competitions/{mine.id}/live",
                     f"/organiser/competitions/{mine.id}/audit"):
            assert (await judge.get(path)).status_code == 403
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 1


async def test_csrf_is_required_on_judge_posts(client, db):
    mine, _, entrant, _, judge, *_ = await _world(db)
    from tests.conftest import login
    from tests.factories import PASSWORD

    await login(client, judge.email, PASSWORD)
    async with db.read() as session:
        rubric = await criteria(session, mine)
    response = await client.post(f"/judging/{mine.id}/entrants/{entrant.id}",
                                 data={"action": "save", **{f"c{c.id}": "5" for c in rubric}})
    assert response.status_code == 403
    assert isinstance(client, httpx.AsyncClient)
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 1  # only the other judge's
