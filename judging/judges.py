"""The judging panel: invitations, one-time magic sign-in links, the chair, and conflicts of interest."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from judging.audit import audit
from judging.errors import (
    InvalidInput,
    JudgingError,
    LinkGone,
    NotAJudge,
    NotFound,
    ScoringClosed,
    SheetLocked,
)
from judging.models import (
    Competition,
    Conflict,
    Entrant,
    EntrantStatus,
    JudgeAssignment,
    MagicLink,
    Score,
    ScoreSheet,
)
from kernel import mail
from kernel.accounts import AccountError, Role, User, create_user, normalise_email
from kernel.db import utcnow
from kernel.tokens import hash_token

MAGIC_LINK_TTL = dt.timedelta(days=14)


# --- the panel -------------------------------------------------------------------------------------

@dataclass
class PanelMember:
    assignment: JudgeAssignment
    user: User


async def panel(*, session: AsyncSession, competition_id: int) -> list[PanelMember]:
    stmt = (select(JudgeAssignment, User).join(User, User.id == JudgeAssignment.user_id)
            .where(JudgeAssignment.competition_id == competition_id).order_by(User.name, User.id))
    return [PanelMember(a, u) for a, u in (await session.execute(stmt)).all()]


async def require_judge(*, session: AsyncSession, competition_id: int, user_id: int) -> JudgeAssignment:
    """The judge's place on this competition's panel; NotAJudge when they have none."""
    assignment = await session.scalar(select(JudgeAssignment).where(
        JudgeAssignment.competition_id == competition_id, JudgeAssignment.user_id == user_id))
    if assignment is None:
        raise NotAJudge("You are not on the judging panel for this competition.")
    return assignment


async def competitions_for_judge(*, session: AsyncSession, user_id: int) -> list[Competition]:
    stmt = (select(Competition).join(JudgeAssignment, JudgeAssignment.competition_id == Competition.id)
            .where(JudgeAssignment.user_id == user_id).order_by(Competition.created_at.desc()))
    return list(await session.scalars(stmt))


@dataclass
class Invitation:
    assignment: JudgeAssignment
    user: User
    token: str
    link: str
    created_account: bool


async def invite_judge(*, session: AsyncSession, competition: Competition, email: str, name: str,
                       is_chair: bool, base_url: str, actor_id: int | None) -> Invitation:
    """Put someone on the panel (making a judge account if the email is new) and email them a sign-in link."""
    if competition.is_closed:
        raise ScoringClosed("Results have been released: the panel can no longer change.")
    email = normalise_email(email)
    user = await session.scalar(select(User).where(User.email == email))
    created = False
    if user is None:
        user, created = await _new_judge_account(session, email, name)
    if user.role != Role.JUDGE:
        raise InvalidInput("That email belongs to an organiser or door-staff account. Sign-in links are only for "
                           "judge accounts: use another address for this judge.", field="email")
    if not user.is_active:
        raise InvalidInput("That judge account is switched off.", field="email")
    assignment = await _assignment_of(session, competition.id, user.id)
    if assignment is None:
        try:
            async with session.begin_nested():  # a savepoint: the transaction stays usable if another wins
                assignment = JudgeAssignment(competition_id=competition.id, user_id=user.id, is_chair=False,
                                             invited_at=utcnow())
                session.add(assignment)
                await session.flush()
        except IntegrityError:  # the same judge invited at the same moment: that place on the panel is theirs
            assignment = await _assignment_of(session, competition.id, user.id)
            if assignment is None:
                raise
        else:
            await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="judge.invite",
                        subject=user.email)
    if is_chair:
        await set_chair(session=session, competition_id=competition.id, assignment=assignment, actor_id=actor_id)
    token, link = await new_magic_link(session=session, user=user, competition=competition, base_url=base_url)
    await _email_link(session=session, user=user, competition=competition, link=link, base_url=base_url)
    return Invitation(assignment, user, token, link, created)


async def _new_judge_account(session: AsyncSession, email: str, name: str) -> tuple[User, bool]:
    """(the account, made now?) for an address that had none when the invitation began. The unique email
    decides between invitations racing for one new address: the others use the account that won."""
    try:
        async with session.begin_nested():
            user = await create_user(session=session, email=email, name=name or email, role=Role.JUDGE,
                                     password=secrets.token_urlsafe(32))
            # "!" makes the hash invalid, so no password can ever match it: judges sign in by magic link only.
            user.password_hash = "!" + user.password_hash
            await session.flush()
        return user, True
    except (AccountError, IntegrityError) as exc:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            if isinstance(exc, AccountError):
                raise InvalidInput(str(exc), field="email") from None
            raise
        return user, False


async def _assignment_of(session: AsyncSession, competition_id: int, user_id: int) -> JudgeAssignment | None:
    return await session.scalar(select(JudgeAssignment).where(JudgeAssignment.competition_id == competition_id,
                                                              JudgeAssignment.user_id == user_id))


async def set_chair(*, session: AsyncSession, competition_id: int, assignment: JudgeAssignment,
                    actor_id: int | None) -> None:
    """One chair per panel: making this judge the chair stands the previous one down."""
    await session.execute(update(JudgeAssignment).where(JudgeAssignment.competition_id == competition_id,
                                                        JudgeAssignment.id != assignment.id)
                          .values(is_chair=False))
    if not assignment.is_chair:
        assignment.is_chair = True
        await audit(session=session, competition_id=competition_id, actor_id=actor_id, action="judge.chair",
                    subject=f"judge {assignment.user_id}")


# --- magic links -----------------------------------------------------------------------------------

async def new_magic_link(*, session: AsyncSession, user: User, competition: Competition, base_url: str,
                         ttl: dt.timedelta = MAGIC_LINK_TTL) -> tuple[str, str]:
    """(token, full link). Only the token's hash is stored; the token itself is shown once and emailed."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(MagicLink(user_id=user.id, competition_id=competition.id, token_hash=hash_token(token),
                          created_at=now, expires_at=now + ttl))
    await session.flush()
    return token, f"{base_url.rstrip('/')}/judging/magic/{token}"


