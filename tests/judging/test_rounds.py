"""Heats then a final: advancing heat entrants into the final (new entrants linked back to their heat
entry), scoring and ranking the final on its own, and refusing round moves that would misplace scores."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from judging import judges, night, progress, results, sheets
from judging.audit import audit_trail
from judging.competitions import get_competition, release_results
from judging.entrants import EntrantInput, update_entrant
from judging.errors import InvalidInput, NotFound, PitchNotStarted, RoundRule, ScoringClosed
from judging.models import AuditEntry, Competition, Conflict, Entrant, Round, ScoreSheet
from judging.rounds import add_round, advance_entrants
from kernel.accounts import Role
from kernel.db import utcnow
from tests.conftest import csrf_for, login
from tests.core.helpers import assert_error_page, new_client, page_text, sign_in
from tests.factories import PASSWORD
from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, score


async def _heats(db):
    """Two heats (A, B, C in Heat 1; D in Heat 2), a final, two judges; judge Two declared a conflict with A.
    Heat 1 sheets: A 9 and 8, B 7 and 6 (judge Two recused from A, so A has one), C 3 and 2."""
    async with db.write() as session:
        competition = await make_competition(session)
        heat1 = await add_round(session=session, competition=competition, name="Heat 1", actor_id=None)
        heat2 = await add_round(session=session, competition=competition, name="Heat 2", actor_id=None)
        final = await add_round(session=session, competition=competition, name="Grand final",
                                kind="final", actor_id=None)
        a, b, c = [await make_entrant(session, competition, enterprise=n, round_id=heat1.id) for n in "ABC"]
        d = await make_entrant(session, competition, enterprise="D", round_id=heat2.id)
        one = await make_judge(session, competition, name="One")
        two = await make_judge(session, competition, name="Two")
        await judges.declare_conflict(session=session, competition=competition, judge_id=two.id, entrant_id=a.id,
                                      reason="My cousin")
        for entrant, (s1, s2) in ((a, (9, None)), (b, (7, 6)), (c, (3, 2))):
            await score(session, competition, one, entrant, s1)
            if s2 is not None:
                await score(session, competition, two, entrant, s2)
        await score(session, competition, one, d, 5)
    return competition, (heat1, heat2, final), (a, b, c, d), (one, two)


async def _advance(db, competition, final, ids):
    async with db.write() as session:
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        return await advance_entrants(session=session, competition=fresh, final_id=final.id,
                                      entrant_ids=ids, actor_id=None)


async def test_advancing_makes_linked_finalists_without_copying_scores(db):
    competition, (heat1, _heat2, final), (a, _b, _c, d), (_one, two) = await _heats(db)
    finalists = await _advance(db, competition, final, [a.id, d.id])
    async with db.read() as session:
        rows = list(await session.scalars(select(Entrant).where(Entrant.round_id == final.id).order_by(Entrant.id)))
        sheets_of_finalists = await session.scalar(
            select(func.count(ScoreSheet.id)).where(ScoreSheet.entrant_id.in_([e.id for e in rows])))
        copied = list(await session.scalars(select(Conflict).where(Conflict.entrant_id.in_([e.id for e in rows]))))
        heat_a = await session.get(Entrant, a.id)
        trail = [e for e in await audit_trail(session=session, competition_id=competition.id)
                 if e.action == "entrant.advance"]
    assert [e.id for e in rows] == [f.id for f in finalists] and len(rows) == 2
    fa, fd = rows
    assert (fa.advanced_from_id, fd.advanced_from_id) == (a.id, d.id)
    assert (fa.enterprise, fa.name, fa.contact_email, fa.pitch) == (a.enterprise, a.name, a.contact_email, a.pitch)
    assert fa.status == fd.status == "accepted" and fa.scoring_opened_at is None and fa.pitch_started_at is None
    assert fa.running_order == 5 and fd.running_order == 6  # after the four heat entrants
    assert sheets_of_finalists == 0
    assert [(c.judge_id, c.entrant_id) for c in copied] == [(two.id, fa.id)]  # the conflict carries over
    assert heat_a.round_id == heat1.id and heat_a.advanced_from_id is None  # the heat entry stays as it was
    assert len(trail) == 2 and {t.subject for t in trail} == {"A: Heat 1 to Grand final", "D: Heat 2 to Grand final"}


async def test_a_finalist_is_scored_in_the_final_apart_from_their_heat_sheet(db):
    competition, (_heat1, _heat2, final), (a, b, c, d), (one, two) = await _heats(db)
    fa, fb = await _advance(db, competition, final, [a.id, b.id])
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        with pytest.raises(PitchNotStarted):  # not until the finalist's pitch starts (or scoring is opened)
            await score(session, fresh, one, fa, 2)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        for finalist in (fa, fb):
            await night.open_scoring(session=session, competition=fresh, entrant_id=finalist.id, actor_id=None)
        await score(session, fresh, one, fa, 2)  # A did worse in the final...
        await score(session, fresh, one, fb, 10)  # ...and B better
        await score(session, fresh, two, fb, 9)
        with pytest.raises(Exception, match="conflict"):
            await score(session, fresh, two, fa, 5)
    async with db.read() as session:
        heat_sheet = await sheets.load_sheet(session=session, judge_id=one.id, entrant_id=a.id)
        final_sheet = await sheets.load_sheet(session=session, judge_id=one.id, entrant_id=fa.id)
        fresh = await session.get(Competition, competition.id)
        rows = await progress.judge_overview(session=session, competition=fresh, judge_id=one.id)
    assert set(heat_sheet.values.values()) == {9} and heat_sheet.sheet.is_submitted
    assert set(final_sheet.values.values()) == {2} and final_sheet.sheet.id != heat_sheet.sheet.id
    assert [r.entrant.id for r in rows] == [a.id, b.id, c.id, d.id, fa.id, fb.id]  # the final after the heats
    assert [r.status for r in rows] == ["submitted"] * 6


async def test_results_rank_the_final_first_and_separately_and_name_each_finalists_heat(db):
    competition, (_heat1, _heat2, final), (a, b, c, d), (one, _two) = await _heats(db)
    fa, fd = await _advance(db, competition, final, [a.id, d.id])
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        for finalist in (fa, fd):
            finalist = await session.get(Entrant, finalist.id)
            finalist.scoring_opened_at = utcnow()
        await score(session, fresh, one, fa, 4)
        await score(session, fresh, one, fd, 8)
    async with db.read() as session:
        view = await results.load_results(session=session, competition=await session.get(Competition, competition.id))
    assert [(g.round.name, [p.entrant for p in g.results.raw.places]) for g in view.groups] == [
        ("Grand final", [fd.id, fa.id]), ("Heat 1", [a.id, b.id, c.id]), ("Heat 2", [d.id])]
    final_group = view.groups[0].results
    # The final's sheet only (4 on every criterion), not the heat's 9s.
    assert final_group.entrants[fa.id].raw_mean == pytest.approx(100 * 3 / 9)
    assert view.groups[1].results.entrants[a.id].raw_mean == pytest.approx(100 * 8 / 9)
    assert view.origins == {fa.id: "Heat 1", fd.id: "Heat 2"}
    # the printed report says it too, under the final's heading
    from judging.documents import load_report, results_pdf
    from tests.judging.test_documents import texts

    async with db.read() as session:
        report = await load_report(session=session, competition=await session.get(Competition, competition.id))
    whole = " ".join(" ".join(texts((await results_pdf(report))[2])).split())
    final_part = whole[whole.index("Grand final"):whole.index("Heat 1 ")]
    assert "Advanced from the heats: A (from Heat 1), D (from Heat 2)." in final_part


async def test_top_of_a_heat_follows_its_ranking_and_needs_submitted_scores(db):
    competition, (heat1, _heat2, final), (a, b, c, _d), _ = await _heats(db)
    async with db.write() as session:
        empty = await add_round(session=session, competition=competition, name="Heat 3", actor_id=None)
        await make_entrant(session, competition, round_id=empty.id)
    async with db.read() as session:
        fresh = await session.get(Competition, competition.id)
        top_two = await results.heat_leaders(session=session, competition=fresh, round_id=heat1.id, top=2)
        assert top_two == [a.id, b.id]
        assert await results.heat_leaders(session=session, competition=fresh, round_id=heat1.id, top=10) == [
            a.id, b.id, c.id]
        with pytest.raises(RoundRule, match="no submitted scores"):
            await results.heat_leaders(session=session, competition=fresh, round_id=empty.id, top=1)
        with pytest.raises(InvalidInput, match="is the final"):
            await results.heat_leaders(session=session, competition=fresh, round_id=final.id, top=1)
        with pytest.raises(NotFound):
            await results.heat_leaders(session=session, competition=fresh, round_id=10**6, top=1)
        with pytest.raises(InvalidInput):
            await results.heat_leaders(session=session, competition=fresh, round_id=heat1.id, top=0)


async def test_advancing_refuses_bad_choices_and_changes_nothing(db):
    competition, (heat1, _heat2, final), (a, b, _c, _d), _ = await _heats(db)
    async with db.write() as session:
        other = await make_competition(session)
        other_heat = await add_round(session=session, competition=other, name="Heat", actor_id=None)
        foreign = await make_entrant(session, other, round_id=other_heat.id)
        unrounded = await make_entrant(session, competition)
        waiting = await make_entrant(session, competition, round_id=heat1.id, status="applied")
    cases = [
        ([10**6], NotFound), ([foreign.id], NotFound), ([a.id, foreign.id], NotFound), ([], InvalidInput),
        ([unrounded.id], InvalidInput), ([waiting.id], InvalidInput),
    ]
    for ids, error in cases:
        with pytest.raises(error):
            await _advance(db, competition, final, ids)
    with pytest.raises(InvalidInput, match="is a heat"):
        await _advance(db, competition, heat1, [a.id])
    with pytest.raises(NotFound):
        await _advance(db, competition, other_heat, [a.id])
    (fa,) = await _advance(db, competition, final, [a.id])
    with pytest.raises(RoundRule, match="Already advanced to the final: A"):
        await _advance(db, competition, final, [b.id, a.id])
    with pytest.raises(InvalidInput, match="not in a heat"):  # a finalist does not advance again
        await _advance(db, competition, final, [fa.id])
    async with db.write() as session:
        with pytest.raises(RoundRule, match="already has a final"):
            await add_round(session=session, competition=await session.get(Competition, competition.id),
                            name="Another final", kind="final", actor_id=None)
        with pytest.raises(InvalidInput):
            await add_round(session=session, competition=await session.get(Competition, competition.id),
                            name="Semi", kind="semi", actor_id=None)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        assert fresh.status == "scoring"  # the first score started it
        await release_results(session=session, competition=fresh, visibility="public", actor_id=None)
    with pytest.raises(ScoringClosed):
        await _advance(db, competition, final, [b.id])
    async with db.read() as session:
        assert await session.scalar(select(func.count(Entrant.id)).where(Entrant.round_id == final.id)) == 1
        assert await session.scalar(select(func.count(Round.id)).where(Round.competition_id == competition.id)) == 3


async def test_an_entrant_with_score_sheets_cannot_move_to_another_round(db):
    competition, (heat1, heat2, final), (a, b, _c, _d), _ = await _heats(db)
    async with db.write() as session:
        fresh_entrant = await make_entrant(session, competition, round_id=heat1.id)
    (fa,) = await _advance(db, competition, final, [a.id])

    def data(entrant, round_id):
        return EntrantInput(name=entrant.name, enterprise=entrant.enterprise, pitch=entrant.pitch,
                            social_mission=entrant.social_mission, contact_email=entrant.contact_email,
                            round_id=round_id)

    for entrant, target, message in ((b, final.id, "already has score sheets"), (b, None, "already has score sheets"),
                                     (fa, heat1.id, "stays in the final")):
        async with db.write() as session:
            saved = await session.get(Entrant, entrant.id)
            with pytest.raises(RoundRule, match=message) as refused:
                await update_entrant(session=session, entrant=saved, data=data(entrant, target),
                                     actor_id=None)
            assert refused.value.status == 409
    async with db.write() as session:  # editing other details, in the same round, is fine
        saved = await session.get(Entrant, b.id)
        await update_entrant(session=session, entrant=saved, data=data(b, heat1.id), actor_id=None)
        unscored = await session.get(Entrant, fresh_entrant.id)  # and so is moving an entrant nobody has scored
        await update_entrant(session=session, entrant=unscored, data=data(unscored, heat2.id), actor_id=None)
    async with db.read() as session:
        assert (await session.get(Entrant, b.id)).round_id == heat1.id
        assert (await session.get(Entrant, fa.id)).round_id == final.id
        assert (await session.get(Entrant, fresh_entrant.id)).round_id == heat2.id


# --- through HTTP ----------------------------------------------------------------------------------

async def test_organiser_advances_the_top_of_a_heat_and_chosen_entrants(client, db):
    competition, (heat1, _heat2, final), (a, b, c, d), (one, _) = await _heats(db)
    await sign_in(client, db, Role.ADMIN)
    base = f"/organiser/competitions/{competition.id}"
    page = await client.get(f"{base}/entrants")
    assert page.status_code == 200 and "Advance to the final" in page.text
    assert f'name="entrant" value="{d.id}"' in page.text
    token = await csrf_for(client, f"{base}/entrants")
    response = await client.post(f"{base}/advance", data={"csrf_token": token, "final_id": str(final.id),
                                                          "heat_id": str(heat1.id), "top": "2"})
    assert response.status_code == 303 and response.headers["location"] == f"{base}/entrants"
    response = await client.post(f"{base}/advance", data={"csrf_token": token, "final_id": str(final.id),
                                                          "entrant": [str(d.id)]})
    assert response.status_code == 303
    async with db.read() as session:
        finalists = list(await session.scalars(select(Entrant).where(Entrant.round_id == final.id)
                                               .order_by(Entrant.running_order)))
    assert [f.advanced_from_id for f in finalists] == [a.id, b.id, d.id]
    page = await client.get(f"{base}/entrants")
    text = page_text(page)
    assert "Advanced to the final: D." in text and "from Heat 2" in text and "from Heat 1" in text
    assert f'name="entrant" value="{d.id}"' not in page.text  # nothing left to advance from Heat 2
    again = await client.post(f"{base}/advance", data={"csrf_token": token, "final_id": str(final.id),
                                                       "entrant": [str(a.id), str(c.id)]})
    assert_error_page(again, 409, "Already advanced to the final: A")
    # The organiser's results preview: the final first, each finalist's heat named.
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        finalist = await session.get(Entrant, finalists[0].id)
        finalist.scoring_opened_at = utcnow()
        await score(session, fresh, one, finalist, 6)
    preview = page_text(await client.get(f"{base}/results"))
    assert preview.index("Grand final") < preview.index("Heat 1") < preview.index("Heat 2")
    assert "A (from Heat 1), B (from Heat 1), D (from Heat 2)" in preview


@pytest.mark.parametrize(("form", "status", "message"), [
    ({}, 422, "Choose the final"),
    ({"final_id": "x"}, 422, "Choose the final"),
    ({"final_id": "FINAL"}, 422, "Choose the entrants to advance"),
    ({"final_id": "FINAL", "entrant": ["1e3"]}, 422, "Choose entrants from the list"),
    ({"final_id": "FINAL", "entrant": ["99999999999999999999"]}, 422, "Choose entrants from the list"),
    ({"final_id": "99999999999999999999", "entrant": ["A"]}, 422, "Choose the final"),
    ({"final_id": "FINAL", "entrant": ["2147483647"]}, 404, "no entrant with that number"),
    ({"final_id": "FINAL", "entrant": ["FOREIGN"]}, 404, "no entrant with that number"),
    ({"final_id": "2147483647", "entrant": ["A"]}, 404, "no round with that number"),
    ({"final_id": "HEAT1", "entrant": ["A"]}, 422, "is a heat"),
    ({"final_id": "FINAL", "entrant": ["A"], "top": "2", "heat_id": "HEAT1"}, 422, "not both"),
    ({"final_id": "FINAL", "top": "2"}, 422, "Choose the heat"),
    ({"final_id": "FINAL", "top": "0", "heat_id": "HEAT1"}, 422, "from 1 to 100"),
    ({"final_id": "FINAL", "top": "lots", "heat_id": "HEAT1"}, 422, "from 1 to 100"),
    ({"final_id": "FINAL", "top": "2", "heat_id": "99999999999999999999"}, 422, "Choose the heat"),
    ({"final_id": "FINAL", "top": "2", "heat_id": "FOREIGN_HEAT"}, 404, "no round with that number"),
    ({"final_id": "FINAL", "top": "2", "heat_id": "EMPTY_HEAT"}, 409, "no submitted scores"),
])
async def test_bad_advance_requests_get_a_clear_4xx(client, db, form, status, message):
    competition, (heat1, _heat2, final), (a, _b, _c, _d), _ = await _heats(db)
    async with db.write() as session:
        other = await make_competition(session)
        foreign_heat = await add_round(session=session, competition=other, name="Heat", actor_id=None)
        foreign = await make_entrant(session, other, round_id=foreign_heat.id)
        empty = await add_round(session=session, competition=competition, name="Heat 3", actor_id=None)
    names = {"FINAL": final.id, "HEAT1": heat1.id, "A": a.id, "FOREIGN": foreign.id, "FOREIGN_HEAT": foreign_heat.id,
             "EMPTY_HEAT": empty.id}

    def fill(value):
        return [fill(v) for v in value] if isinstance(value, list) else str(names.get(value, value))

    await sign_in(client, db, Role.ADMIN)
    base = f"/organiser/competitions/{competition.id}"
    token = await csrf_for(client, f"{base}/entrants")
    data = {"csrf_token": token, **{k: fill(v) for k, v in form.items()}}
    response = await client.post(f"{base}/advance", data=data)
    assert_error_page(response, status, message)
    async with db.read() as session:
        assert await session.scalar(select(func.count(Entrant.id)).where(Entrant.advanced_from_id.is_not(None))) == 0


async def test_only_organisers_advance_and_csrf_is_required(app, client, db):
    competition, (_heat1, _heat2, final), (a, _b, _c, _d), (one, _) = await _heats(db)
    url = f"/organiser/competitions/{competition.id}/advance"
    data = {"final_id": str(final.id), "entrant": [str(a.id)]}
    async with new_client(app) as anonymous:
        assert (await anonymous.post(url, data={"csrf_token": await csrf_for(anonymous), **data})).status_code == 403
    async with new_client(app) as judge:
        await login(judge, one.email, PASSWORD)
        token = await csrf_for(judge, "/judging/")
        assert (await judge.post(url, data={"csrf_token": token, **data})).status_code == 403
    async with new_client(app) as door:
        await sign_in(door, db, Role.DOOR_STAFF)
        assert (await door.post(url, data={"csrf_token": await csrf_for(door), **data})).status_code == 403
    await sign_in(client, db, Role.ADMIN)
    assert (await client.post(url, data=data)).status_code == 403  # no CSRF token
    async with db.read() as session:
        assert await session.scalar(select(func.count(Entrant.id)).where(Entrant.round_id == final.id)) == 0
        advances = select(func.count(AuditEntry.id)).where(AuditEntry.action == "entrant.advance")
        assert await session.scalar(advances) == 0


async def test_organiser_cannot_move_a_scored_entrant_by_editing_it(client, db):
    competition, (heat1, heat2, _final), (_a, b, _c, _d), _ = await _heats(db)
    await sign_in(client, db, Role.ADMIN)
    url = f"/organiser/competitions/{competition.id}/entrants/{b.id}/edit"
    token = await csrf_for(client, url)
    response = await client.post(url, data={
        "csrf_token": token, "name": b.name, "enterprise": b.enterprise, "pitch": b.pitch,
        "social_mission": b.social_mission, "contact_email": b.contact_email, "round_id": str(heat2.id)})
    assert response.status_code == 409
    assert "already has score sheets in its round" in page_text(response)
    async with db.read() as session:
        assert (await session.get(Entrant, b.id)).round_id == heat1.id


async def test_judges_see_the_finalists_after_the_heats_and_score_them_once_open(client, db):
    competition, (_heat1, _heat2, final), (a, b, c, d), (one, _) = await _heats(db)
    (fa,) = await _advance(db, competition, final, [a.id])
    await login(client, one.email, PASSWORD)
    page = page_text(await client.get(f"/judging/{competition.id}"))
    link = rf'class="judging-list-link" href="/judging/{competition.id}/entrants/(\d+)"'
    listed = [int(i) for i in re.findall(link, page)]
    assert listed == [a.id, b.id, c.id, d.id, fa.id]  # the finalist again, after the heats
    assert page.index("· Heat 2") < page.index("· Grand final") and "Pitch not started" in page
    token = await csrf_for(client, f"/judging/{competition.id}/entrants/{fa.id}")
    async with db.read() as session:
        rubric = await criteria(session, competition)
    form = {"csrf_token": token, "action": "submit", **{f"c{c.id}": "7" for c in rubric}}
    refused = await client.post(f"/judging/{competition.id}/entrants/{fa.id}", data=form)
    assert refused.status_code == 409
    async with db.write() as session:
        await night.open_scoring(session=session, competition=await session.get(Competition, competition.id),
                                 entrant_id=fa.id, actor_id=None)
    response = await client.post(f"/judging/{competition.id}/entrants/{fa.id}", data=form)
    assert response.status_code == 303
    async with db.read() as session:
        heat = await sheets.load_sheet(session=session, judge_id=one.id, entrant_id=a.id)
        final_sheet = await sheets.load_sheet(session=session, judge_id=one.id, entrant_id=fa.id)
    assert set(heat.values.values()) == {9} and set(final_sheet.values.values()) == {7}
