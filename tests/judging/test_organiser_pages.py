"""Organiser pages through HTTP: competition, entrants, rubric, judges (link + QR + email), live view,
unlock, results, release, audit trail."""

from __future__ import annotations

import re

from sqlalchemy import select

from judging import votes
from judging.models import AuditEntry, Competition, Criterion, Entrant, MagicLink, ScoreSheet
from kernel.accounts import Role
from kernel.mail import OutboxMessage
from tests.conftest import csrf_for
from tests.core.helpers import assert_error_page, assert_in_layout, page_text, sign_in
from tests.factories import make_event
from tests.judging.factories import criteria, make_competition, make_entrant, make_judge, make_tickets, score


async def _setup(db, **overrides):
    async with db.write() as session:
        competition = await make_competition(session, **overrides)
        event_id = competition.event_id
    return competition, event_id


async def test_create_a_competition_for_a_pitch_night(client, db):
    async with db.write() as session:
        event = await make_event(session, category="pitch_night", title="Dragons of Handsworth")
        await make_event(session, category="workshop", title="Not a pitch night")
    await sign_in(client, db, Role.ADMIN)
    page = await client.get("/organiser/competitions/new")
    assert page.status_code == 200 and "Dragons of Handsworth" in page.text and "Not a pitch night" not in page.text
    token = await csrf_for(client, "/organiser/competitions/new")
    response = await client.post("/organiser/competitions/new",
                                 data={"csrf_token": token, "event_id": str(event.id), "name": "", "pitch_minutes": "4"})
    assert response.status_code == 303
    async with db.read() as session:
        competition = await session.scalar(select(Competition))
    assert response.headers["location"] == f"/organiser/competitions/{competition.id}"
    assert competition.name == "Dragons of Handsworth" and competition.pitch_seconds == 240
    overview = await client.get(response.headers["location"])
    assert overview.status_code == 200
    assert_in_layout(overview)
    assert f"/judging/apply/{competition.id}" in overview.text
    listing = await client.get("/organiser/competitions")
    assert "Dragons of Handsworth" in listing.text
    bad = await client.post("/organiser/competitions/new", data={"csrf_token": token, "event_id": "", "pitch_minutes": "4"})
    assert bad.status_code == 422 and "Choose the pitch-night event" in page_text(bad)


async def test_entrants_add_edit_accept_reject_and_running_order(client, db):
    competition, _ = await _setup(db)
    async with db.write() as session:
        first = await make_entrant(session, await session.get(Competition, competition.id), enterprise="First Co")
    await sign_in(client, db)
    base = f"/organiser/competitions/{competition.id}"
    token = await csrf_for(client, f"{base}/entrants/new")
    response = await client.post(f"{base}/entrants/new", data={
        "csrf_token": token, "name": "Bilal", "enterprise": "Second Co", "pitch": "Solar for mosques",
        "social_mission": "Cheaper bills, greener community", "contact_email": "bilal@example.org"})
    assert response.status_code == 303
    missing = await client.post(f"{base}/entrants/new", data={"csrf_token": token, "name": "", "enterprise": "X"})
    assert missing.status_code == 422 and "Enter the name of the person pitching" in page_text(missing)
    async with db.read() as session:
        second = await session.scalar(select(Entrant).where(Entrant.enterprise == "Second Co"))
    assert second.status == "accepted" and second.running_order == 2
    page = await client.get(f"{base}/entrants")
    assert page.status_code == 200 and "First Co" in page.text and "Second Co" in page.text
    response = await client.post(f"{base}/running-order",
                                 data={"csrf_token": token, f"order_{first.id}": "2", f"order_{second.id}": "1"})
    assert response.status_code == 303
    async with db.read() as session:
        assert (await session.get(Entrant, first.id)).running_order == 2
    response = await client.post(f"{base}/entrants/{first.id}/status", data={"csrf_token": token, "status": "rejected"})
    assert response.status_code == 303
    async with db.read() as session:
        assert (await session.get(Entrant, first.id)).status == "rejected"
    edit = await client.post(f"{base}/entrants/{second.id}/edit", data={
        "csrf_token": token, "name": "Bilal A", "enterprise": "Second Co", "pitch": "Solar for mosques",
        "social_mission": "Cheaper bills", "contact_email": "bilal@example.org"})
    assert edit.status_code == 303
    # An entrant of another competition is not reachable through this one.
    other, _ = await _setup(db)
    async with db.write() as session:
        stranger = await make_entrant(session, await session.get(Competition, other.id))
    assert (await client.get(f"{base}/entrants/{stranger.id}/edit")).status_code == 404


