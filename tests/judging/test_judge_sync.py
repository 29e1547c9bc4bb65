"""What judge.js talks to: the page's own data (this judge's scores only), JSON saves with the CSRF header,
refusals the script can tell apart (retry "not_started", stop on the rest), and the state it polls."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from judging.models import Score, ScoreSheet
from tests.conftest import csrf_for, login
from tests.factories import PASSWORD
from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, score


async def _night(db):
    async with db.write() as session:
        competition = await make_competition(session, name="Aston Dragons")
        people = [await make_entrant(session, competition, enterprise="Pantry", social_mission="Food for all"),
                  await make_entrant(session, competition, enterprise="Bikes"),
                  await make_entrant(session, competition, enterprise="Tutors", open_scoring=False)]
        judge = await make_judge(session, competition, name="Judge Ifeoma")
        rival = await make_judge(session, competition, name="Judge Rival")
        await score(session, competition, rival, people[0], 10, feedback="RIVAL-SECRET", private_note="RIVAL-NOTE")
        rubric = await criteria(session, competition)
    return competition, people, judge, rubric


async def _signed_in(client, judge) -> str:
    assert (await login(client, judge.email, PASSWORD)).status_code == 303
    return await csrf_for(client, "/judging/")


def _page_data(page) -> dict:
    match = re.search(r'<script type="application/json" id="judge-data">(.*?)</script>', page.text, re.DOTALL)
    assert match, "no judge-data on the page"
    return json.loads(html.unescape(match.group(1)))


async def _post(client, url, token, body, *, header=True):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if header:
        headers["X-CSRF-Token"] = token
    return await client.post(url, content=json.dumps(body), headers=headers)


async def test_the_page_carries_the_judges_own_running_order_and_scores_only(client, db):
    competition, people, judge, rubric = await _night(db)
    token = await _signed_in(client, judge)
    async with db.write() as session:
        from judging.models import Competition

        await score(session, await session.get(Competition, competition.id), judge, people[1], [3, 4, 5, 6, 7],
                    submit=False, feedback="mine", private_note="my note")
    page = await client.get(f"/judging/{competition.id}/entrants/{people[0].id}")
    data = _page_data(page)
    assert data["competition"] == competition.id and data["judge"] == judge.id and data["current"] == people[0].id
    assert data["csrf"] == token
    assert [c["name"] for c in data["criteria"]] == ["Social impact", "Viability", "Innovation", "Team", "Pitch"]
    assert data["criteria"][0]["min"] == 1 and data["criteria"][0]["max"] == 10
    entrants = {e["id"]: e for e in data["entrants"]}
    assert [e["enterprise"] for e in data["entrants"]] == ["Pantry", "Bikes", "Tutors"]
    assert entrants[people[0].id]["values"] == {} and entrants[people[0].id]["status"] == "to score"
    assert entrants[people[0].id]["mission"] == "Food for all"
    assert entrants[people[1].id]["values"] == {str(c.id): v for c, v in zip(rubric, [3, 4, 5, 6, 7], strict=True)}
    assert entrants[people[1].id]["status"] == "draft" and entrants[people[1].id]["feedback"] == "mine"
    assert entrants[people[1].id]["private_note"] == "my note"
    assert [e["open"] for e in data["entrants"]] == [True, True, False]
    assert "RIVAL-SECRET" not in page.text and "RIVAL-NOTE" not in page.text and '"10"' not in json.dumps(entrants[people[0].id])


async def test_json_save_then_submit_and_a_repeated_submit_is_harmless(client, db):
    competition, people, judge, rubric = await _night(db)
    token = await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[0].id}"
    values = {str(c.id): v for c, v in zip(rubric, [8, 7, 6], strict=False)}
    saved = await _post(client, url, token, {"values": values, "feedback": " Lovely ",
                                               "private_note": " Ask about the lease ", "action": "save"})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["ok"] is True and body["status"] == "draft" and body["values"] == values
    assert body["feedback"] == "Lovely" and body["private_note"] == "Ask about the lease" and body["saved_at"]
    full = {str(c.id): 7 for c in rubric}
    texts = {"feedback": "Lovely", "private_note": "Ask about the lease"}
    submitted = await _post(client, url, token, {"values": full, **texts, "action": "submit"})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    # The phone lost the answer and sends the same submission again: accepted, nothing changes.
    again = await _post(client, url, token, {"values": full, **texts, "action": "submit"})
    assert again.status_code == 200 and again.json()["status"] == "submitted"
    changed = await _post(client, url, token, {"values": {**full, str(rubric[0].id): 1}, **texts,
                                               "action": "submit"})
    assert changed.status_code == 409 and changed.json() == {
        "ok": False, "code": "locked", "error": changed.json()["error"]}
    assert "locked" in changed.json()["error"]
    async with db.read() as session:
        sheet = await session.scalar(select(ScoreSheet).where(ScoreSheet.judge_id == judge.id))
        assert sheet.status == "submitted"
        assert {s.value for s in await session.scalars(select(Score).where(Score.sheet_id == sheet.id))} == {7}


async def test_a_page_from_before_the_two_boxes_saves_its_one_box_as_the_feedback(client, db):
    """A scoring page left open on a phone across the upgrade sends {"comment": ...}: the box the feedback
    pack printed, so it is kept as the feedback (not dropped, which would blank the judge's feedback)."""
    competition, people, judge, rubric = await _night(db)
    token = await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[0].id}"
    saved = await _post(client, url, token, {"values": {str(rubric[0].id): 6}, "comment": "Old page",
                                             "action": "save"})
    assert saved.status_code == 200 and saved.json()["feedback"] == "Old page"
    assert saved.json()["private_note"] == ""
    too_long = await _post(client, url, token, {"values": {}, "private_note": "x" * 4001, "action": "save"})
    assert too_long.status_code == 422 and "Keep the private note to 4000 characters" in too_long.json()["error"]
    async with db.read() as session:
        sheet = await session.scalar(select(ScoreSheet).where(ScoreSheet.judge_id == judge.id))
    assert (sheet.feedback, sheet.private_note) == ("Old page", "")


