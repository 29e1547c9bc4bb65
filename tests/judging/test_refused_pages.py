"""Every organiser action that a domain error refuses answers with the same kind of page (judging.pages.refusing):
the error's status and message, inside the layout, with the way back to the page the action belongs to."""

from __future__ import annotations

import re

import pytest

from judging.competitions import release_results
from tests.conftest import csrf_for
from tests.core.helpers import assert_error_page, sign_in
from tests.judging.factories import make_competition, make_entrant, make_judge, score

# (what the organiser does, POST path under the competition, form, status, message, way back, its label)
# on a competition whose results are released. "{entrant}" is its one entrant's id.
CLOSED = [
    ("start scoring", "start", {}, 400, "Scoring has already started.", "", "Go back"),
    ("reject an entrant", "entrants/{entrant}/status", {"status": "rejected"}, 409,
     "entrants can no longer change", "entrants", "Back to entrants"),
    ("reorder", "running-order", {}, 409, "the running order can no longer change", "entrants", "Back to entrants"),
    ("add a round", "rounds", {"round_name": "Heat 9"}, 409, "rounds can no longer change", "entrants",
     "Back to entrants"),
    ("advance nobody", "advance", {}, 422, "Choose the final to advance entrants into.", "entrants",
     "Back to entrants"),
    ("unlock a sheet that is not there", "sheets/999999/unlock", {"reason": "Typo"}, 404,
     "There is no score sheet with that number", "live", "Back to the live view"),
    ("cast a decision", "chair-order", {}, 409, "the casting decision cannot change", "results", "Back to results"),
    ("release again", "release", {"confirm": "on", "visibility": "public"}, 409, "already been released",
     "results", "Back to results"),
    ("next entrant", "host/next", {"from_entrant_id": ""}, 409, "the night is over", "host", "Back"),
    ("start a pitch", "host/start", {"entrant_id": ""}, 409, "the night is over", "host", "Back"),
    ("open the vote from the results page", "voting", {"voting": "open", "back": "results"}, 409,
     "the audience vote cannot open again", "results", "Back"),
    ("a vote choice that is not one, from elsewhere", "voting",
     {"voting": "maybe", "back": "https://elsewhere.example/"}, 400, "Choose whether to open or close the vote.",
     "host", "Back"),
    ("open scoring", "entrants/{entrant}/open-scoring", {}, 409, "the night is over", "entrants", "Back"),
]


def way_back(text: str) -> tuple[str, str] | None:
    found = re.search(r'<section class="error-page".*?<p><a href="([^"]*)">([^<]*)</a></p>', text, re.DOTALL)
    return (found.group(1), found.group(2)) if found else None


@pytest.fixture
async def released(db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        await score(session, competition, judge, entrant, 7)
        await release_results(session=session, competition=competition, visibility="public",
                              actor_id=None)
    return competition.id, entrant.id


@pytest.mark.parametrize(("action", "path", "form", "status", "message", "back", "label"), CLOSED,
                         ids=[case[0] for case in CLOSED])
async def test_a_refused_action_says_why_and_links_back(client, db, released, action, path, form, status,
                                                       message, back, label):
    competition_id, entrant_id = released
    base = f"/organiser/competitions/{competition_id}"
    await sign_in(client, db)
    token = await csrf_for(client, base)
    if form.get("back") in ("host", "results"):
        form = {**form, "back": f"{base}/{form['back']}"}
    response = await client.post(f"{base}/{path.format(entrant=entrant_id)}", data={"csrf_token": token, **form})
    assert_error_page(response, status, message)
    assert way_back(response.text) == (f"{base}/{back}" if back else base, label)


async def test_nothing_to_print_links_back_to_the_competition(client, db):
    async with db.write() as session:
        competition = await make_competition(session)
    await sign_in(client, db)
    base = f"/organiser/competitions/{competition.id}"
    for name in ("score-sheets.pdf", "feedback.pdf", "results.pdf"):
        response = await client.get(f"{base}/{name}")
        assert_error_page(response, 409, "to print")
        assert way_back(response.text) == (base, "Back to the competition")


async def test_a_dead_sign_in_link_offers_the_listings_not_a_competition(client):
    response = await client.get("/judging/magic/not-a-link")
    assert response.status_code in (404, 410)
    assert way_back(response.text) == ("/", "See what’s on")