async def test_rubric_page_edits_until_locked_then_refuses_with_a_clear_message(client, db):
    competition, _ = await _setup(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/rubric"
    page = await client.get(url)
    assert page.status_code == 200 and 'name="name_0" type="text" maxlength="80" value="Social impact"' in page.text
    form = {k: v for k, v in re.findall(r'name="((?:id|key|name|description|scale_min|scale_max|weight|position)_\d+)"'
                                         r'[^>]*?value="([^"]*)"', page.text)}
    form["csrf_token"] = await csrf_for(client, url)
    form["weight_1"] = "35"
    assert (await client.post(url, data=form)).status_code == 303
    async with db.read() as session:
        assert [c.weight for c in await criteria(session, competition)][:2] == [30, 35]
    start = await client.post(f"/organiser/competitions/{competition.id}/start", data={"csrf_token": form["csrf_token"]})
    assert start.status_code == 303
    locked = await client.get(url)
    assert "Locked." in locked.text and "name_0" not in locked.text
    form["weight_1"] = "5"
    refused = await client.post(url, data=form)
    assert refused.status_code == 409
    assert "The rubric is locked: scoring started on" in page_text(refused)
    async with db.read() as session:
        assert [c.weight for c in await criteria(session, competition)][1] == 35


async def test_inviting_a_judge_shows_the_link_and_a_qr_code_and_emails_it(client, db):
    competition, _ = await _setup(db)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/judges"
    token = await csrf_for(client, url)
    response = await client.post(url, data={"csrf_token": token, "name": "Grace Ade", "email": "grace@example.org",
                                            "is_chair": "on"})
    assert response.status_code == 200
    link = re.search(r'value="(http://testserver/judging/magic/[A-Za-z0-9_-]+)"', response.text).group(1)
    assert "<svg" in response.text and 'aria-label="QR code"' in response.text
    assert "A judge account was made for grace@example.org" in page_text(response)
    async with db.read() as session:
        message = await session.scalar(select(OutboxMessage).where(OutboxMessage.to_addr == "grace@example.org"))
        stored = await session.scalar(select(MagicLink))
    assert link in message.text_body
    assert link.rsplit("/", 1)[1] not in stored.token_hash  # only the hash is kept
    panel = await client.get(url)
    assert "Grace Ade" in panel.text and "Chair" in panel.text and link not in panel.text  # shown once
    refused = await client.post(url, data={"csrf_token": token, "name": "X", "email": "not-an-email"})
    assert refused.status_code == 422 and "Enter the judge’s email address" in page_text(refused)


async def test_live_view_works_without_javascript_and_serves_a_fragment(client, db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition, enterprise="Canal Bikes")
        judge = await make_judge(session, competition, name="Judge Dee")
        other = await make_judge(session, competition, name="Judge Ola")
        await score(session, competition, judge, entrant, [9, 8, 7, 6, 5])
        await score(session, competition, other, entrant, 4, submit=False)
    await sign_in(client, db)
    page = await client.get(f"/organiser/competitions/{competition.id}/live")
    assert page.status_code == 200
    assert '<noscript><meta http-equiv="refresh" content="15"></noscript>' in page.text
    assert '<script src="/static/js/judging-live.js" defer></script>' in page.text
    assert f'data-refresh-url="/organiser/competitions/{competition.id}/live?fragment=1"' in page.text
    text = page_text(page)
    assert "Canal Bikes" in text and "Judge Dee" in text and "Submitted" in text and "Draft" in text
    assert ">9<" not in page.text  # statuses and aggregates only, never a judge's marks
    fragment = await client.get(f"/organiser/competitions/{competition.id}/live?fragment=1")
    assert fragment.status_code == 200 and "<html" not in fragment.text and "live-grid" in fragment.text
    assert fragment.headers["cache-control"] == "no-store"
    assert (await client.get("/static/js/judging-live.js")).status_code == 200


PLACES = re.compile(r'<td class="place">(\d+)</td>\s*<th scope="row"><strong>([^<]+)</strong>')


async def test_live_view_ranks_the_submitted_scores_and_the_fragment_follows_each_save(app, client, db):
    # Default rubric, 1..10 everywhere: a mark m gives a total of 100 x (m - 1) / 9.
    async with db.write() as session:
        competition = await make_competition(session)
        a, b, c = [await make_entrant(session, competition, enterprise=name)
                   for name in ("Aardvark Ltd", "Bramble Co", "Cedar CIC")]
        first = await make_judge(session, competition, name="Judge First")
        second = await make_judge(session, competition, name="Judge Second")
        late = await make_judge(session, competition, name="Judge Late")
        for entrant, mark in ((a, 5), (b, 8), (c, 2)):
            await score(session, competition, first, entrant, mark)
        await score(session, competition, second, b, 4)
        await score(session, competition, second, c, 3)
        await score(session, competition, late, c, 10, submit=False)  # a draft: not counted
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/live"
    # Raw means A 44.4, B (77.8 + 33.3) / 2 = 55.6, C 16.7; mean z A 0, B +1.11, C -1.11: B beats A on both,
    # though A comes first in the running order.
    page = await client.get(url)
    assert page.status_code == 200
    assert PLACES.findall(page.text) == [("1", "Bramble Co"), ("2", "Aardvark Ltd"), ("3", "Cedar CIC")]
    text = page_text(page)
    assert "Provisional ranking" in text and "Provisional." in text and "1 draft not counted" in text
    assert "55.6" in text and "44.4" in text and "+1.11" in text
    fragment = await client.get(f"{url}?fragment=1")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert PLACES.findall(fragment.text) == PLACES.findall(page.text)

    # One more save: the second judge gives A full marks. Raw A (44.4 + 100) / 2 = 72.2, B 55.6, C 16.7;
    # the second judge's z: A +1.40, B -0.54, C -0.86, so mean z A +0.70, B +0.34: A now leads both.
    async with db.write() as session:
        await score(session, await session.get(Competition, competition.id), second, a, 10)
    fragment = await client.get(f"{url}?fragment=1")
    assert PLACES.findall(fragment.text) == [("1", "Aardvark Ltd"), ("2", "Bramble Co"), ("3", "Cedar CIC")]
    text = page_text(fragment)
    assert "72.2" in text and "+0.70" in text and "Provisional." in text

    # Judges never see it, on the panel or not, page or fragment.
    from tests.conftest import login
    from tests.core.helpers import new_client
    from tests.factories import PASSWORD

    async with new_client(app) as judge_client:
        assert (await login(judge_client, second.email, PASSWORD)).status_code == 303
        for path in (url, f"{url}?fragment=1"):
            refused = await judge_client.get(path)
            assert refused.status_code in (403, 404) and "Bramble Co" not in refused.text


async def test_live_ranking_without_scores_and_after_release(client, db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition, enterprise="Solo Soap")
        judge = await make_judge(session, competition)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/live"
    text = page_text(await client.get(f"{url}?fragment=1"))
    assert "No submitted scores yet." in text and "Provisional." in text
    async with db.write() as session:
        await score(session, await session.get(Competition, competition.id), judge, entrant, 7)
    token = await csrf_for(client, f"/organiser/competitions/{competition.id}/results")
    await client.post(f"/organiser/competitions/{competition.id}/start", data={"csrf_token": token})
    released = await client.post(f"/organiser/competitions/{competition.id}/release",
                                 data={"csrf_token": token, "visibility": "public", "confirm": "on"})
    assert released.status_code == 303
    page = await client.get(url)
    assert PLACES.findall(page.text) == [("1", "Solo Soap")]
    text = page_text(page)
    assert "Ranking (released)" in text and "Provisional" not in text


async def test_unlock_needs_a_reason_and_is_audited(client, db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        sheet = await score(session, competition, judge, entrant, 7)
    organiser = await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/sheets/{sheet.id}/unlock"
    token = await csrf_for(client, f"/organiser/competitions/{competition.id}/live")
    refused = await client.post(url, data={"csrf_token": token, "reason": ""})
    assert_error_page(refused, 422, "Give a reason for unlocking")
    async with db.read() as session:
        assert (await session.get(ScoreSheet, sheet.id)).status == "submitted"
    response = await client.post(url, data={"csrf_token": token, "reason": "Wrong entrant tapped"})
    assert response.status_code == 303
    async with db.read() as session:
        assert (await session.get(ScoreSheet, sheet.id)).status == "draft"
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "sheet.unlock"))
    assert entry.actor_id == organiser.id
    trail = await client.get(f"/organiser/competitions/{competition.id}/audit")
    assert trail.status_code == 200 and "sheet.unlock" in trail.text and "Wrong entrant tapped" in page_text(trail)
    assert "score.set" in trail.text