async def _email_link(*, session: AsyncSession, user: User, competition: Competition, link: str,
                      base_url: str) -> None:
    days = MAGIC_LINK_TTL.days
    text, html = mail.render_email(
        "notice", heading=f"You are judging {competition.name}",
        paragraphs=[f"Hello {user.name},",
                    ("You have been invited to judge the pitches. Open the link below on the phone you will "
                     "score with, then press “Sign in”. There is no password to remember."),
                    (f"The link works once and for {days} days. If it has expired, ask the organiser for a "
                     "new one.")],
        action_url=link, action_label="Sign in to score", base_url=base_url.rstrip("/"))
    await mail.enqueue(session=session, to=user.email, subject=f"Judging: {competition.name}", text=text, html=html)


async def _live_link(session: AsyncSession, token: str, now: dt.datetime) -> tuple[MagicLink, User]:
    if not token or len(token) > 200:
        raise NotFound("That sign-in link is not valid. Check you copied all of it.")
    link = await session.scalar(select(MagicLink).where(MagicLink.token_hash == hash_token(token)))
    if link is None:
        raise NotFound("That sign-in link is not valid. Check you copied all of it.")
    if link.used_at is not None:
        raise LinkGone("This sign-in link has already been used. Each link works once: ask the organiser "
                       "for a new one.")
    if link.expires_at <= now:
        raise LinkGone("This sign-in link has expired. Ask the organiser for a new one.")
    user = await session.get(User, link.user_id)
    if user is None or not user.is_active or user.role != Role.JUDGE:
        raise NotFound("That sign-in link is not valid.")
    return link, user


async def check_magic_link(*, session: AsyncSession, token: str, now: dt.datetime | None = None) -> User:
    """The judge a link would sign in, without using it up (the confirm page)."""
    _, user = await _live_link(session, token, now or utcnow())
    return user


