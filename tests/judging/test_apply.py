"""The public application form: CSRF, honeypot, validation, closing, rate limit."""

from __future__ import annotations

from sqlalchemy import func, select

from judging.models import Competition, Entrant
from kernel.mail import OutboxMessage
from tests.conftest import csrf_for
from tests.core.helpers import new_client, page_text, running_app, sign_in
from tests.judging.factories import make_competition


def _application(token: str, **changes) -> dict:
    data = {"csrf_token": token, "name": "Amina Yusuf", "enterprise": "Lozells Larder",
            "pitch": "A pay-as-you-feel grocery run by volunteers",
            "social_mission": "Food for families between pay days; volunteering that leads to work.",
            "contact_email": "Amina@Example.org", "consent": "on", "website": ""}
    data.update(changes)
    return data


async def _competition(db) -> Competition:
    async with db.write() as session:
        return await make_competition(session, name="Spring Dragons")


async def _entrants(db) -> list[Entrant]:
    async with db.read() as session:
        return list(await session.scalars(select(Entrant)))


async def test_apply_creates_an_applied_entrant_the_organiser_then_accepts(client, db):
    competition = await _competition(db)
    url = f"/judging/apply/{competition.id}"
    page = await client.get(url)
    assert page.status_code == 200 and "Apply to pitch: Spring Dragons" in page.text
    assert 'class="hp" aria-hidden="true"' in page.text and 'name="website"' in page.text
    response = await client.post(url, data=_application(await csrf_for(client, url)))
    assert response.status_code == 303 and response.headers["location"] == url
    assert "Thank you" in page_text(await client.get(url))
    [entrant] = await _entrants(db)
    assert (entrant.status, entrant.running_order, entrant.contact_email) == ("applied", None, "amina@example.org")
    client.cookies.clear()
    await sign_in(client, db)
    waiting = await client.get(f"/organiser/competitions/{competition.id}/entrants")
    assert "Applications waiting (1)" in waiting.text and "Lozells Larder" in waiting.text
    token = await csrf_for(client, f"/organiser/competitions/{competition.id}/entrants")
    accepted = await client.post(f"/organiser/competitions/{competition.id}/entrants/{entrant.id}/status",
                                 data={"csrf_token": token, "status": "accepted"})
    assert accepted.status_code == 303
    [entrant] = await _entrants(db)
    assert (entrant.status, entrant.running_order) == ("accepted", 1)
    async with db.read() as session:
        [message] = list(await session.scalars(select(OutboxMessage)))
    assert message.to_addr == "amina@example.org" and message.subject == "You are pitching: Spring Dragons"
    assert "Lozells Larder has a place in Spring Dragons" in message.text_body


async def test_a_rejected_applicant_is_told_kindly(client, db):
    competition = await _competition(db)
    url = f"/judging/apply/{competition.id}"
    await client.post(url, data=_application(await csrf_for(client, url)))
    [entrant] = await _entrants(db)
    client.cookies.clear()
    await sign_in(client, db)
    token = await csrf_for(client, f"/organiser/competitions/{competition.id}/entrants")
    await client.post(f"/organiser/competitions/{competition.id}/entrants/{entrant.id}/status",
                      data={"csrf_token": token, "status": "rejected"})
    async with db.read() as session:
        [message] = list(await session.scalars(select(OutboxMessage)))
    assert message.subject == "Your application: Spring Dragons" and "cannot offer you a pitch" in message.text_body


async def test_honeypot_missing_csrf_and_invalid_fields_create_nothing(client, db):
    competition = await _competition(db)
    url = f"/judging/apply/{competition.id}"
    token = await csrf_for(client, url)
    bot = await client.post(url, data=_application(token, website="http://spam.example"))
    assert bot.status_code == 400
    no_csrf = await client.post(url, data=_application(""))
    assert no_csrf.status_code == 403
    invalid = await client.post(url, data=_application(token, contact_email="nope", pitch="two\nlines", consent=""))
    assert invalid.status_code == 422
    text = page_text(invalid)
    assert "Enter an email address like name@example.com." in text and "Keep the pitch to one line." in text
    assert "Please agree" in text
    assert 'value="Lozells Larder"' in invalid.text  # what they typed is kept
    assert await _entrants(db) == []


async def test_applications_close_when_scoring_starts(client, db):
    competition = await _competition(db)
    async with db.write() as session:
        fresh = await session.get(Competition, competition.id)
        fresh.status = "scoring"
    url = f"/judging/apply/{competition.id}"
    page = await client.get(url)
    assert page.status_code == 200 and "Applications for this competition are closed." in page.text
    response = await client.post(url, data=_application(await csrf_for(client)))
    assert response.status_code == 409
    assert await _entrants(db) == []
    assert (await client.get("/judging/apply/999999")).status_code == 404


async def test_applications_are_rate_limited_per_address(settings, db):
    competition = await _competition(db)
    url = f"/judging/apply/{competition.id}"
    async with running_app(settings, registration_limit=2) as app, new_client(app) as client:
        token = await csrf_for(client, url)
        for i in range(2):
            response = await client.post(url, data=_application(token, enterprise=f"Venture {i}"))
            assert response.status_code == 303
        limited = await client.post(url, data=_application(token, enterprise="One too many"))
        assert limited.status_code == 429
    async with db.read() as session:
        assert await session.scalar(select(func.count(Entrant.id))) == 2
