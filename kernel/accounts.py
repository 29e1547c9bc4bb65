"""Accounts: hub administrators, event organisers, treasurers, door volunteers and judges, with argon2id password
hashes."""

from __future__ import annotations

import datetime as dt
import enum

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, UTCDateTime, utcnow


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

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def has_password(self) -> bool:
        """False for an account made by an invitation not yet accepted (or a judge's, who use links)."""
        return not self.password_hash.startswith(NO_PASSWORD)


# Prefixed to a hash, it makes the hash invalid, so no password can match it: accounts that sign in by link.
NO_PASSWORD = "!"


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
    if "@" not in email or len(email) > 254:
        raise AccountError("Enter a valid email address.")
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


async def set_password(*, session: AsyncSession, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    user.password_hash = await hash_password(password)
    user.session_version += 1


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
