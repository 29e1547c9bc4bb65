"""Settings read from DENHUB_* environment variables (and an optional .env file).

No I/O happens at import time; `Settings.from_env()` reads the environment when called.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values people paste from examples; refused as a secret outside development.
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development", "please-change-me"}
ENVIRONMENTS = ("development", "test", "production")


def private_directory(path: Path, *, ours: bool = False) -> Path:
    """`path` with the folders it lacks made readable by the app's user only (0700): the SQLite files, the
    outbox's emails and the key files live in such folders. An existing folder is left as it is (it may be
    shared, /tmp say) unless `ours` says it is the app's own (var/), which older versions made 0755."""
    path = Path(path)
    missing = []
    while not path.is_dir() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    path = missing[0] if missing else path
    if ours and not missing and path.stat().st_mode & 0o077:
        with contextlib.suppress(PermissionError):
            path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `path` readable by the app's user only (0600), never visible half-written or world-readable."""
    path = Path(path)
    private_directory(path.parent)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"DENHUB_{name.upper()} must be true or false, not {value!r}")


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class Settings:
    """Every setting with its meaning; `denhub settings` prints them."""

    env: str = field(default="development", metadata={"help": "development, test or production"})
    database_url: str = field(
        default="",
        metadata={"help": "SQLAlchemy URL; default sqlite+aiosqlite under var/; "
                          "postgresql+asyncpg://user@host/db for several workers"},
    )
    secret_key: str = field(
        default="",
        metadata={"help": "signs sessions, CSRF and form tokens; required outside development"},
    )
    var_dir: str = field(default="", metadata={"help": "where the SQLite file, outbox and dev secret live"})
    signing_key_file: str = field(
        default="", metadata={"help": "the keys that encrypt each event's ticket-signing key in the database "
                                      "(made 0600 on first use; default var/signing-keys; keep it out of "
                                      "database backups; `denhub keys rotate` replaces it)"},
    )
    https: bool = field(default=False, metadata={"help": "served behind https: cookies get Secure, "
                                                          "responses Strict-Transport-Security"})
    trusted_proxies: str = field(
        default="", metadata={"help": "reverse proxies (comma-separated addresses or networks) whose "
                                      "X-Forwarded-For gives the visitor's address; empty trusts none"}
    )
    base_url: str = field(
        default="http://127.0.0.1:8000", metadata={"help": "public address, used in emails and calendar files"}
    )
    listing_cache_seconds: float = field(
        default=2.0, metadata={"help": "how long a worker may reuse a rendered public listing"}
    )
    login_max_failures: int = field(
        default=5, metadata={"help": "failed logins per account from one address within the window before 429 "
                                     "(4x that per address, 10x per account from everywhere)"}
    )
    login_window_seconds: int = field(default=900, metadata={"help": "window for the login limit"})
    max_image_bytes: int = field(default=2 * 1024 * 1024, metadata={"help": "largest event image accepted"})
    registration_limit: int = field(
        default=30, metadata={"help": "registrations (and waiting-list joins) per address within the window"}
    )
    registration_window_seconds: int = field(default=600, metadata={"help": "window for the registration limit"})
    waitlist_offer_hours: float = field(
        default=24.0, metadata={"help": "how long a waiting-list offer holds a freed seat"}
    )
    smtp_url: str = field(
        default="",
        metadata={"help": "outgoing mail: smtp://user:pass@host:587?starttls=true, smtps://host:465 or "
                          "smtp://127.0.0.1:1025; empty writes each email as an .eml file under var/outbox/"},
    )
    smtp_timeout_seconds: float = field(default=30.0, metadata={"help": "give up on one SMTP exchange after"})
    mail_from: str = field(
        default="denhub <no-reply@denhub.example>", metadata={"help": "From: header of every email"}
    )
    languages: str = field(
        default="en,bn,ur", metadata={"help": "languages offered (comma-separated; English is always one): "
                                              "each needs locales/<code>/LC_MESSAGES/messages.po, docs/i18n.md"}
    )
    mail_poll_seconds: float = field(
        default=2.0, metadata={"help": "how often the outbox sender looks for due email (it is also woken "
                                       "at once by email queued in this process)"}
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, env_file: Path | None = None) -> Settings:
        """Build settings from DENHUB_* variables; a .env file fills in what the environment lacks."""
        source = dict(_read_env_file(env_file or PROJECT_ROOT / ".env"))
        source.update(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"DENHUB_{f.name.upper()}"
            if key not in source:
                continue
            raw = source[key]
            if f.type in ("bool", bool):
                values[f.name] = _parse_bool(f.name, raw)
            elif f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SettingsError(f"{key} must be a whole number, not {raw!r}") from None
            elif f.type in ("float", float):
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    raise SettingsError(f"{key} must be a number, not {raw!r}") from None
            else:
                values[f.name] = raw
        return cls(**values).validated()

    def validated(self) -> Settings:
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"DENHUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.env != "development":
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 32:
                raise SettingsError(
                    "DENHUB_SECRET_KEY must be set to a random value of at least 32 characters outside "
                    "development (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
        if self.database_url and not self.database_url.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise SettingsError("DENHUB_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise SettingsError("DENHUB_SMTP_URL must start with smtp:// or smtps://")
        if "@" not in self.mail_from or any(c in self.mail_from for c in "\r\n"):
            raise SettingsError("DENHUB_MAIL_FROM must be an address such as 'denhub <no-reply@example.org>'")
        if self.mail_poll_seconds <= 0 or self.smtp_timeout_seconds <= 0:
            raise SettingsError("DENHUB_MAIL_POLL_SECONDS and DENHUB_SMTP_TIMEOUT_SECONDS must be above zero")
        return self

    @property
    def var_path(self) -> Path:
        return Path(self.var_dir) if self.var_dir else PROJECT_ROOT / "var"

    @property
    def effective_signing_key_file(self) -> Path:
        return Path(self.signing_key_file) if self.signing_key_file else self.var_path / "signing-keys"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_path / 'denhub.sqlite3'}"

    def effective_secret_key(self) -> str:
        """The signing key; in development a random key kept under var/ so workers and restarts agree."""
        if self.secret_key and self.secret_key.strip().lower() not in PLACEHOLDER_SECRETS:
            return self.secret_key
        if self.env != "development":  # validated() already refused this; belt and braces
            raise SettingsError("DENHUB_SECRET_KEY is required outside development")
        path = self.var_path / "dev-secret-key"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        key = secrets.token_urlsafe(48)
        write_private(path, key.encode("utf-8"))
        return key

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, current value with secrets hidden, meaning) for every setting."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = "(set)" if f.name == "secret_key" and value else str(value)
            if f.name == "smtp_url" and value:
                shown = _without_password(value)
            rows.append((f"DENHUB_{f.name.upper()}", shown, f.metadata.get("help", "")))
        return rows


def _without_password(url: str) -> str:
    """The URL with its password hidden, for `denhub settings`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
