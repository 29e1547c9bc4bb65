"""The host screen: the entrant up now, the pitch countdown (and its end time without JavaScript), next
entrant / start pitch, scoring that opens with the pitch, the organiser's override, and the vote's QR code."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from judging import night, sheets, votes
from judging.competitions import get_competition
from judging.errors import JudgingError, PitchNotStarted, ScoringClosed
from judging.models import AuditEntry, Competition, Entrant, ScoreSheet
from kernel.accounts import Role
from kernel.db import utcnow
from kernel.web import london, london_time
from tests.conftest import csrf_for, login
from tests.core.helpers import new_client, page_text, sign_in
from tests.factories import PASSWORD
from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, score


async def _night(db, *, entrants: int = 3):
    """A 4-minute-pitch competition whose entrants wait for their pitch, and a judge."""
    async with db.write() as session:
        competition = await make_competition(session, name="Lozells Dragons", pitch_seconds=240)
        people = [await make_entrant(session, competition, open_scoring=False, enterprise=f"Venture {i}",
                                     name=f"Founder {i}", pitch=f"Idea number {i} in one line")
                  for i in range(1, entrants + 1)]
        judge = await make_judge(session, competition, name="Judge Ama")
    return competition, people, judge


async def _fresh(session, competition) -> Competition:
    return await session.get(Competition, competition.id)


async def _next(session, competition, from_entrant_id):
    return await night.next_entrant(session=session, competition=competition, actor_id=None,
                                    from_entrant_id=from_entrant_id)


# --- the services ----------------------------------------------------------------------------------

async def test_next_entrant_then_start_pitch_opens_scoring_for_that_entrant_only(db):
    competition, people, judge = await _night(db)
    async with db.write() as session:
        c = await _fresh(session, competition)
        with pytest.raises(JudgingError, match="Bring up an entrant first"):
            await night.start_pitch(session=session, competition=c, actor_id=None)
        first = (await night.next_entrant(session=session, competition=c, actor_id=None, from_entrant_id=None)).entrant
        assert first.id == people[0].id and c.current_entrant_id == people[0].id
        assert not c.rubric_locked  # bringing someone up is not scoring yet
        started = await night.start_pitch(session=session, competition=c, actor_id=None)
        assert started.pitch_started_at is not None and started.scoring_opened_at == started.pitch_started_at
        assert c.rubric_locked and c.status == "scoring"
        assert started.pitch_ends_at(c.pitch_seconds) == started.pitch_started_at + dt.timedelta(minutes=4)
        with pytest.raises(JudgingError, match=r"already started at \d\d:\d\d"):
            await night.start_pitch(session=session, competition=c, actor_id=None)
    async with db.write() as session:
        c = await _fresh(session, competition)
        await score(session, c, judge, people[0], 7)  # open: accepted
        with pytest.raises(PitchNotStarted, match="Scoring for Venture 2 opens when their pitch starts") as caught:
            await score(session, c, judge, people[1], 7)
        assert caught.value.status == 409
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 1
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"host.next", "pitch.start", "rubric.lock"} <= actions


async def test_next_entrant_walks_the_running_order_and_stops_at_the_end(db):
    competition, people, _ = await _night(db, entrants=2)
    async with db.write() as session:
        c = await _fresh(session, competition)
        assert (await _next(session, c, None)).entrant.id == people[0].id
        assert (await _next(session, c, people[0].id)).entrant.id == people[1].id
        with pytest.raises(JudgingError, match="Venture 2 is the last entrant"):
            await _next(session, c, people[1].id)
        stage = await night.stage(session=session, competition=c)
        assert (stage.position, stage.following) == (2, None)


async def test_the_organisers_override_opens_scoring_without_a_pitch(db):
    competition, people, judge = await _night(db)
    async with db.write() as session:
        c = await _fresh(session, competition)
        entrant = await night.open_scoring(session=session, competition=c, entrant_id=people[2].id, actor_id=None)
        assert entrant.scoring_open and entrant.pitch_started_at is None and c.rubric_locked
        with pytest.raises(JudgingError, match="already open"):
            await night.open_scoring(session=session, competition=c, entrant_id=people[2].id, actor_id=None)
        await score(session, c, judge, people[2], 5)
        c.status, c.results_released_at = "closed", utcnow()
        with pytest.raises(ScoringClosed):
            await night.open_scoring(session=session, competition=c, entrant_id=people[1].id, actor_id=None)


# --- the pages -------------------------------------------------------------------------------------

async def test_host_screen_start_pitch_and_countdown(app, client, db):
    competition, people, judge = await _night(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/host"
    page = await client.get(url)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page_text(page)
    assert "3 entrants tonight" in text and "Next entrant: Venture 1" in text
    assert '<script src="/static/js/judging-host.js" defer></script>' in page.text
    assert '<noscript><meta http-equiv="refresh" content="20"></noscript>' in page.text
    token = await csrf_for(client, f"/organiser/competitions/{competition.id}")
    assert (await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": ""})).status_code == 303
    text = page_text(await client.get(url))
    assert "Venture 1" in text and "Founder 1" in text and "Idea number 1 in one line" in text
    assert "Pitch 1 of 3" in text and "4:00" in text and "Start pitch" in text
    started = await client.post(f"{url}/start", data={"csrf_token": token, "entrant_id": str(people[0].id)})
    assert started.status_code == 303 and started.headers["location"] == url
    page = await client.get(url)
    text = page_text(page)
    assert "Venture 1’s pitch has started" in text and "Start pitch" not in text
    # Without JavaScript the clock says when the pitch ends; the script counts down to the same moment.
    async with db.read() as session:
        entrant = await session.get(Entrant, people[0].id)
    ends = entrant.pitch_started_at + dt.timedelta(minutes=4)
    assert f'data-ends-at="{ends.isoformat()}"' in page.text
    assert f'<p class="countdown" id="countdown" data-ends-at="{ends.isoformat()}">ends {london_time(ends)}</p>' in page.text
    assert f'ends at <time datetime="{ends.isoformat()}">{london(ends, "%H:%M:%S")}</time>' in page.text
    state = (await client.get(f"{url}.json")).json()
    assert state["current"] == people[0].id and state["ends_at"] == ends.isoformat()
    assert state["voting_open"] is False and state["total_votes"] == 0
    # Judges may score Venture 1 now, not Venture 2.
    async with new_client(app) as phone:
        await login(phone, judge.email, PASSWORD)
        async with db.read() as session:
            rubric = await criteria(session, competition)
        form = {"csrf_token": await csrf_for(phone, "/judging/"), "action": "submit",
                **{f"c{c.id}": "6" for c in rubric}}
        closed_page = await phone.get(f"/judging/{competition.id}/entrants/{people[1].id}")
        assert "Scoring opens when the pitch starts" in page_text(closed_page)
        assert 'name="action"' not in closed_page.text
        refused = await phone.post(f"/judging/{competition.id}/entrants/{people[1].id}", data=form)
        assert refused.status_code == 409 and "opens when their pitch starts" in page_text(refused)
        ok = await phone.post(f"/judging/{competition.id}/entrants/{people[0].id}", data=form)
        assert ok.status_code == 303
    async with db.read() as session:
        assert await session.scalar(select(func.count(ScoreSheet.id))) == 1


async def test_the_vote_qr_shows_on_the_host_screen_only_while_the_vote_is_open(client, db):
    competition, _, _ = await _night(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/host"
    page = await client.get(url)
    assert "<svg" not in page.text and "Open the audience vote" in page_text(page)
    token = await csrf_for(client, url)
    opened = await client.post(f"/organiser/competitions/{competition.id}/voting",
                               data={"csrf_token": token, "voting": "open"})
    assert opened.status_code == 303 and opened.headers["location"] == url
    page = await client.get(url)
    text = page_text(page)
    assert "People’s choice: vote now" in text and "<svg" in page.text
    assert f"http://testserver/judging/vote/{competition.id}" in text
    assert "Audience vote: 0 votes" in re.sub(r"<[^>]+>", "", text)
    assert "Close the vote" in text
    closed = await client.post(f"/organiser/competitions/{competition.id}/voting",
                               data={"csrf_token": token, "voting": "close"})
    assert closed.status_code == 303
    page = await client.get(url)
    assert "<svg" not in page.text and "(closed)" in page.text and "Reopen the audience vote" in page_text(page)


async def test_host_refusals_are_clear_pages(client, db):
    competition, _, _ = await _night(db, entrants=1)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/host"
    token = await csrf_for(client, url)
    refused = await client.post(f"{url}/start", data={"csrf_token": token, "entrant_id": ""})
    assert refused.status_code == 400 and "Bring up an entrant first" in page_text(refused)
    await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": ""})
    async with db.read() as session:
        only = (await session.get(Competition, competition.id)).current_entrant_id
    last = await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": str(only)})
    assert last.status_code == 400 and "is the last entrant in the running order" in page_text(last)


async def test_only_organisers_reach_the_host_screen(app, db):
    competition, _, _ = await _night(db)
    url = f"/organiser/competitions/{competition.id}/host"
    for role in (Role.JUDGE, Role.DOOR_STAFF):
        async with new_client(app) as other:
            await sign_in(other, db, role)
            assert (await other.get(url)).status_code == 403
            assert (await other.get(f"{url}.json")).status_code == 403
            token = await csrf_for(other)
            assert (await other.post(f"{url}/start", data={"csrf_token": token})).status_code == 403
    async with db.read() as session:
        assert (await session.get(Competition, competition.id)).current_entrant_id is None


async def test_entrants_page_opens_scoring_without_a_pitch(client, db):
    competition, people, judge = await _night(db)
    await sign_in(client, db)
    page = await client.get(f"/organiser/competitions/{competition.id}/entrants")
    assert page_text(page).count("opens when the pitch starts") == 3
    token = await csrf_for(client, f"/organiser/competitions/{competition.id}/entrants")
    response = await client.post(f"/organiser/competitions/{competition.id}/entrants/{people[1].id}/open-scoring",
                                 data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == f"/organiser/competitions/{competition.id}/entrants"
    assert "open since" in page_text(await client.get(response.headers["location"]))
    async with db.write() as session:
        c = await _fresh(session, competition)
        await sheets.save_sheet(session=session, competition=c, judge_id=judge.id, entrant_id=people[1].id,
                                values={}, feedback="Strong", submit=False)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "scoring.open"))
    assert entry.subject == "Venture 2"


async def test_voting_state_reaches_the_host_json(client, db):
    competition, people, _ = await _night(db)
    async with db.write() as session:
        c = await _fresh(session, competition)
        await votes.open_voting(session=session, competition=c, actor_id=None)
    await sign_in(client, db)
    state = (await client.get(f"/organiser/competitions/{competition.id}/host.json")).json()
    assert state["voting_open"] is True and state["current"] is None
    assert state["votes"] == {str(p.id): 0 for p in people}


# --- next entrant: once per press, and its undo ------------------------------------------------------

async def _up_now(db, competition) -> int | None:
    async with db.read() as session:
        return (await session.get(Competition, competition.id)).current_entrant_id


async def _audited(db, action: str) -> list[AuditEntry]:
    async with db.read() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                          .order_by(AuditEntry.id)))


async def test_a_double_press_on_next_entrant_moves_the_stage_once(client, db):
    """Two presses of "Next entrant" from one screen (a double tap, at the same moment) carry the same
    entrant on stage: the first moves the stage on, the second changes nothing and says who is up."""
    competition, people, _ = await _night(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/host"
    token = await csrf_for(client, url)
    assert (await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": ""})).status_code == 303
    assert await _up_now(db, competition) == people[0].id
    page = await client.get(url)
    assert f'name="from_entrant_id" value="{people[0].id}"' in page.text  # what the screen's button sends
    press = {"csrf_token": token, "from_entrant_id": str(people[0].id)}
    first, second = await asyncio.gather(client.post(f"{url}/next", data=press),
                                         client.post(f"{url}/next", data=press))
    assert (first.status_code, second.status_code) == (303, 303)
    assert await _up_now(db, competition) == people[1].id  # Venture 2, not Venture 3
    # Pressed again later from the same stale screen: still nothing, and the page says who is up.
    again = await client.post(f"{url}/next", data=press)
    assert again.status_code == 303 and again.headers["location"] == url
    page = await client.get(url)
    text = page_text(page)
    assert "already moved on, so that press changed nothing: Venture 2 is up." in text
    assert re.search(r'class="flash flash-warning host-flash"[^>]*>The stage had already moved on', page.text)
    assert "Pitch 2 of 3" in text and "Next entrant: Venture 3" in text
    assert await _up_now(db, competition) == people[1].id
    moves = [(e.old, e.new) for e in await _audited(db, "host.next")]
    assert moves == [(None, "Venture 1"), ("Venture 1", "Venture 2")]  # two moves, each audited once


async def test_two_workers_pressing_next_from_the_same_screen_advance_once(db):
    """The same race in the services, each press in its own transaction at once (two app workers): the
    competition row is locked, so the second sees the first's move."""
    competition, people, _ = await _night(db)
    async with db.write() as session:
        await _next(session, await _fresh(session, competition), None)

    async def press():
        async with db.write() as session:
            locked = await get_competition(session=session, competition_id=competition.id, for_update=True)
            return await _next(session, locked, people[0].id)

    moves = await asyncio.gather(press(), press())
    assert sorted(m.moved for m in moves) == [False, True]
    assert {m.entrant.id for m in moves} == {people[1].id}
    assert await _up_now(db, competition) == people[1].id


