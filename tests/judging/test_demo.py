"""The demo pitch night gets a competition: default rubric, five entrants in running order, three judges
who can only sign in by a link the organiser gives them."""

from __future__ import annotations

from sqlalchemy import func, select

from denhub import demo
from judging import judges as panel_service
from judging.entrants import entrants_for
from judging.models import Competition, JudgeAssignment
from judging.rubric import criteria_for
from kernel.accounts import User, authenticate
from kernel.db import utcnow


async def test_the_demo_pitch_night_has_a_competition_ready_to_judge(db):
    async with db.write() as session:
        await demo.load(session=session, now=utcnow(), organiser_password="organiser-password-1")
    async with db.read() as session:
        competition = await session.scalar(select(Competition))
        entrants = await entrants_for(session=session, competition_id=competition.id)
        rubric = await criteria_for(session=session, competition_id=competition.id)
        members = await panel_service.panel(session=session, competition_id=competition.id)
    assert competition.name == "Dragons’ Den: social entrepreneurs" and competition.pitch_seconds == 300
    assert competition.status == "setup" and not competition.applications_open
    assert [c.key for c in rubric] == ["social_impact", "viability", "innovation", "team", "pitch"]
    assert [e.enterprise for e in entrants] == ["Soho Road Community Pantry", "Lozells Bike Kitchen Co-op",
                                                "Bangla Tutors CIC", "Aston Repair Café", "Stitch Together"]
    assert [e.running_order for e in entrants] == [1, 2, 3, 4, 5]
    assert all(e.status == "accepted" and e.pitch and e.social_mission for e in entrants)
    assert all(e.scoring_opened_at is None for e in entrants)  # scoring opens as each pitch starts
    assert sorted(m.user.name for m in members) == ["Bilal Hussain", "Grace Okafor", "Nia Campbell"]
    assert [m.user.name for m in members if m.assignment.is_chair] == ["Nia Campbell"]
    async with db.write() as session:
        for m in members:
            assert m.user.role == "judge" and m.user.password_hash.startswith("!")
            assert await authenticate(session=session, email=m.user.email, password="") is None


async def test_loading_the_demo_twice_adds_no_second_competition(db):
    for _ in range(2):
        async with db.write() as session:
            await demo.load(session=session, now=utcnow(), organiser_password="organiser-password-1")
    async with db.read() as session:
        assert await session.scalar(select(func.count(Competition.id))) == 1
        assert await session.scalar(select(func.count(JudgeAssignment.id))) == 3
        assert await session.scalar(select(func.count(User.id)).where(User.role == "judge")) == 3
