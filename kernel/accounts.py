"""Accounts: hub administrators, event organisers, treasurers, door volunteers and judges, with argon2id password
hashes."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, UTCDateTime, utcnow
from kernel.text import has_control_characters, one_line
from kernel.tokens import hash_token


class Role(enum.StrEnum):
    """Least privilege: an event organiser manages only the events they are given (events.access), a
    treasurer only money, a door volunteer only the door of their events, a judge only their scoring."""

    ADMIN = "admin"  # the hub administrator: every event, accounts, who organises what
    ORGANISER = "organiser"  # an event organiser: the events they are given or create
    TREASURER = "treasurer"  # orders and payments of every event
    DOOR_STAFF = "door_staff"
    JUDGE = "judge"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Hub administrator",
    Role.ORGANISER: "Event organiser",
    Role.TREASURER: "Treasurer",
    Role.DOOR_STAFF: "Door volunteer",
    Role.JUDGE: "Judge",
}


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change: every session signed with an older value stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The language chosen with the switch while signed in (kernel.i18n); None follows the browser.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def has_password(self) -> bool:
        """False for an account made by an invitation not yet accepted (or a judge's, who use links)."""
        return not self.password_hash.startswith(NO_PASSWORD)


# Prefixed to a hash, it makes the hash invalid, so no password can match it: accounts that sign in by link.
NO_PASSWORD = "!"


SESSION_MAX_AGE_SECONDS = 12 * 60 * 60  # a session cookie's life (denhub.app), and so its record's


class UserSession(Base):
    """One signed-in browser, kept on the server: the cookie holds a random id whose SHA-256 is stored here, and
    every request looks it up, so deleting the row (logout, password change, deactivation) ends the session at
    once in every worker, even for a copy of the cookie taken before."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()
# Verified when the account does not exist, so a wrong email costs as long as a wrong password.
# Made on first use, not at import: hashing takes argon2's 64 MB, which every importing process would keep.
_dummy_hash: str | None = None


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash and check passwords with `hasher` from now on, in this process. For the test suite, which uses
    argon2's cheapest profile: at the defaults, hashing for its hundreds of sign-ins took most of its time."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password, only here to spend the same time")
    return _dummy_hash

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    pass


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_secret(hash_: str, password: str) -> bool:
    """Whether `password` (or a door PIN) matches its argon2id `hash_`, checked off the event loop."""

    def check() -> bool:
        try:
            return _hasher.verify(hash_, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)


async def create_user(*, session: AsyncSession, email: str, name: str, role: Role | str, password: str) -> User:
    """Create an account; raises AccountError for a bad role, short password or taken email."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or has_control_characters(email) or " " in email:
        raise AccountError("Enter a valid email address.")
    name = one_line(name)  # on badges, emails and the door's screens: one line (kernel.text)
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(f"Role must be one of: {', '.join(r.value for r in Role)}.") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(name.strip()) > 120:
        raise AccountError("Names need to be 120 characters or fewer.")
    if await session.scalar(select(User.id).where(User.email == email)):
        raise AccountError("An account with that email already exists.")
    user = User(email=email, name=name.strip() or email, role=role.value, password_hash=await hash_password(password))
    session.add(user)
    await session.flush()
    return user


async def open_session(*, session: AsyncSession, user: User) -> str:
    """Record a new signed-in session for `user`; the id for its cookie (only its hash is stored)."""
    return await open_session_record(session=session, model=UserSession, owner=UserSession.user_id, owner_id=user.id)


async def open_session_record(*, session: AsyncSession, model, owner, owner_id: int) -> str:
    """A new server-side session row of `model` (with token_hash and created_at, as UserSession) whose column
    `owner` is `owner_id`; the id for its cookie (only its hash is stored). Also for a domain's sessions of
    its own (ticketing's door-link sessions)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    # The owner's records whose cookies have expired by now go (the cookie outlives no record it needs).
    await session.execute(delete(model).where(
        owner == owner_id, model.created_at < now - dt.timedelta(seconds=SESSION_MAX_AGE_SECONDS)))
    session.add(model(token_hash=hash_token(sid), created_at=now, **{owner.key: owner_id}))
    await session.flush()
    return sid


async def close_session(*, session: AsyncSession, sid: str) -> None:
    """End one session (logout): its cookie, and every copy of it, signs no one in any more."""
    await session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(sid)))


async def close_all_sessions(*, session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(UserSession).where(UserSession.user_id == user_id))


async def set_password(*, session: AsyncSession, user: User, password: str) -> None:
    """Change the password and end every session of the account (the new one signs in afresh)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    user.password_hash = await hash_password(password)
    user.session_version += 1
    await close_all_sessions(session=session, user_id=user.id)


async def deactivate_user(*, session: AsyncSession, user: User) -> None:
    """Stop an account signing in, and end its sessions now (in every worker)."""
    user.is_active = False
    await close_all_sessions(session=session, user_id=user.id)


async def authenticate(*, session: AsyncSession, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (after the same work either way)."""
    user = await session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        await verify_secret(await anyio.to_thread.run_sync(_dummy), password)
        return None
    if not await verify_secret(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    return user


async def count_users(*, session: AsyncSession) -> int:
    return await session.scalar(select(func.count(User.id))) or 0
