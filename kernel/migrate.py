"""Apply Alembic migrations programmatically (used by `denhub db upgrade` and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from kernel.db import ensure_sqlite_directory
from kernel.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(Path(PROJECT_ROOT / "migrations")))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the database to `revision`; safe to run on every start."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)
