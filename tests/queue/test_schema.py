"""The queue adapter's schema: the procrastinate it was written against, checked before migrating."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from rebrowse.queue.schema import (
    EXPECTED_SCHEMA,
    EXPECTED_VERSION,
    QueueSchemaMismatch,
    check_installed,
    check_schema,
    installed_schema,
)
from rebrowse.store.database import Database, migrate, migration_files


def test_the_installed_procrastinate_is_the_expected_one() -> None:
    assert metadata.version("procrastinate").startswith(EXPECTED_VERSION + ".")
    assert installed_schema() == EXPECTED_SCHEMA
    check_installed()


def test_the_schema_version_is_the_newest_migration_by_number(tmp_path: Path) -> None:
    for name in ("03.04.00_50_post.sql", "03.10.00_01_pre.sql", "03.9.00_01_pre.sql", "__init__.py"):
        (tmp_path / name).write_text("")
    assert installed_schema(tmp_path) == "03.10.00"


def test_another_schema_is_refused_naming_both_versions() -> None:
    with pytest.raises(QueueSchemaMismatch) as refused:
        check_schema("3.11.2", "03.05.00")
    message = str(refused.value)
    assert "procrastinate 3.11.2" in message and "schema 03.05.00" in message
    assert f"procrastinate {EXPECTED_VERSION} (schema {EXPECTED_SCHEMA})" in message
    check_schema("3.10.7", EXPECTED_SCHEMA)  # another patch release with the same schema is accepted


def test_the_queue_migrations_are_numbered_among_the_stores() -> None:
    names = [name for _, name, _ in migration_files()]
    assert "003_worker.sql" in names and "005_fetch_job.sql" in names
    versions = [version for version, _, _ in migration_files()]
    assert versions == sorted(set(versions))  # each number once, in order


async def test_a_migrated_database_is_up_to_date(db: Database) -> None:
    assert await migrate(db) == []
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT to_regproc('rebrowse_next_job') AS f")).fetchone()
    assert row is not None and row["f"] is not None
