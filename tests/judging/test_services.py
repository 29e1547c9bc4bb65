"""Judging services on SQLite and PostgreSQL: rubric lock, sheets (save, submit, lock, unlock), the audit
trail, conflicts, magic links, invitations, entrants and results."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from judging import judges, results, sheets
from judging.audit import audit_trail
from judging.competitions import (
    Settings,
    create_competition,
    release_results,
    set_chair_order,
    start_scoring,
    update_settings,
)
from judging.entrants import EntrantInput, apply, entrants_for, set_entrant_status, set_running_order
from judging.errors import (
    Conflicted,
    InvalidInput,
    JudgingError,
    LinkGone,
    NotAJudge,
    NotFound,
    RubricLocked,
    ScoringClosed,
    SheetLocked,
)
from judging.models import (
    AuditEntry,
    Competition,
    Conflict,
    Entrant,
    JudgeAssignment,
    MagicLink,
    Score,
    ScoreSheet,
)
from judging.rounds import add_round
from judging.rubric import CriterionInput, save_rubric
from kernel.accounts import Role, User, authenticate
from kernel.db import utcnow
from kernel.mail import OutboxMessage
from tests.factories import make_event, make_user
from tests.judging.factories import audit_count, criteria, make_competition, make_entrant, make_judge, score


async def _sheet(db, judge_id, entrant_id) -> tuple[ScoreSheet | None, dict[int, int]]:
    async with db.read() as session:
        view = await sheets.load_sheet(session=session, judge_id=judge_id, entrant_id=entrant_id)
    return view.sheet, view.values


async def _competition(db, competition_id) -> Competition:
    async with db.read() as session:
        return await session.get(Competition, competition_id)


# --- competitions and the rubric -------------------------------------------------------------------

async def test_a_competition_belongs_to_a_pitch_night_and_starts_with_the_default_rubric(db):
    async with db.write() as session:
        workshop = await make_event(session, category="workshop")
        with pytest.raises(InvalidInput, match="pitch-night"):
            await create_competition(session=session, event_id=workshop.id, name="x", actor_id=None)
        competition = await make_competition(session)
        rubric = await criteria(session, competition)
    assert [(c.key, c.weight, c.scale_min, c.scale_max) for c in rubric] == [
        ("social_impact", 30, 1, 10), ("viability", 25, 1, 10), ("innovation", 15, 1, 10),
        ("team", 15, 1, 10), ("pitch", 15, 1, 10)]
    assert competition.status == "setup" and not competition.rubric_locked
    assert competition.tie_break == ["criterion:social_impact", "spread", "chair"]
    assert competition.audience_weight_percent == 0


def _rows(rubric, **changes) -> list[CriterionInput]:
    return [CriterionInput(c.id, c.key, changes.get(c.key, c.name), c.description, c.scale_min, c.scale_max,
                           c.weight, c.position) for c in rubric]


async def test_rubric_can_be_edited_until_scoring_starts_then_edits_are_refused(db):
    async with db.write() as session:
        competition = await make_competition(session)
        rubric = await criteria(session, competition)
        rows = _rows(rubric, team="Team and roots")
        rows.append(CriterionInput(None, "", "Local roots", "", 1, 5, 10, 6))
        saved = await save_rubric(session=session, competition=competition, rows=rows, actor_id=None)
        assert [c.name for c in saved][-2:] == ["Pitch", "Local roots"] and saved[3].name == "Team and roots"
        assert saved[-1].key == "local_roots"
        await start_scoring(session=session, competition=competition, actor_id=None)
    assert (await _competition(db, competition.id)).rubric_locked
    with pytest.raises(RubricLocked, match="The rubric is locked: scoring started on"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await save_rubric(session=session, competition=fresh,
                              rows=_rows(saved, pitch="Changed"), actor_id=None)
    async with db.read() as session:
        assert [c.name for c in await criteria(session, competition)][4] == "Pitch"


async def test_the_first_saved_score_locks_the_rubric_and_opens_scoring(db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        await score(session, competition, judge, entrant, 5, submit=False)
    competition = await _competition(db, competition.id)
    assert competition.rubric_locked and competition.status == "scoring" and not competition.applications_open
    async with db.read() as session:
        lock = await session.scalar(select(AuditEntry).where(AuditEntry.action == "rubric.lock"))
    assert lock.subject == "the first score was saved" and lock.actor_id == judge.id


async def test_rubric_validation(db):
    async with db.write() as session:
        competition = await make_competition(session)
        rubric = await criteria(session, competition)
        bad = _rows(rubric)
        bad[0].scale_max = bad[0].scale_min
        with pytest.raises(InvalidInput, match="top of the scale must be above"):
            await save_rubric(session=session, competition=competition, rows=bad, actor_id=None)
        removing_impact = _rows(rubric)
        removing_impact[0].remove = True  # the tie-break chain names criterion:social_impact
        with pytest.raises(InvalidInput, match="not a tie-break rule"):
            await save_rubric(session=session, competition=competition, rows=removing_impact, actor_id=None)
        other = await make_competition(session)
        foreign = _rows(await criteria(session, other))[:1] + _rows(rubric)[1:]
        with pytest.raises(InvalidInput, match="not part of this competition"):
            await save_rubric(session=session, competition=competition, rows=foreign, actor_id=None)


async def test_tie_break_chain_and_audience_weight_are_fixed_once_scoring_starts(db):
    async with db.write() as session:
        competition = await make_competition(session)
        settings = Settings(name="Renamed", pitch_seconds=240, audience_weight_percent=20,
                            tie_break=["spread", "chair"], applications_open=True)
        await update_settings(session=session, competition=competition, data=settings, actor_id=None)
        bad = Settings(name="x", pitch_seconds=240, audience_weight_percent=20,
                       tie_break=["criterion:nope"], applications_open=True)
        with pytest.raises(InvalidInput, match="not a tie-break rule"):
            await update_settings(session=session, competition=competition, data=bad, actor_id=None)
        await start_scoring(session=session, competition=competition, actor_id=None)
    async with db.write() as session:
        competition = await session.get(Competition, competition.id)
        rename_only = Settings(name="Final name", pitch_seconds=300, audience_weight_percent=20,
                               tie_break=["spread", "chair"], applications_open=False)
        await update_settings(session=session, competition=competition, data=rename_only, actor_id=None)
    with pytest.raises(RubricLocked, match="fixed when scoring started"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            changed = Settings(name="Final name", pitch_seconds=300, audience_weight_percent=50,
                               tie_break=["spread", "chair"], applications_open=False)
            await update_settings(session=session, competition=fresh, data=changed, actor_id=None)
    competition = await _competition(db, competition.id)
    assert (competition.name, competition.audience_weight_percent) == ("Final name", 20)


# --- sheets, locking and the audit trail ----------------------------------------------------------

async def test_save_then_submit_locks_the_sheet_and_every_change_is_audited(db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition, enterprise="Soho Loaves")
        judge = await make_judge(session, competition)
        rubric = await criteria(session, competition)
        await sheets.save_sheet(session=session, competition=competition, judge_id=judge.id, entrant_id=entrant.id,
                                values={rubric[0].id: 7}, feedback="", submit=False)
    async with db.write() as session:
        competition = await session.get(Competition, competition.id)
        await sheets.save_sheet(session=session, competition=competition, judge_id=judge.id, entrant_id=entrant.id,
                                values={rubric[0].id: 8, **{c.id: 6 for c in rubric[1:]}}, feedback="Strong team",
                                private_note="Ask about the lease", submit=True)
    sheet, values = await _sheet(db, judge.id, entrant.id)
    assert sheet.status == "submitted" and sheet.submitted_at is not None and sheet.feedback == "Strong team"
    assert values == {rubric[0].id: 8, **{c.id: 6 for c in rubric[1:]}}
    async with db.read() as session:
        trail = await audit_trail(session=session, competition_id=competition.id)
    impact = [(e.old, e.new, e.actor_id) for e in reversed(trail)
              if e.action == "score.set" and e.subject == "Soho Loaves: Social impact"]
    assert impact == [(None, 7, judge.id), (7, 8, judge.id)]  # who, old, new for every change
    assert any(e.action == "feedback.set" and e.new == "Strong team" for e in trail)
    assert sheet.private_note == "Ask about the lease"
    assert any(e.action == "note.set" and e.new == "Ask about the lease" for e in trail)
    assert any(e.action == "sheet.submit" and e.old == "draft" and e.new == "submitted" for e in trail)
    assert all(e.at is not None for e in trail)

    # A submitted sheet is locked: a change is refused and nothing is recorded.
    async with db.read() as session:
        before = await audit_count(session)
    with pytest.raises(SheetLocked, match="locked"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await sheets.save_sheet(session=session, competition=fresh, judge_id=judge.id,
                                    entrant_id=entrant.id, values={rubric[0].id: 1}, feedback="", submit=False)
    assert (await _sheet(db, judge.id, entrant.id))[1][rubric[0].id] == 8
    async with db.read() as session:
        assert await audit_count(session) == before


@pytest.mark.parametrize("case", ["above scale", "below scale", "other competition", "conflicted", "incomplete",
                                  "not a judge", "other entrant", "closed"])
async def test_bad_scores_are_refused_and_nothing_is_recorded(db, case):
    async with db.write() as session:
        competition = await make_competition(session)
        other = await make_competition(session)
        entrant = await make_entrant(session, competition)
        stranger = await make_entrant(session, other)
        judge = await make_judge(session, competition)
        outsider = await make_user(session, role=Role.JUDGE)
        rubric = await criteria(session, competition)
        foreign = (await criteria(session, other))[0]
        if case == "conflicted":
            await judges.declare_conflict(session=session, competition=competition, judge_id=judge.id,
                                          entrant_id=entrant.id, reason="My cousin")
        if case == "closed":
            competition.status = "closed"
            competition.results_released_at = utcnow()
    full = {c.id: 5 for c in rubric}
    judge_id, entrant_id, values, submit, error = judge.id, entrant.id, full, True, None
    if case == "above scale":
        values, error = {**full, rubric[0].id: 11}, InvalidInput
    elif case == "below scale":
        values, error = {**full, rubric[1].id: 0}, InvalidInput
    elif case == "other competition":
        values, error = {**full, foreign.id: 5}, InvalidInput
    elif case == "conflicted":
        error = Conflicted
    elif case == "incomplete":
        values, error = {rubric[0].id: 5}, InvalidInput
    elif case == "not a judge":
        judge_id, error = outsider.id, NotAJudge
    elif case == "other entrant":
        entrant_id, error = stranger.id, NotFound
    elif case == "closed":
        error = ScoringClosed
    async with db.read() as session:
        audits = await audit_count(session)
    with pytest.raises(error) as caught:
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await sheets.save_sheet(session=session, competition=fresh, judge_id=judge_id, entrant_id=entrant_id,
                                    values=values, feedback="", submit=submit)
    assert 400 <= caught.value.status < 500 and str(caught.value)
    async with db.read() as session:
        assert await session.scalar(select(ScoreSheet.id)) is None
        assert await session.scalar(select(Score.id)) is None
        assert await audit_count(session) == audits
        assert not (await session.get(Competition, competition.id)).rubric_locked or case == "closed"


async def test_out_of_scale_message_names_the_criterion_and_scale(db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        rubric = await criteria(session, competition)
    with pytest.raises(InvalidInput, match="“Viability” is scored from 1 to 10"):
        async with db.write() as session:
            await sheets.save_sheet(session=session, competition=competition, judge_id=judge.id,
                                    entrant_id=entrant.id, values={rubric[1].id: 12}, feedback="", submit=False)


async def test_unlock_needs_a_reason_is_audited_and_lets_the_judge_resubmit(db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        organiser = await make_user(session)
        sheet = await score(session, competition, judge, entrant, 6)
    with pytest.raises(InvalidInput, match="Give a reason"):
        async with db.write() as session:
            await sheets.unlock_sheet(session=session, sheet_id=sheet.id, reason="  ", actor_id=organiser.id)
    assert (await _sheet(db, judge.id, entrant.id))[0].status == "submitted"
    async with db.write() as session:
        await sheets.unlock_sheet(session=session, sheet_id=sheet.id, reason="Judge tapped 6 for 9 on pitch",
                                  actor_id=organiser.id)
    unlocked, _ = await _sheet(db, judge.id, entrant.id)
    assert unlocked.status == "draft" and unlocked.unlock_reason == "Judge tapped 6 for 9 on pitch"
    async with db.read() as session:
        trail = await audit_trail(session=session, competition_id=competition.id)
    entry = next(e for e in trail if e.action == "sheet.unlock")
    assert (entry.actor_id, entry.old, entry.new) == (organiser.id, "submitted", "draft")
    assert any(e.action == "sheet.unlock_reason" and e.new == "Judge tapped 6 for 9 on pitch" for e in trail)
    with pytest.raises(JudgingError, match="not submitted"):
        async with db.write() as session:
            await sheets.unlock_sheet(session=session, sheet_id=sheet.id, reason="again", actor_id=organiser.id)
    async with db.write() as session:
        competition = await session.get(Competition, competition.id)
        await score(session, competition, judge, entrant, [6, 6, 6, 6, 9])
    assert (await _sheet(db, judge.id, entrant.id))[0].status == "submitted"
    async with db.write() as session:
        competition = await session.get(Competition, competition.id)
        await release_results(session=session, competition=competition, visibility="public",
                              actor_id=organiser.id)
    with pytest.raises(ScoringClosed):
        async with db.write() as session:
            await sheets.unlock_sheet(session=session, sheet_id=sheet.id, reason="too late", actor_id=organiser.id)


# --- conflicts -------------------------------------------------------------------------------------

async def test_declaring_a_conflict_discards_a_draft_and_refuses_after_submitting(db):
    async with db.write() as session:
        competition = await make_competition(session)
        first = await make_entrant(session, competition)
        second = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        await score(session, competition, judge, first, 4, submit=False)
        await score(session, competition, judge, second, 4)
    async with db.write() as session:
        competition = await session.get(Competition, competition.id)
        await judges.declare_conflict(session=session, competition=competition, judge_id=judge.id,
                                      entrant_id=first.id, reason="I mentor this founder")
    assert await _sheet(db, judge.id, first.id) == (None, {})
    async with db.read() as session:
        trail = await audit_trail(session=session, competition_id=competition.id)
    discard = next(e for e in trail if e.action == "sheet.discard")
    assert set(discard.old["scores"].values()) == {4}
    assert any(e.action == "conflict.declare" and e.new == {"reason": "I mentor this founder"} for e in trail)
    with pytest.raises(SheetLocked, match="unlock"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await judges.declare_conflict(session=session, competition=fresh, judge_id=judge.id,
                                          entrant_id=second.id, reason="Late realisation")
    with pytest.raises(JudgingError, match="already declared"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await judges.declare_conflict(session=session, competition=fresh, judge_id=judge.id,
                                          entrant_id=first.id, reason="Again")
    with pytest.raises(InvalidInput, match="Say briefly why"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            third = await make_entrant(session, fresh)
            await judges.declare_conflict(session=session, competition=fresh, judge_id=judge.id,
                                          entrant_id=third.id, reason=" ")
    async with db.read() as session:
        assert len(list(await session.scalars(select(Conflict)))) == 1


# --- magic links and invitations -------------------------------------------------------------------

@pytest.mark.parametrize("draft", [False, True], ids=["no sheet", "draft sheet"])
async def test_simultaneous_conflict_declarations_record_exactly_one(db, draft):
    """A double-tap (or four) on "Declare conflict", each in its own transaction: one conflict is recorded;
    the others get the same clean refusal as a declaration made after it, never a database error."""
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        if draft:
            await score(session, competition, judge, entrant, 4, submit=False)

    async def declare():
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            return await judges.declare_conflict(session=session, competition=fresh, judge_id=judge.id,
                                                 entrant_id=entrant.id, reason="I mentor this founder")

    outcomes = await asyncio.gather(*(declare() for _ in range(4)), return_exceptions=True)
    recorded = [o for o in outcomes if isinstance(o, Conflict)]
    refused = [o for o in outcomes if isinstance(o, JudgingError) and "already declared" in str(o)]
    assert len(recorded) == 1 and len(refused) == 3, outcomes
    async with db.read() as session:
        assert len(list(await session.scalars(select(Conflict)))) == 1
        trail = await audit_trail(session=session, competition_id=competition.id)
    assert [e.action for e in trail].count("conflict.declare") == 1
    assert [e.action for e in trail].count("sheet.discard") == (1 if draft else 0)
    assert await _sheet(db, judge.id, entrant.id) == (None, {})


async def test_magic_links_are_stored_hashed_and_work_once(db):
    async with db.write() as session:
        competition = await make_competition(session)
        judge = await make_judge(session, competition)
        token, link = await judges.new_magic_link(session=session, user=judge, competition=competition,
                                                  base_url="https://denhub.example/")
    assert link == f"https://denhub.example/judging/magic/{token}" and len(token) >= 40
    async with db.read() as session:
        row = await session.scalar(select(MagicLink))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
        assert row.expires_at - row.created_at == judges.MAGIC_LINK_TTL
        assert (await judges.check_magic_link(session=session, token=token)).id == judge.id  # does not use it
    async with db.write() as session:
        user, competition_id = await judges.redeem_magic_link(session=session, token=token)
    assert (user.id, competition_id) == (judge.id, competition.id)
    with pytest.raises(LinkGone, match="already been used"):
        async with db.write() as session:
            await judges.redeem_magic_link(session=session, token=token)
    with pytest.raises(NotFound):
        async with db.read() as session:
            await judges.check_magic_link(session=session, token=token + "x")


async def test_an_expired_magic_link_is_gone(db):
    async with db.write() as session:
        competition = await make_competition(session)
        judge = await make_judge(session, competition)
        token, _ = await judges.new_magic_link(session=session, user=judge, competition=competition,
                                               base_url="http://testserver", ttl=dt.timedelta(minutes=10))
    later = utcnow() + dt.timedelta(minutes=11)
    with pytest.raises(LinkGone, match="expired"):
        async with db.write() as session:
            await judges.redeem_magic_link(session=session, token=token, now=later)
    async with db.read() as session:
        assert (await session.scalar(select(MagicLink))).used_at is None


async def test_inviting_a_new_judge_makes_an_account_without_a_usable_password_and_emails_the_link(db):
    async with db.write() as session:
        competition = await make_competition(session, name="Handsworth Dragons")
        invitation = await judges.invite_judge(session=session, competition=competition, email="Asha@Example.org",
                                               name="Asha Patel", is_chair=True, base_url="http://testserver",
                                               actor_id=None)
    assert invitation.created_account and invitation.user.role == "judge"
    assert invitation.user.email == "asha@example.org" and invitation.assignment.is_chair
    async with db.write() as session:
        user = await session.get(User, invitation.user.id)
        assert user.password_hash.startswith("!")
        for guess in ("", "password", invitation.token):
            assert await authenticate(session=session, email="asha@example.org", password=guess) is None
        message = await session.scalar(select(OutboxMessage))
    assert message.to_addr == "asha@example.org" and "Handsworth Dragons" in message.subject
    assert invitation.link in message.text_body and invitation.link in message.html_body
    # Inviting again: same place on the panel, a new link.
    async with db.write() as session:
        competition = await session.get(Competition, competition.id)
        again = await judges.invite_judge(session=session, competition=competition, email="asha@example.org",
                                          name="Asha", is_chair=False, base_url="http://testserver", actor_id=None)
        assert again.assignment.id == invitation.assignment.id and not again.created_account
        assert again.token != invitation.token
        assert len(list(await session.scalars(select(JudgeAssignment)))) == 1


@pytest.mark.parametrize("account", ["new", "existing"])
async def test_simultaneous_invitations_of_one_judge_give_one_account_and_one_place(db, account):
    """The organiser's "Invite" pressed several times at once: each gets a sign-in link (inviting again is
    allowed), but there is one account and one place on the panel, and no database error."""
    async with db.write() as session:
        competition = await make_competition(session)
        if account == "existing":
            await make_user(session, role=Role.JUDGE, email="asha@example.org")

    async def invite():
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            return await judges.invite_judge(session=session, competition=fresh, email="asha@example.org",
                                             name="Asha Patel", is_chair=False, base_url="http://testserver",
                                             actor_id=None)

    outcomes = await asyncio.gather(*(invite() for _ in range(4)), return_exceptions=True)
    assert all(isinstance(o, judges.Invitation) for o in outcomes), outcomes
    assert len({o.user.id for o in outcomes}) == 1 and len({o.assignment.id for o in outcomes}) == 1
    assert sum(o.created_account for o in outcomes) == (1 if account == "new" else 0)
    async with db.read() as session:
        assert len(list(await session.scalars(select(User).where(User.email == "asha@example.org")))) == 1
        assert len(list(await session.scalars(select(JudgeAssignment)))) == 1
        assert len(list(await session.scalars(select(MagicLink)))) == 4
        trail = await audit_trail(session=session, competition_id=competition.id)
    assert [e.action for e in trail].count("judge.invite") == 1


async def test_an_organisers_email_cannot_be_invited_as_a_judge(db):
    async with db.write() as session:
        competition = await make_competition(session)
        organiser = await make_user(session, role=Role.ADMIN)
    with pytest.raises(InvalidInput, match="only for judge accounts"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await judges.invite_judge(session=session, competition=fresh, email=organiser.email, name="x",
                                      is_chair=False, base_url="http://testserver", actor_id=None)
    async with db.read() as session:
        assert await session.scalar(select(MagicLink.id)) is None


async def test_one_chair_per_panel(db):
    async with db.write() as session:
        competition = await make_competition(session)
        first = await make_judge(session, competition, is_chair=True)
        second = await make_judge(session, competition)
        assignment = await session.scalar(select(JudgeAssignment).where(JudgeAssignment.user_id == second.id))
        await judges.set_chair(session=session, competition_id=competition.id, assignment=assignment, actor_id=None)
    async with db.read() as session:
        chairs = {m.user.id: m.assignment.is_chair for m in await judges.panel(session=session,
                                                                              competition_id=competition.id)}
    assert chairs == {first.id: False, second.id: True}


# --- entrants --------------------------------------------------------------------------------------

async def test_applications_accept_reject_and_running_order(db):
    async with db.write() as session:
        competition = await make_competition(session)
        a = await make_entrant(session, competition)
        b = await make_entrant(session, competition)
        applied = await apply(session=session, competition=competition, data=EntrantInput(
            "Rukhsana", "Chai & Code", "Coding club over chai", "Girls into tech", "r@example.org"))
        assert applied.status == "applied" and applied.running_order is None
        await set_entrant_status(session=session, entrant=applied, status="accepted", actor_id=None)
        assert applied.running_order == 3
        await set_running_order(session=session, competition=competition,
                                positions={applied.id: 1, a.id: 2, b.id: 3}, actor_id=None)
    async with db.read() as session:
        order = [e.id for e in await entrants_for(session=session, competition_id=competition.id,
                                                  accepted_only=True)]
    assert order == [applied.id, a.id, b.id]
    with pytest.raises(InvalidInput):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            other = await make_competition(session)
            stranger = await make_entrant(session, other)
            await set_running_order(session=session, competition=fresh, positions={stranger.id: 1},
                                    actor_id=None)


async def test_an_entrant_with_scores_cannot_be_rejected_and_applications_close_with_scoring(db):
    async with db.write() as session:
        competition = await make_competition(session)
        entrant = await make_entrant(session, competition)
        judge = await make_judge(session, competition)
        await score(session, competition, judge, entrant, 5, submit=False)
    with pytest.raises(JudgingError, match="already has scores"):
        async with db.write() as session:
            fresh = await session.get(Entrant, entrant.id)
            await set_entrant_status(session=session, entrant=fresh, status="rejected", actor_id=None)
    with pytest.raises(ScoringClosed, match="closed"):
        async with db.write() as session:
            fresh = await session.get(Competition, competition.id)
            await apply(session=session, competition=fresh, data=EntrantInput(
                "Late", "Late Ltd", "Late", "Late", "late@example.org"))


# --- results from the database ---------------------------------------------------------------------

async def _one_criterion(session, competition):
    rubric = await criteria(session, competition)
    rows = [CriterionInput(rubric[0].id, "social_impact", "Mark", "", 0, 10, 1, 1)]
    rows += [CriterionInput(c.id, c.key, c.name, "", 1, 10, 1, 2, remove=True) for c in rubric[1:]]
    return await save_rubric(session=session, competition=competition, rows=rows, actor_id=None)


async def test_results_count_submitted_sheets_only_and_report_recusals(db):
    """The lenient/harsh example of test_scoring, stored and read back (total = 10 x the mark)."""
    async with db.write() as session:
        competition = await make_competition(session)
        await _one_criterion(session, competition)
        e1, e2, e3 = [await make_entrant(session, competition, enterprise=f"E{i}") for i in (1, 2, 3)]
        lenient = await make_judge(session, competition, name="Lenient")
        harsh = await make_judge(session, competition, name="Harsh")
        late = await make_judge(session, competition, name="Late")
        for entrant, mark in ((e1, 9), (e2, 8), (e3, 7)):
            await score(session, competition, lenient, entrant, mark)
        await score(session, competition, harsh, e1, 5)
        await score(session, competition, harsh, e2, 3)
        await judges.declare_conflict(session=session, competition=competition, judge_id=harsh.id, entrant_id=e3.id,
                                      reason="Co-founder is my neighbour")
        await score(session, competition, late, e1, 1, submit=False)  # a draft: not counted
        competition.tie_break = ["spread", "chair"]
    async with db.read() as session:
        competition = await session.get(Competition, competition.id)
        view = await results.load_results(session=session, competition=competition)
    assert view.drafts == 1 and len(view.groups) == 1
    r = view.groups[0].results
    assert r.entrants[e1.id].raw_mean == pytest.approx(70) and r.entrants[e2.id].raw_mean == pytest.approx(55)
    assert r.entrants[e3.id].recused == (harsh.id,) and r.recusals == ((harsh.id, e3.id),)
    assert r.entrants[e1.id].missing == (late.id,)
    assert [p.entrant for p in r.raw.places] == [e3.id, e1.id, e2.id]  # tie on 70 broken by spread
    assert r.raw.ties[0].rule == "spread"
    assert [p.entrant for p in r.normalised.places] == [e1.id, e2.id, e3.id]
    assert r.agreement.w == pytest.approx(1.0) and r.agreement.excluded_judges == (late.id,)


async def test_rounds_are_ranked_separately(db):
    async with db.write() as session:
        competition = await make_competition(session)
        heat = await add_round(session=session, competition=competition, name="Heat 1", actor_id=None)
        a = await make_entrant(session, competition)
        b = await make_entrant(session, competition, round_id=heat.id)
        judge = await make_judge(session, competition)
        await score(session, competition, judge, a, 3)
        await score(session, competition, judge, b, 9)
    async with db.read() as session:
        view = await results.load_results(session=session, competition=await session.get(Competition, competition.id))
    assert [(g.round.name if g.round else None, [p.entrant for p in g.results.raw.places]) for g in view.groups] == [
        (None, [a.id]), ("Heat 1", [b.id])]


async def test_release_closes_the_competition(db):
    async with db.write() as session:
        competition = await make_competition(session)
        with pytest.raises(JudgingError, match="Start scoring"):
            await release_results(session=session, competition=competition, visibility="public",
                                  actor_id=None)
        await start_scoring(session=session, competition=competition, actor_id=None)
        with pytest.raises(InvalidInput):
            await release_results(session=session, competition=competition, visibility="everyone",
                                  actor_id=None)
        await release_results(session=session, competition=competition, visibility="judges", actor_id=None)
        assert competition.is_closed and competition.released and competition.results_visibility == "judges"
        with pytest.raises(ScoringClosed):
            await set_chair_order(session=session, competition=competition, entrant_ids=[], actor_id=None)
