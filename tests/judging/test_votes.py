"""The people's-choice vote: one vote per checked-in ticket, from the ticket page or the public vote page;
every refusal is a clear 4xx with nothing recorded; the tally feeds the combined result."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select

from judging import votes
from judging.competitions import Settings, get_competition, release_results, update_settings
from judging.errors import (
    AlreadyVoted,
    InvalidInput,
    JudgingError,
    NotEligible,
    NotFound,
    RubricLocked,
    VotingClosed,
)
from judging.models import AudienceVote, Competition
from judging.results import load_results
from judging.rounds import add_round, advance_entrants
from tests.conftest import csrf_for
from tests.core.helpers import new_client, page_text, sign_in
from tests.judging.factories import make_competition, make_entrant, make_judge, make_tickets, score
from ticketing.models import TicketStatus


async def _night(db, *, open_vote: bool = True, weight: int = 0):
    """A competition with three entrants, four checked-in tickets and one not checked in."""
    async with db.write() as session:
        competition = await make_competition(session, name="Handsworth Dragons", audience_weight_percent=weight)
        entrants = [await make_entrant(session, competition, enterprise=name)
                    for name in ("Pantry", "Bike Co-op", "Repair Café")]
        inside = await make_tickets(session, competition.event_id, 4)
        outside = (await make_tickets(session, competition.event_id, 1, checked_in=False))[0]
        if open_vote:
            await votes.open_voting(session=session, competition=competition, actor_id=None)
    return competition, entrants, inside, outside


def words(response) -> str:
    """What a reader sees: the page text without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page_text(response)))


async def _vote_count(db) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count(AudienceVote.id))) or 0


async def _cast(db, competition, ticket_code: str, entrant_id: int | None, via: str = votes.VIA_CODE):
    async with db.write() as session:
        return await votes.cast_vote(session=session, competition_id=competition.id, ticket_code=ticket_code,
                                     entrant_id=entrant_id, via=via)


# --- the rules -------------------------------------------------------------------------------------

async def test_a_checked_in_ticket_votes_once_and_the_tally_counts_it(db):
    competition, entrants, inside, _ = await _night(db)
    vote = await _cast(db, competition, inside[0].code, entrants[1].id)
    assert vote.entrant_id == entrants[1].id and vote.via == "code"
    await _cast(db, competition, f"https://denhub.example/tickets/{inside[1].code}", entrants[1].id)  # pasted link
    await _cast(db, competition, inside[2].code, entrants[0].id, via=votes.VIA_TICKET)
    with pytest.raises(AlreadyVoted, match=r"already voted \(for Bike Co-op, at \d\d:\d\d\)"):
        await _cast(db, competition, inside[0].code, entrants[2].id)
    async with db.read() as session:
        assert await votes.tally(session=session, competition_id=competition.id) == {entrants[1].id: 2,
                                                                                    entrants[0].id: 1}
        rows = await votes.tally_rows(session=session, competition_id=competition.id)
    assert [(e.enterprise, n) for e, n in rows.rows] == [("Pantry", 1), ("Bike Co-op", 2), ("Repair Café", 0)]
    assert rows.total == 3 and rows.top == 2
    assert await _vote_count(db) == 3


@pytest.mark.parametrize("case", ["not checked in", "cancelled", "other event", "unknown", "closed",
                                  "never opened", "bad entrant", "other competition's entrant"])
async def test_refusals_are_clear_and_record_nothing(db, case):
    competition, entrants, inside, outside = await _night(db, open_vote=case != "never opened")
    code, entrant_id = inside[0].code, entrants[0].id
    expected: tuple[type[JudgingError], int, str]
    if case == "not checked in":
        code, expected = outside.code, (NotEligible, 403, "Only tickets checked in at the door can vote")
    elif case == "cancelled":
        async with db.write() as session:
            ticket = await session.get(type(inside[0]), inside[0].id)
            ticket.status = TicketStatus.CANCELLED.value
        expected = (NotEligible, 403, "has been cancelled")
    elif case == "other event":
        async with db.write() as session:
            other = await make_competition(session)
            code = (await make_tickets(session, other.event_id, 1))[0].code
        expected = (NotEligible, 403, "for a different event")
    elif case == "unknown":
        code, expected = "NoSuchTicket99", (NotFound, 404, "could not find a ticket with that code")
    elif case == "closed":
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await votes.close_voting(session=session, competition=fresh, actor_id=None)
        expected = (VotingClosed, 409, "Voting is closed")
    elif case == "never opened":
        expected = (VotingClosed, 409, "Voting has not opened yet")
    elif case == "bad entrant":
        entrant_id, expected = None, (InvalidInput, 422, "Choose one of the entrants")
    else:
        async with db.write() as session:
            other = await make_competition(session)
            entrant_id = (await make_entrant(session, other)).id
        expected = (InvalidInput, 422, "Choose one of the entrants")
    error, status, message = expected
    with pytest.raises(error, match=re.escape(message)) as caught:
        await _cast(db, competition, code, entrant_id)
    assert caught.value.status == status
    assert await _vote_count(db) == 0


