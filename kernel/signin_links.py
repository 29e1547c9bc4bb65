"""Emailed one-time sign-in links: the way in for an account owner whose password sign-in is locked by others'
wrong guesses (or who forgot it). Single use, short-lived, and only the token's hash is stored."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import ForeignKey, Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kernel import mail
from kernel.accounts import User, normalise_email
from kernel.db import Base, UTCDateTime, utcnow
from kernel.tokens import hash_token

LINK_TTL = dt.timedelta(minutes=15)


class SignInLink(Base):
    __tablename__ = "sign_in_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LinkRefused(ValueError):
    """The link is unknown (404), or used or expired (410); the message says what to do."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


async def email_link(*, session: AsyncSession, email: str, base_url: str, now: dt.datetime | None = None) -> bool:
    """Email a sign-in link to the active account with this address, in the caller's transaction; whether there
    was one (the page says the same either way: it must not tell who has an account)."""
    user = await session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        return False
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    await session.execute(delete(SignInLink).where(SignInLink.expires_at < now - dt.timedelta(days=1)))  # spent
    session.add(SignInLink(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=now + LINK_TTL))
    link = f"{base_url.rstrip('/')}/login/link/{token}"
    minutes = int(LINK_TTL.total_seconds() // 60)
    text, html = mail.render_email(
        "notice", heading="Your sign-in link",
        paragraphs=[f"Hello {user.name},",
                    "Someone (we hope you) asked for a link to sign in to denhub without a password.",
                    f"The link works once, within {minutes} minutes. If you did not ask for it, ignore this email."],
        action_url=link, action_label="Sign in", base_url=base_url.rstrip("/"))
    await mail.enqueue(session=session, to=user.email, subject="Your sign-in link", text=text, html=html)
    return True


async def _live(session: AsyncSession, token: str, now: dt.datetime) -> tuple[SignInLink, User]:
    link = None
    if token and len(token) <= 200:
        link = await session.scalar(select(SignInLink).where(SignInLink.token_hash == hash_token(token)))
    user = await session.get(User, link.user_id) if link is not None else None
    if link is None or user is None or not user.is_active:
        raise LinkRefused("That sign-in link is not valid. Check you copied all of it, or ask for a new one.", 404)
    if link.used_at is not None:
        raise LinkRefused("This sign-in link has already been used. Each link works once: ask for a new one.", 410)
    if link.expires_at <= now:
        raise LinkRefused("This sign-in link has expired. Ask for a new one.", 410)
    return link, user


async def check_link(*, session: AsyncSession, token: str, now: dt.datetime | None = None) -> User:
    """The account a link would sign in, without using it up (the confirm page)."""
    return (await _live(session, token, now or utcnow()))[1]


async def redeem_link(*, session: AsyncSession, token: str, now: dt.datetime | None = None) -> User:
    """Use the link up and return its account; of two racing uses (two workers) only one UPDATE wins."""
    now = now or utcnow()
    link, user = await _live(session, token, now)
    used = await session.execute(update(SignInLink).where(SignInLink.id == link.id, SignInLink.used_at.is_(None))
                                 .values(used_at=now))
    if used.rowcount != 1:
        raise LinkRefused("This sign-in link has already been used. Each link works once: ask for a new one.", 410)
    return user
