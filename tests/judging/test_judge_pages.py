"""The judge's side through HTTP: magic-link sign-in, the scoring page, save / submit, conflicts, bad input."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from judging import judges
from judging.models import AuditEntry, Conflict, MagicLink, Score, ScoreSheet
from kernel.db import utcnow
from tests.conftest import csrf_for, login
from tests.core.helpers import assert_in_layout, new_client, page_text
from tests.factories import PASSWORD
from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, score


async def _night(db, entrants: int = 3):
    async with db.write() as session:
        competition = await make_competition(session, name="Soho Dragons")
        people = [await make_entrant(session, competition, enterprise=f"Venture {i}") for i in range(1, entrants + 1)]
        judge = await make_judge(session, competition, name="Judge Nia")
        rubric = await criteria(session, competition)
    return competition, people, judge, rubric


async def _link(db, competition, judge, **kwargs) -> str:
    async with db.write() as session:
        token, _ = await judges.new_magic_link(session=session, user=judge, competition=competition,
                                               base_url="http://testserver", **kwargs)
    return token


# --- magic links -----------------------------------------------------------------------------------

async def test_magic_link_confirm_page_then_post_signs_the_judge_in(app, client, db):
    competition, _, judge, _ = await _night(db)
    token = await _link(db, competition, judge)
    page = await client.get(f"/judging/magic/{token}")
    assert page.status_code == 200 and "Sign in as Judge Nia" in page.text
    assert page.headers["cache-control"] == "no-store"
    async with db.read() as session:
        assert (await session.scalar(select(MagicLink))).used_at is None  # opening the link does not use it
    response = await client.post(f"/judging/magic/{token}", data={"csrf_token": await csrf_for(client, f"/judging/magic/{token}")})
    assert response.status_code == 303 and response.headers["location"] == f"/judging/{competition.id}"
    home = await client.get(response.headers["location"])
    assert home.status_code == 200 and "Signed in as Judge Nia" in page_text(home)
    assert 'href="/judging/">Judging</a>' in home.text  # the nav link for judges
    async with db.read() as session:
        assert (await session.scalar(select(MagicLink))).used_at is not None
    # Used once: a second visit (any browser) gets a clear 410.
    async with new_client(app) as other:
        gone = await other.get(f"/judging/magic/{token}")
        assert gone.status_code == 410
        assert_in_layout(gone)
        assert "already been used" in page_text(gone)
        again = await other.post(f"/judging/magic/{token}", data={"csrf_token": await csrf_for(other)})
        assert again.status_code == 410


async def test_expired_and_unknown_magic_links(client, db):
    competition, _, judge, _ = await _night(db)
    token = await _link(db, competition, judge)
    async with db.write() as session:
        await session.execute(update(MagicLink).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    expired = await client.get(f"/judging/magic/{token}")
    assert expired.status_code == 410 and "expired" in page_text(expired)
    refused = await client.post(f"/judging/magic/{token}", data={"csrf_token": await csrf_for(client)})
    assert refused.status_code == 410
    assert (await client.get("/judging/")).status_code == 303  # still signed out
    unknown = await client.get("/judging/magic/not-a-real-token")
    assert unknown.status_code == 404


async def test_magic_link_post_needs_the_csrf_token(client, db):
    competition, _, judge, _ = await _night(db)
    token = await _link(db, competition, judge)
    await client.get(f"/judging/magic/{token}")
    refused = await client.post(f"/judging/magic/{token}", data={})
    assert refused.status_code == 403
    async with db.read() as session:
        assert (await session.scalar(select(MagicLink))).used_at is None


async def test_a_magic_link_signs_out_whoever_was_signed_in(app, client, db):
    from tests.core.helpers import sign_in

    competition, _, judge, _ = await _night(db)
    await sign_in(client, db)  # an organiser on a shared laptop
    token = await _link(db, competition, judge)
    page = await client.get(f"/judging/magic/{token}")
    assert "continuing signs you out of that account" in page.text
    await client.post(f"/judging/magic/{token}", data={"csrf_token": await csrf_for(client, f"/judging/magic/{token}")})
    assert (await client.get("/organiser/events")).status_code == 403


# --- scoring ---------------------------------------------------------------------------------------

async def _signed_in(client, judge):
    response = await login(client, judge.email, PASSWORD)
    assert response.status_code == 303


def _form(token, rubric, values, action="save", feedback="", private_note=""):
    data = {"csrf_token": token, "action": action, "feedback": feedback, "private_note": private_note}
    data.update({f"c{c.id}": str(v) for c, v in zip(rubric, values, strict=False) if v is not None})
    return data


async def test_scoring_page_lists_big_buttons_for_every_value_and_works_without_javascript(client, db):
    competition, people, judge, rubric = await _night(db)
    await _signed_in(client, judge)
    overview = await client.get(f"/judging/{competition.id}")
    assert overview.status_code == 200 and "Score: Venture 1" in page_text(overview)
    page = await client.get(f"/judging/{competition.id}/entrants/{people[0].id}")
    assert page.status_code == 200
    # A plain form that posts without JavaScript; the one script is judge.js, which only enhances it.
    assert f'<form method="post" action="/judging/{competition.id}/entrants/{people[0].id}" class="score-form">' in page.text
    assert re.findall(r"<script[^>]*>", page.text) == ['<script type="module" src="/static/js/judge.js">',
                                                       '<script type="application/json" id="judge-data">']
    assert page.headers["cache-control"] == "no-store"
    for c in rubric:
        for v in range(1, 11):
            assert f"<input type=radio id=c{c.id}-{v} name=c{c.id} value={v}>" in page.text
            assert f"<label for=c{c.id}-{v}>{v}</label>" in page.text
    assert 'name="action" value="save"' in page.text and 'name="action" value="submit"' in page.text
    assert "1 of 3" in page.text and f"/judging/{competition.id}/entrants/{people[1].id}" in page.text


async def test_the_plain_page_has_no_script_and_opens_the_conflict_box(client, db):
    """Where judge.js sends a judge to declare a conflict: the same page, plain."""
    competition, people, judge, _ = await _night(db)
    await _signed_in(client, judge)
    page = await client.get(f"/judging/{competition.id}/entrants/{people[0].id}?plain=1")
    assert page.status_code == 200 and "<script" not in page.text
    assert '<details class="conflict-box" id="conflict" open>' in page.text


async def test_save_a_draft_then_submit_then_the_sheet_is_locked(client, db):
    competition, people, judge, rubric = await _night(db)
    await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[0].id}"
    token = await csrf_for(client, url)
    saved = await client.post(url, data=_form(token, rubric, [7, 6], feedback="Great energy",
                                                      private_note="Knows our treasurer"))
    assert saved.status_code == 303 and saved.headers["location"] == url
    page = await client.get(url)
    assert "Draft saved" in page_text(page)
    assert f"id=c{rubric[0].id}-7 name=c{rubric[0].id} value=7 checked" in page.text
    assert "Great energy" in page.text and "Knows our treasurer" in page.text
    incomplete = await client.post(url, data=_form(token, rubric, [7, 6], action="submit"))
    assert incomplete.status_code == 422 and "Still to score: Innovation, Team, Pitch" in page_text(incomplete)
    submitted = await client.post(url, data=_form(token, rubric, [None, None, 5, 5, 8], action="submit"))
    assert submitted.status_code == 303
    assert submitted.headers["location"] == f"/judging/{competition.id}/entrants/{people[1].id}"  # the next one
    async with db.read() as session:
        sheet = await session.scalar(select(ScoreSheet))
        values = {s.criterion_id: s.value for s in await session.scalars(select(Score))}
        audits = await session.scalar(select(func.count(AuditEntry.id)))
    assert sheet.status == "submitted" and values == dict(zip([c.id for c in rubric], [7, 6, 5, 5, 8], strict=True))
    locked_page = await client.get(url)
    assert "Your scores are locked" in page_text(locked_page) and 'name="action"' not in locked_page.text
    refused = await client.post(url, data=_form(token, rubric, [1, 1, 1, 1, 1], action="save"))
    assert refused.status_code == 409 and "ask the organiser to unlock it" in page_text(refused).lower()
    async with db.read() as session:
        assert {s.criterion_id: s.value for s in await session.scalars(select(Score))} == values
        assert await session.scalar(select(func.count(AuditEntry.id))) == audits


@pytest.mark.parametrize("case", ["outside scale", "not a number", "other competition", "bad action"])
async def test_bad_input_is_refused_with_a_4xx_and_nothing_is_recorded(client, db, case):
    competition, people, judge, rubric = await _night(db)
    async with db.write() as session:
        other = await make_competition(session)
        foreign = (await criteria(session, other))[0]
    await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[0].id}"
    token = await csrf_for(client, url)
    data = _form(token, rubric, [5, 5, 5, 5, 5], action="submit")
    expected, message = 422, None
    if case == "outside scale":
        data[f"c{rubric[0].id}"] = "11"
        message = "“Social impact” is scored from 1 to 10"
    elif case == "not a number":
        data[f"c{rubric[0].id}"] = "ten"
        message = "Scores are whole numbers"
    elif case == "other competition":
        data[f"c{foreign.id}"] = "5"
        message = "not in this competition’s rubric"
    else:
        data["action"] = "publish"
        expected, message = 400, "Choose “Save draft” or “Submit scores”"
    response = await client.post(url, data=data)
    assert response.status_code == expected
    assert message in page_text(response)
    assert 'role="alert"' in response.text
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 0
        assert await session.scalar(select(func.count(Score.id))) == 0
        assert await session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action != "competition.create")
                                    .where(AuditEntry.action != "entrant.add")) == 0


async def test_declaring_a_conflict_excludes_the_entrant_from_scoring(client, db):
    competition, people, judge, rubric = await _night(db)
    await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[1].id}"
    token = await csrf_for(client, url)
    await client.post(url, data=_form(token, rubric, [4]))  # a draft, to be discarded
    missing = await client.post(f"{url}/conflict", data={"csrf_token": token, "reason": ""})
    assert missing.status_code == 422 and "Say briefly why" in page_text(missing)
    declared = await client.post(f"{url}/conflict", data={"csrf_token": token, "reason": "She is my sister"})
    assert declared.status_code == 303
    page = await client.get(url)
    assert "You declared a conflict of interest" in page_text(page) and 'name="action"' not in page.text
    refused = await client.post(url, data=_form(token, rubric, [5, 5, 5, 5, 5], action="submit"))
    assert refused.status_code == 409 and "you do not score them" in page_text(refused)
    overview = page_text(await client.get(f"/judging/{competition.id}"))
    assert "Conflict declared" in overview
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 0
        assert (await session.scalar(select(Conflict))).reason == "She is my sister"


async def test_a_judge_never_sees_another_judges_scores(app, client, db):
    competition, people, judge, _ = await _night(db)
    async with db.write() as session:
        from judging.models import Competition

        fresh = await session.get(Competition, competition.id)
        rival = await make_judge(session, fresh, name="Judge Rival")
        await score(session, fresh, rival, people[0], [10, 10, 10, 10, 10], feedback="RIVAL-COMMENT", private_note="RIVAL-NOTE")
    await _signed_in(client, judge)
    page = await client.get(f"/judging/{competition.id}/entrants/{people[0].id}")
    assert " checked" not in page.text and "RIVAL-COMMENT" not in page.text and "RIVAL-NOTE" not in page.text
    overview = await client.get(f"/judging/{competition.id}")
    assert "Judge Rival" not in overview.text
    assert (await client.get(f"/judging/results/{competition.id}")).status_code == 404
    assert (await client.get(f"/organiser/competitions/{competition.id}/live?fragment=1")).status_code == 403
    assert (await client.get(f"/organiser/competitions/{competition.id}/results")).status_code == 403


async def test_submit_goes_to_the_next_unscored_entrant_then_back_to_the_list(client, db):
    competition, people, judge, rubric = await _night(db, entrants=2)
    await _signed_in(client, judge)
    token = await csrf_for(client, f"/judging/{competition.id}")
    first = await client.post(f"/judging/{competition.id}/entrants/{people[0].id}",
                              data=_form(token, rubric, [5] * 5, action="submit"))
    assert first.headers["location"] == f"/judging/{competition.id}/entrants/{people[1].id}"
    last = await client.post(f"/judging/{competition.id}/entrants/{people[1].id}",
                             data=_form(token, rubric, [6] * 5, action="submit"))
    assert last.headers["location"] == f"/judging/{competition.id}"
    page = page_text(await client.get(last.headers["location"]))
    assert "You have scored every entrant" in page and "You have submitted every sheet" in page
    assert len(re.findall("Submitted", page)) >= 2


async def test_the_main_button_opens_the_entrant_on_stage_then_the_next_to_score(client, db):
    """With the host screen moved on to entrant 3, the judge's big button opens entrant 3 (not entrant 1, the
    first in the list); once the judge has submitted entrant 3 it opens the first still to score."""
    from judging import night
    from judging.models import Competition

    competition, people, judge, rubric = await _night(db)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        on_screen = None
        for _ in people:
            on_screen = (await night.next_entrant(session=session, competition=fresh, actor_id=None,
                                                  from_entrant_id=on_screen)).entrant.id
    assert on_screen == people[2].id
    await _signed_in(client, judge)
    url = f"/judging/{competition.id}"

    def main_button(page) -> tuple[str, str]:
        match = re.search(r'<a class="button judging-big-button" id="judge-main" href="([^"]+)">(.*?)</a>', page.text)
        assert match, "no main button"
        return match.group(1), match.group(2)

    page = await client.get(url)
    assert main_button(page) == (f"/judging/{competition.id}/entrants/{people[2].id}", "On stage now · Score: Venture 3")
    assert page.text.count('<strong class="on-stage">On stage</strong>') == 1  # marked in the running order too
    assert 'Venture 3 <strong class="on-stage">On stage</strong>' in page.text
    token = await csrf_for(client, url)
    await client.post(f"{url}/entrants/{people[2].id}", data=_form(token, rubric, [6] * 5, action="save"))
    assert main_button(await client.get(url)) == (f"{url}/entrants/{people[2].id}", "On stage now · Continue: Venture 3")
    await client.post(f"{url}/entrants/{people[2].id}", data=_form(token, rubric, [6] * 5, action="submit"))
    assert main_button(await client.get(url)) == (f"{url}/entrants/{people[0].id}", "Score: Venture 1")
