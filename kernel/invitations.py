"""Invitations: an account made from the web, and an emailed link (single-use, expiring, only its hash stored)
with which its owner sets their password and signs in."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kernel import mail
from kernel.accounts import (
    MIN_PASSWORD_LENGTH,
    NO_PASSWORD,
    AccountError,
    Role,
    User,
    create_user,
    normalise_email,
    open_session,
    set_password,
)
from kernel.auth import PUBLIC, begin_session, flash, guard, home_for, safe_next
from kernel.db import Base, UTCDateTime, utcnow
from kernel.tokens import hash_token
from kernel.web import render

INVITATION_TTL = dt.timedelta(days=7)
GONE = ("This invitation link no longer works: it has been used, or it is more than "
        f"{INVITATION_TTL.days} days old. Ask the person who invited you to send a new one.")


class Invitation(Base):
    __tablename__ = "account_invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Where the invited person lands once signed in (a door volunteer: their event's scanner); "" for home.
    next_path: Mapped[str] = mapped_column(String(300), default="")
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


async def send_invitation(*, session: AsyncSession, user: User, base_url: str, invited_by: str,
                          next_path: str = "", what: str = "") -> str:
    """Email `user` a new link to set their password (earlier unused links stop working); the link."""
    now = utcnow()
    await session.execute(update(Invitation).where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
                          .values(used_at=now))
    token = secrets.token_urlsafe(32)
    session.add(Invitation(user_id=user.id, token_hash=hash_token(token), next_path=next_path,
                           expires_at=now + INVITATION_TTL))
    base = base_url.rstrip("/")
    link = f"{base}/account/invitation/{token}"
    text, html = mail.render_email(
        "notice", heading="You are invited to denhub",
        paragraphs=[f"Hello {user.name},",
                    f"{invited_by} has made you an account on denhub as {user.role_label.lower()}{what}.",
                    f"Choose your password with the link below. It works once, for {INVITATION_TTL.days} days."],
        action_url=link, action_label="Choose your password", base_url=base)
    await mail.enqueue(session=session, to=user.email, subject="Your denhub account", text=text, html=html)
    return link


async def invite(*, session: AsyncSession, email: str, name: str, role: Role | str, base_url: str,
                 invited_by: str, next_path: str = "", reuse: bool = False, what: str = "") -> tuple[User, bool]:
    """(the account, whether it is new): a new account without a password, emailed an invitation. With
    `reuse`, an existing active account of the same role is used instead (and invited again while it has no
    password yet); without it an existing email is an AccountError, as is any other role's account."""
    email = normalise_email(email)
    role = Role(role)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        try:
            async with session.begin_nested():  # two invitations racing for one new address: one account
                user = await create_user(session=session, email=email, name=name, role=role,
                                         password=secrets.token_urlsafe(32))
                user.password_hash = NO_PASSWORD + user.password_hash
                await session.flush()
        except IntegrityError:
            user = await session.scalar(select(User).where(User.email == email))
            if user is None:
                raise
        else:
            await send_invitation(session=session, user=user, base_url=base_url, invited_by=invited_by,
                                  next_path=next_path, what=what)
            return user, True
    if not reuse:
        raise AccountError("An account with that email already exists.")
    if user.role != role:
        raise AccountError(f"That email belongs to an account of another kind ({user.role_label.lower()}): "
                           "use another address.")
    if not user.is_active:
        raise AccountError("That account is switched off: a hub administrator can switch it on again.")
    if not user.has_password:
        await send_invitation(session=session, user=user, base_url=base_url, invited_by=invited_by,
                              next_path=next_path, what=what)
    return user, False


async def _pending(session: AsyncSession, token: str) -> tuple[Invitation, User] | None:
    row = (await session.execute(
        select(Invitation, User).join(User, User.id == Invitation.user_id)
        .where(Invitation.token_hash == hash_token(token)))).first()
    if row is None or row[0].used_at is not None or row[0].expires_at <= utcnow() or not row[1].is_active:
        return None
    return row[0], row[1]


@guard(PUBLIC)
async def accept(request: Request) -> Response:
    """The invitation link: choose a password, then be signed in (once: the link is used up)."""
    token = request.path_params["token"][:100]
    db = request.app.state.db
    async with db.read() as session:
        found = await _pending(session, token)
    if found is None:
        raise HTTPException(410, GONE)
    invitation, user = found
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form()
        password = str(form.get("password", ""))[:1024]
        if len(password) < MIN_PASSWORD_LENGTH:
            errors["password"] = f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
        elif password != str(form.get("confirm", ""))[:1024]:
            errors["confirm"] = "The two passwords are not the same."
        else:
            async with db.write() as session:
                # Claimed in the same statement as the check: a link used twice at once signs in only once.
                claimed = await session.execute(
                    update(Invitation).where(Invitation.id == invitation.id, Invitation.used_at.is_(None),
                                             Invitation.expires_at > utcnow()).values(used_at=utcnow()))
                if claimed.rowcount != 1:
                    raise HTTPException(410, GONE)
                user = await session.get(User, user.id)
                await set_password(session=session, user=user, password=password)
                sid = await open_session(session=session, user=user)
            begin_session(request, user, sid)
            flash(request, f"Welcome, {user.name}: your password is set and you are signed in.")
            return RedirectResponse(safe_next(invitation.next_path, home_for(request, user)), status_code=303)
    return render(request, "auth/invitation.html", {"invited": user, "errors": errors},
                  status_code=422 if errors else 200, headers={"Cache-Control": "no-store"})


routes = [
    Route("/account/invitation/{token}", accept, methods=["GET", "POST"], name="accept_invitation"),
]