async def _scored_competition(db, **overrides):
    """Two judges (Lenient 9/8/7 on every criterion; Harsh 5/3, recused from the third) and three entrants."""
    async with db.write() as session:
        competition = await make_competition(session, **overrides)
        entrants = [await make_entrant(session, competition, enterprise=name)
                    for name in ("Alpha Bakes", "Beta Bikes", "Gamma Gardens")]
        lenient = await make_judge(session, competition, name="Lenient Judge")
        harsh = await make_judge(session, competition, name="Harsh Judge")
        for entrant, mark in zip(entrants, (9, 8, 7), strict=True):
            await score(session, competition, lenient, entrant, mark)
        await score(session, competition, harsh, entrants[0], 5)
        await score(session, competition, harsh, entrants[1], 3)
        from judging import judges

        await judges.declare_conflict(session=session, competition=competition, judge_id=harsh.id,
                                      entrant_id=entrants[2].id, reason="Family")
    return competition, entrants, lenient, harsh


async def test_results_preview_release_and_public_page(app, client, db):
    competition, *_ = await _scored_competition(db)
    public_url = f"/judging/results/{competition.id}"
    assert_error_page(await client.get(public_url), 404, "not been released")
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/results"
    page = await client.get(url)
    assert page.status_code == 200
    text = page_text(page)
    assert "Preview." in text and "How these results are worked out" in text
    assert "Raw-mean place" in text and "Normalised place" in text
    assert "Kendall’s W:" in text and "W = 1.00, very strong" in text
    assert "Harsh Judge declared a conflict of interest with Gamma Gardens" in text
    assert "Gamma Gardens (recusal by Harsh Judge)" in text
    assert "Separated by smaller spread (standard deviation) between judges" in text  # raw tie on 66.7
    token = await csrf_for(client, url)
    refused = await client.post(f"/organiser/competitions/{competition.id}/release",
                                data={"csrf_token": token, "visibility": "public"})
    assert_error_page(refused, 422, "Tick the box")
    response = await client.post(f"/organiser/competitions/{competition.id}/release",
                                 data={"csrf_token": token, "visibility": "public", "confirm": "on"})
    assert response.status_code == 303
    client.cookies.clear()
    public = await client.get(public_url)
    assert public.status_code == 200
    text = page_text(public)
    assert "Alpha Bakes" in text and "Kendall’s W" in text
    assert "Harsh Judge" not in text and "Lenient Judge" not in text  # names and per-judge totals stay private
    assert "A judge declared a conflict of interest with Gamma Gardens" in text
    # The places: normalised decides (Alpha, Beta, Gamma); the raw mean puts Gamma first on the tie-break.
    rows = re.findall(r'<td class="place">(\d+)</td>\s*<th scope="row"><strong>([^<]+)</strong>', public.text)
    assert rows == [("1", "Alpha Bakes"), ("2", "Beta Bikes"), ("3", "Gamma Gardens")]