async def test_back_to_previous_entrant_undoes_next_and_is_audited(client, db):
    competition, people, _ = await _night(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/host"
    token = await csrf_for(client, url)
    on_screen = ""
    for person in people:  # Next three times: Venture 3 is up
        assert (await client.post(f"{url}/next", data={"csrf_token": token,
                                                        "from_entrant_id": on_screen})).status_code == 303
        on_screen = str(person.id)
    page = await client.get(url)
    assert "Back to previous entrant: Venture 2" in page_text(page)
    assert f'name="from_entrant_id" value="{people[2].id}"' in page.text
    back = await client.post(f"{url}/back", data={"csrf_token": token, "from_entrant_id": str(people[2].id)})
    assert back.status_code == 303 and back.headers["location"] == url
    assert await _up_now(db, competition) == people[1].id
    text = page_text(await client.get(url))
    assert "Back to Venture 2: they are up again." in text and "Pitch 2 of 3" in text
    assert "Back to previous entrant: Venture 1" in text and "Next entrant: Venture 3" in text
    # The undo pressed twice from the same screen goes back once.
    stale = await client.post(f"{url}/back", data={"csrf_token": token, "from_entrant_id": str(people[2].id)})
    assert stale.status_code == 303 and await _up_now(db, competition) == people[1].id
    assert [(e.old, e.new) for e in await _audited(db, "host.back")] == [("Venture 3", "Venture 2")]
    # Back to the first, and no further.
    await client.post(f"{url}/back", data={"csrf_token": token, "from_entrant_id": str(people[1].id)})
    assert await _up_now(db, competition) == people[0].id
    assert "Back to previous entrant" not in page_text(await client.get(url))
    first = await client.post(f"{url}/back", data={"csrf_token": token, "from_entrant_id": str(people[0].id)})
    assert first.status_code == 400 and "Venture 1 is the first entrant in the running order" in page_text(first)
    assert await _up_now(db, competition) == people[0].id


async def test_host_presses_without_the_entrant_on_screen_or_from_a_stale_screen_are_refused(client, db):
    competition, people, _ = await _night(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/host"
    token = await csrf_for(client, url)
    for action in ("next", "back"):  # a page from before presses carried it cannot be told from a double press
        old = await client.post(f"{url}/{action}", data={"csrf_token": token})
        assert old.status_code == 422 and "out of date: reload it" in page_text(old)
    junk = await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": "Venture 1"})
    assert junk.status_code == 422 and "Reload the host screen" in page_text(junk)
    assert await _up_now(db, competition) is None
    await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": ""})
    await client.post(f"{url}/next", data={"csrf_token": token, "from_entrant_id": str(people[0].id)})
    # "Start pitch" pressed on a screen still showing Venture 1, while Venture 2 is up: nothing starts.
    stale = await client.post(f"{url}/start", data={"csrf_token": token, "entrant_id": str(people[0].id)})
    assert stale.status_code == 400 and "moved on: Venture 2 is up now. No pitch was started." in page_text(stale)
    async with db.read() as session:
        assert all(e.pitch_started_at is None for e in await session.scalars(select(Entrant)))
