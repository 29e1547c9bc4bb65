"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from denhub.models import metadata
from kernel.migrate import alembic_config, upgrade


async def _schema_differences(url: str, target: MetaData = metadata) -> tuple[list, set[str]]:
    """(alembic's differences between the database and `target`, the revisions the database is at)."""
    engine = create_async_engine(url)

    def compare(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, target), set(context.get_current_heads())

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


def _heads(url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


async def test_migrated_database_matches_the_models(db_url):
    """db_url is a database upgraded from empty to heads (the SQLite copy and the PostgreSQL run database)."""
    differences, current = await _schema_differences(db_url)
    assert differences == []
    assert current == _heads(db_url)


def test_fresh_sqlite_upgrade_matches_the_models(tmp_path):
    """Sync: upgrade() runs its own event loop, as `denhub db upgrade` does."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'fresh.sqlite3'}"
    upgrade(url)
    differences, current = asyncio.run(_schema_differences(url))
    assert differences == []
    assert current == _heads(url)
    upgrade(url)  # safe to run again on every start
    assert asyncio.run(_schema_differences(url))[1] == current


async def test_the_comparison_would_notice_a_missing_column(db_url):
    """Guards the test above: a model change without a migration must show up as a difference."""
    extended = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(extended)
    Table("event", extended, Column("forgotten", String(10)), extend_existing=True)
    Table("not_migrated", extended, Column("id", Integer, primary_key=True))
    differences, _ = await _schema_differences(db_url, extended)
    kinds = {(d[0], getattr(d[-1], "name", None) if d[0] == "add_column" else d[1].name) for d in differences}
    assert ("add_column", "forgotten") in kinds
    assert ("add_table", "not_migrated") in kinds


async def test_every_model_table_exists(db_url):
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert set(metadata.tables) <= tables
    assert {"user_account", "event", "event_image", "rate_event"} <= tables