async def redeem_magic_link(*, session: AsyncSession, token: str,
                            now: dt.datetime | None = None) -> tuple[User, int]:
    """Use the link up and return (judge, competition id). Two workers racing: only one UPDATE wins."""
    now = now or utcnow()
    link, user = await _live_link(session, token, now)
    used = await session.execute(update(MagicLink).where(MagicLink.id == link.id, MagicLink.used_at.is_(None))
                                 .values(used_at=now))
    if used.rowcount != 1:
        raise LinkGone("This sign-in link has already been used. Each link works once: ask the organiser "
                       "for a new one.")
    await audit(session=session, competition_id=link.competition_id, actor_id=user.id, action="judge.sign_in",
                subject=user.email)
    return user, link.competition_id


# --- conflicts -------------------------------------------------------------------------------------

async def conflicts_for(*, session: AsyncSession, competition_id: int) -> list[Conflict]:
    stmt = select(Conflict).where(Conflict.competition_id == competition_id).order_by(Conflict.declared_at)
    return list(await session.scalars(stmt))


ALREADY_DECLARED = "You have already declared a conflict with this entrant."


async def _conflict_of(session: AsyncSession, judge_id: int, entrant_id: int) -> Conflict | None:
    return await session.scalar(select(Conflict).where(Conflict.judge_id == judge_id,
                                                       Conflict.entrant_id == entrant_id))


async def declare_conflict(*, session: AsyncSession, competition: Competition, judge_id: int, entrant_id: int,
                           reason: str) -> Conflict:
    """The judge steps back from this entrant: a draft sheet is discarded (audited); a submitted one must be
    unlocked by the organiser first."""
    if competition.is_closed:
        raise ScoringClosed("Results have been released: conflicts can no longer be declared.")
    await require_judge(session=session, competition_id=competition.id, user_id=judge_id)
    entrant = await session.get(Entrant, entrant_id)
    if entrant is None or entrant.competition_id != competition.id or entrant.status != EntrantStatus.ACCEPTED:
        raise NotFound("There is no entrant with that number in this competition.")
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("Say briefly why (up to 500 characters), e.g. “I mentor this founder”.", field="reason")
    if await _conflict_of(session, judge_id, entrant_id) is not None:
        raise JudgingError(ALREADY_DECLARED)
    sheet = await session.scalar(select(ScoreSheet).where(ScoreSheet.judge_id == judge_id,
                                                          ScoreSheet.entrant_id == entrant_id).with_for_update())
    if sheet is not None:
        if sheet.is_submitted:
            raise SheetLocked("You have already submitted scores for this entrant. Ask the organiser to unlock "
                              "your sheet, then declare the conflict.")
        values = {str(s.criterion_id): s.value for s in await session.scalars(
            select(Score).where(Score.sheet_id == sheet.id))}
        await session.execute(delete(ScoreSheet).where(ScoreSheet.id == sheet.id))
        await audit(session=session, competition_id=competition.id, actor_id=judge_id, action="sheet.discard",
                    subject=f"{entrant.enterprise}: draft discarded on declaring a conflict",
                    old={"scores": values, "feedback": sheet.feedback, "private_note": sheet.private_note},
                    new=None)
    conflict = Conflict(competition_id=competition.id, judge_id=judge_id, entrant_id=entrant_id, reason=reason,
                        declared_at=utcnow())
    try:
        async with session.begin_nested():  # a savepoint: a double-tap's second declaration is refused cleanly
            session.add(conflict)
            await session.flush()
    except IntegrityError:  # declared at the same moment in another transaction (the unique judge, entrant)
        if await _conflict_of(session, judge_id, entrant_id) is None:
            raise
        raise JudgingError(ALREADY_DECLARED) from None
    await audit(session=session, competition_id=competition.id, actor_id=judge_id, action="conflict.declare",
                subject=entrant.enterprise, new={"reason": reason})
    return conflict