async def test_judges_only_results_and_combined_result_with_audience_votes(app, client, db):
    competition, entrants, lenient, _ = await _scored_competition(db)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        fresh.audience_weight_percent = 20  # fixed before scoring in real use; set here directly
        tickets = await make_tickets(session, fresh.event_id, 5)
        await votes.open_voting(session=session, competition=fresh, actor_id=None)
    for ticket, entrant in zip(tickets, (entrants[0], *[entrants[1]] * 4), strict=True):
        async with db.write() as session:
            await votes.cast_vote(session=session, competition_id=competition.id, ticket_code=ticket.code,
                                  entrant_id=entrant.id, via=votes.VIA_CODE)
    organiser = await sign_in(client, db)
    base = f"/organiser/competitions/{competition.id}"
    token = await csrf_for(client, f"{base}/results")
    page = page_text(await client.get(f"{base}/results"))
    assert "Audience votes" in page and "80 % judges, 20 % audience" in page
    # Default rubric, 1..10 on every criterion: a mark m gives a total of 100 x (m - 1) / 9.
    # Alpha: (88.89 + 44.44) / 2 = 66.67; Beta: (77.78 + 22.22) / 2 = 50. Audience: 1/4 -> 25, 4/4 -> 100.
    # Alpha: 0.8 x 66.67 + 0.2 x 25 = 58.33; Beta: 0.8 x 50 + 0.2 x 100 = 60 -> Beta first on the combined result.
    assert "58.3" in page and "60.0" in page
    await client.post(f"{base}/release", data={"csrf_token": token, "visibility": "judges", "confirm": "on"})
    assert organiser is not None
    from tests.core.helpers import new_client

    async with new_client(app) as anonymous:
        assert_error_page(await anonymous.get(f"/judging/results/{competition.id}"), 403, "judges only")
    async with new_client(app) as judge_client:
        from tests.conftest import login
        from tests.factories import PASSWORD

        await login(judge_client, lenient.email, PASSWORD)
        page = await judge_client.get(f"/judging/results/{competition.id}")
        assert page.status_code == 200
        rows = re.findall(r'<td class="place">(\d+)</td>\s*<th scope="row"><strong>([^<]+)</strong>', page.text)
        assert rows[0] == ("1", "Beta Bikes")
    async with new_client(app) as outsider:
        await sign_in(outsider, db, Role.JUDGE)
        assert_error_page(await outsider.get(f"/judging/results/{competition.id}"), 403)