async def test_ten_simultaneous_votes_with_one_ticket_record_exactly_one(db):
    """Ten phones voting with the same ticket at once (own sessions, own transactions): the unique
    constraint lets one in; the nine others are told the ticket has already voted."""
    competition, entrants, inside, _ = await _night(db)
    outcomes = await asyncio.gather(*(_cast(db, competition, inside[0].code, entrants[i % 3].id)
                                      for i in range(10)), return_exceptions=True)
    recorded = [o for o in outcomes if isinstance(o, AudienceVote)]
    refused = [o for o in outcomes if isinstance(o, AlreadyVoted)]
    assert len(recorded) == 1 and len(refused) == 9, outcomes
    assert await _vote_count(db) == 1
    async with db.read() as session:
        assert sum((await votes.tally(session=session, competition_id=competition.id)).values()) == 1
    # Other tickets still vote normally afterwards.
    await _cast(db, competition, inside[1].code, entrants[0].id)
    assert await _vote_count(db) == 2


async def test_the_audience_weight_is_fixed_once_the_vote_opens(db):
    competition, *_ = await _night(db, open_vote=False, weight=20)
    change = Settings(name=competition.name, pitch_seconds=300, audience_weight_percent=30,
                      tie_break=list(competition.tie_break), applications_open=True)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        await votes.open_voting(session=session, competition=fresh, actor_id=None)
    with pytest.raises(RubricLocked, match="fixed when the audience vote opened"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await update_settings(session=session, competition=fresh, data=change, actor_id=None)
    async with db.read() as session:
        assert (await session.get(Competition, competition.id)).audience_weight_percent == 20


async def test_open_close_reopen_and_release_closes_the_vote(db):
    competition, entrants, inside, _ = await _night(db, open_vote=False)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        with pytest.raises(VotingClosed):
            await votes.close_voting(session=session, competition=fresh, actor_id=None)
        await votes.open_voting(session=session, competition=fresh, actor_id=None)
        with pytest.raises(JudgingError, match="already open"):
            await votes.open_voting(session=session, competition=fresh, actor_id=None)
        await votes.close_voting(session=session, competition=fresh, actor_id=None)
        await votes.open_voting(session=session, competition=fresh, actor_id=None)
        assert fresh.voting_open
        judge = await make_judge(session, fresh)
        await score(session, fresh, judge, entrants[0], 6)
        await release_results(session=session, competition=fresh, visibility="public", actor_id=None)
        assert not fresh.voting_open and fresh.voting_closed_at is not None
        with pytest.raises(VotingClosed, match="cannot open again"):
            await votes.open_voting(session=session, competition=fresh, actor_id=None)
    with pytest.raises(VotingClosed):
        await _cast(db, competition, inside[0].code, entrants[0].id)


async def test_the_combined_result_uses_the_real_vote_count(db):
    """Judges 80 %, audience 20 % (fixed before scoring). Two judges; votes 1 : 3 turn the order round."""
    async with db.write() as session:
        competition = await make_competition(session, audience_weight_percent=20)
        alpha = await make_entrant(session, competition, enterprise="Alpha")
        beta = await make_entrant(session, competition, enterprise="Beta")
        tickets = await make_tickets(session, competition.event_id, 4)
        await votes.open_voting(session=session, competition=competition, actor_id=None)
        one, two = await make_judge(session, competition), await make_judge(session, competition)
        # Totals: a mark m on every criterion gives 100 (m - 1) / 9. Alpha (8, 7) -> 72.2; Beta (7, 6) -> 61.1.
        for judge, (a, b) in ((one, (8, 7)), (two, (7, 6))):
            await score(session, competition, judge, alpha, a)
            await score(session, competition, judge, beta, b)
    for ticket, entrant in zip(tickets, (alpha, beta, beta, beta), strict=True):
        await _cast(db, competition, ticket.code, entrant.id)
    async with db.read() as session:
        view = await load_results(session=session, competition=await session.get(Competition, competition.id))
    r = view.groups[0].results
    assert (r.entrants[alpha.id].audience_votes, r.entrants[beta.id].audience_votes) == (1, 3)
    # Audience scores 100 x 1/3 = 33.3 and 100. Alpha 0.8 x 72.22 + 0.2 x 33.33 = 64.44; Beta 0.8 x 61.11 + 20 = 68.89.
    assert r.entrants[alpha.id].combined == pytest.approx(64.444, abs=1e-2)
    assert r.entrants[beta.id].combined == pytest.approx(68.889, abs=1e-2)
    assert [p.entrant for p in r.combined.places] == [beta.id, alpha.id]
    assert [p.entrant for p in r.raw.places] == [alpha.id, beta.id]
    assert view.total_votes == 4 and view.peoples_choice[0] == (view.entrants[beta.id], 3)


# --- through HTTP ----------------------------------------------------------------------------------

async def test_vote_from_the_ticket_page(client, db):
    competition, entrants, inside, outside = await _night(db)
    url = f"/tickets/{inside[0].code}"
    page = await client.get(url)
    assert page.status_code == 200
    text = page_text(page)
    assert "People’s choice: Handsworth Dragons" in text and "Cast my vote" in text
    for e in entrants:
        assert f'name="entrant" value="{e.id}"' in page.text
    assert f'name="ticket" value="{inside[0].code}"' in page.text
    token = await csrf_for(client, url)
    response = await client.post(f"/judging/vote/{competition.id}", data={
        "csrf_token": token, "ticket": inside[0].code, "entrant": str(entrants[2].id), "from": "ticket"})
    assert response.status_code == 303 and response.headers["location"] == url
    after = page_text(await client.get(url))
    assert "Thank you: your vote for Repair Café is in." in after
    assert "You voted for <strong>Repair Café</strong> at" in after and "Cast my vote" not in after
    again = await client.post(f"/judging/vote/{competition.id}", data={
        "csrf_token": token, "ticket": inside[0].code, "entrant": str(entrants[0].id), "from": "ticket"})
    assert again.status_code == 409
    assert "This ticket has already voted (for Repair Café" in page_text(again)
    assert "Back to your ticket" in page_text(again)
    # Not checked in: the page says why, and offers no form.
    outside_page = page_text(await client.get(f"/tickets/{outside.code}"))
    assert "Only tickets checked in at the door can vote" in outside_page and "Cast my vote" not in outside_page
    refused = await client.post(f"/judging/vote/{competition.id}", data={
        "csrf_token": token, "ticket": outside.code, "entrant": str(entrants[0].id), "from": "ticket"})
    assert refused.status_code == 403
    assert await _vote_count(db) == 1


async def test_the_ticket_page_shows_no_ballot_when_the_vote_is_not_open(client, db):
    _, _, inside, _ = await _night(db, open_vote=False)
    page = await client.get(f"/tickets/{inside[0].code}")
    assert page.status_code == 200 and "People’s choice" not in page.text


async def test_the_public_vote_page(app, client, db):
    competition, entrants, inside, _ = await _night(db, open_vote=False)
    url = f"/judging/vote/{competition.id}"
    closed = await client.get(url)
    assert closed.status_code == 200 and "Voting has not opened yet" in page_text(closed)
    assert 'name="ticket"' not in closed.text
    async with db.write() as session:
        await votes.open_voting(session=session, competition=await session.get(Competition, competition.id),
                                actor_id=None)
    page = await client.get(url)
    assert page.status_code == 200 and "Your ticket code" in page_text(page)
    assert page.headers["cache-control"] == "no-store"
    token = await csrf_for(client, url)
    typo = await client.post(url, data={"csrf_token": token, "ticket": "wrong-code-123", "entrant": str(entrants[0].id)})
    assert typo.status_code == 404 and "could not find a ticket with that code" in page_text(typo)
    assert 'value="wrong-code-123"' in typo.text  # kept, to correct
    no_choice = await client.post(url, data={"csrf_token": token, "ticket": inside[1].code})
    assert no_choice.status_code == 422 and "Choose one of the entrants" in page_text(no_choice)
    done = await client.post(url, data={"csrf_token": token, "ticket": f" {inside[1].code} ",
                                        "entrant": str(entrants[0].id)})
    assert done.status_code == 303 and done.headers["location"] == f"{url}/thanks"
    thanks = await client.get(done.headers["location"])
    assert "your vote for Pantry is in" in page_text(thanks)
    missing_csrf = await client.post(url, data={"ticket": inside[2].code, "entrant": str(entrants[0].id)})
    assert missing_csrf.status_code == 403
    async with db.read() as session:
        vote = await session.scalar(select(AudienceVote))
    assert vote.via == "code" and await _vote_count(db) == 1


async def test_organiser_results_show_the_tally_and_open_and_close_the_vote(client, db):
    competition, entrants, inside, _ = await _night(db, open_vote=False, weight=20)
    await sign_in(client, db)
    results = f"/organiser/competitions/{competition.id}/results"
    page = page_text(await client.get(results))
    assert "People’s choice: the audience vote" in page and "Voting has not opened." in page
    assert "Open the vote" in page and "/audience" not in page  # no typed-in counts any more
    token = await csrf_for(client, results)
    opened = await client.post(f"/organiser/competitions/{competition.id}/voting",
                               data={"csrf_token": token, "voting": "open", "back": results})
    assert opened.status_code == 303 and opened.headers["location"] == results
    await _cast(db, competition, inside[0].code, entrants[1].id)
    page = words(await client.get(results))
    assert "Voting is open." in page and "1 vote cast" in page and "Bike Co-op 1 vote" in page
    overview = page_text(await client.get(f"/organiser/competitions/{competition.id}"))
    assert "fixed when the audience vote opened" in overview
    closed = await client.post(f"/organiser/competitions/{competition.id}/voting",
                               data={"csrf_token": token, "voting": "close", "back": "https://evil.example/"})
    assert closed.status_code == 303
    assert closed.headers["location"] == f"/organiser/competitions/{competition.id}/host"  # only our pages
    async with db.read() as session:
        assert not (await session.get(Competition, competition.id)).voting_open


async def test_people_outside_the_organisers_cannot_open_the_vote(app, db):
    competition, *_ = await _night(db, open_vote=False)
    async with new_client(app) as anonymous:
        token = await csrf_for(anonymous)
        response = await anonymous.post(f"/organiser/competitions/{competition.id}/voting",
                                        data={"csrf_token": token, "voting": "open"})
        assert response.status_code == 403
    async with db.read() as session:
        assert (await session.get(Competition, competition.id)).voting_opened_at is None


async def test_an_enterprise_in_a_heat_and_the_final_is_one_line_on_the_ballot_and_the_tally(db):
    """Advancing to the final makes a second entry for the same enterprise: the audience sees it once, and a
    vote sent for its heat entry (a page opened before it advanced) counts for the finalist."""
    async with db.write() as session:
        competition = await make_competition(session, name="Handsworth Dragons")
        heat = await add_round(session=session, competition=competition, name="Heat 1", actor_id=None)
        final = await add_round(session=session, competition=competition, name="Final", kind="final",
                                actor_id=None)
        pantry, bike, repair = [await make_entrant(session, competition, enterprise=name, round_id=heat.id)
                                for name in ("Pantry", "Bike Co-op", "Repair Café")]
        inside = await make_tickets(session, competition.event_id, 4)
        fresh = await get_competition(session=session, competition_id=competition.id, for_update=True)
        (finalist,) = await advance_entrants(session=session, competition=fresh, final_id=final.id,
                                             entrant_ids=[bike.id], actor_id=None)
        await votes.open_voting(session=session, competition=fresh, actor_id=None)
    heat_vote = await _cast(db, competition, inside[0].code, bike.id)
    assert heat_vote.entrant_id == finalist.id
    await _cast(db, competition, inside[1].code, finalist.id)
    await _cast(db, competition, inside[2].code, pantry.id)
    async with db.read() as session:
        rows = await votes.tally_rows(session=session, competition_id=competition.id)
        fresh = await session.get(Competition, competition.id)
        view = await load_results(session=session, competition=fresh)
        ballots = await votes.ballots_for_ticket(session=session, ticket=inside[3])
    assert [(e.enterprise, n) for e, n in rows.rows] == [("Pantry", 1), ("Repair Café", 0), ("Bike Co-op", 2)]
    assert rows.total == 3
    assert [(e.enterprise, n) for e, n in view.peoples_choice] == [("Bike Co-op", 2), ("Pantry", 1),
                                                                   ("Repair Café", 0)]
    assert view.total_votes == 3
    assert [e.id for e in ballots[0].entrants] == [pantry.id, repair.id, finalist.id]