async def test_a_pitch_not_started_is_refused_with_a_code_the_script_retries(client, db):
    competition, people, judge, rubric = await _night(db)
    token = await _signed_in(client, judge)
    refused = await _post(client, f"/judging/{competition.id}/entrants/{people[2].id}", token,
                          {"values": {str(rubric[0].id): 5}, "action": "save"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_started" and "opens when their pitch starts" in refused.json()["error"]
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id)).where(ScoreSheet.judge_id == judge.id)) == 0


@pytest.mark.parametrize("body, status, code", [
    ("not json", 422, "invalid"),
    ([1, 2], 422, "invalid"),
    ({"values": {"x": 5}}, 422, "invalid"),
    ({"values": {"1": "5"}}, 422, "invalid"),
    ({"values": {"1": True}}, 422, "invalid"),
    ({"values": {}, "feedback": 5}, 422, "invalid"),
    ({"values": {}, "private_note": ["x"]}, 422, "invalid"),
    ({"values": {}, "action": "publish"}, 400, "refused"),
    ({"values": {"999999": 5}}, 422, "invalid"),
])
async def test_bad_json_is_refused_and_records_nothing(client, db, body, status, code):
    competition, people, judge, _ = await _night(db)
    token = await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[0].id}"
    if body == "not json":
        response = await client.post(url, content="{oops", headers={"Content-Type": "application/json",
                                                                    "X-CSRF-Token": token})
    else:
        response = await _post(client, url, token, body)
    assert response.status_code == status and response.json()["code"] == code
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id)).where(ScoreSheet.judge_id == judge.id)) == 0


async def test_json_saves_need_the_csrf_header(client, db):
    competition, people, judge, rubric = await _night(db)
    token = await _signed_in(client, judge)
    url = f"/judging/{competition.id}/entrants/{people[0].id}"
    body = {"values": {str(rubric[0].id): 5}, "action": "save"}
    assert (await _post(client, url, token, body, header=False)).status_code == 403
    wrong = await client.post(url, content=json.dumps(body), headers={"Content-Type": "application/json",
                                                                      "X-CSRF-Token": token + "x"})
    assert wrong.status_code == 403
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id)).where(ScoreSheet.judge_id == judge.id)) == 0


async def test_the_state_the_script_polls(client, db):
    competition, people, judge, rubric = await _night(db)
    token = await _signed_in(client, judge)
    await _post(client, f"/judging/{competition.id}/entrants/{people[1].id}", token,
                {"values": {str(rubric[0].id): 5}, "action": "save"})
    response = await client.get(f"/judging/{competition.id}/state.json")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.json() == {"closed": False, "entrants": [
        {"id": people[0].id, "open": True, "status": "to score"},  # the rival's submitted sheet is not ours
        {"id": people[1].id, "open": True, "status": "draft"},
        {"id": people[2].id, "open": False, "status": "to score"}]}