async def test_chair_casting_decision_breaks_an_unresolved_tie(client, db):
    async with db.write() as session:
        competition = await make_competition(session, tie_break=["chair"])
        a = await make_entrant(session, competition, enterprise="Tie A")
        b = await make_entrant(session, competition, enterprise="Tie B")
        judge = await make_judge(session, competition)
        await score(session, competition, judge, a, 6)
        await score(session, competition, judge, b, 6)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/results"
    text = page_text(await client.get(url))
    assert "No tie-break rule separated them" in text and "There is a tie no rule could separate." in text
    token = await csrf_for(client, url)
    response = await client.post(f"/organiser/competitions/{competition.id}/chair-order",
                                 data={"csrf_token": token, f"chair_{b.id}": "1", f"chair_{a.id}": "2"})
    assert response.status_code == 303
    page = await client.get(url)
    assert "Separated by the chair’s casting decision: Tie B, then Tie A." in page_text(page)
    async with db.read() as session:
        assert (await session.get(Competition, competition.id)).chair_order == [b.id, a.id]


async def test_criterion_rows_stay_within_the_competition(client, db):
    competition, _ = await _setup(db)
    other, _ = await _setup(db)
    async with db.read() as session:
        foreign = (await criteria(session, other))[0]
        own = await criteria(session, competition)
    await sign_in(client, db)
    url = f"/organiser/competitions/{competition.id}/rubric"
    form = {"csrf_token": await csrf_for(client, url)}
    for i, c in enumerate([foreign, *own[1:]]):
        form.update({f"id_{i}": str(c.id), f"key_{i}": c.key, f"name_{i}": c.name, f"scale_min_{i}": "1",
                     f"scale_max_{i}": "10", f"weight_{i}": "10", f"position_{i}": str(i)})
    refused = await client.post(url, data=form)
    assert refused.status_code == 422 and "not part of this competition" in page_text(refused)
    async with db.read() as session:
        assert (await session.get(Criterion, foreign.id)).competition_id == other.id
