"""procrastinate's part of the schema: its tables and functions, and ours written against them.

The adapter's SQL (queue/jobs.py, the batch insert in queue/app.py, the fetch function of migration 005 in
queue/sql/) relies on procrastinate's schema as of EXPECTED_SCHEMA, the newest schema migration procrastinate
EXPECTED_VERSION ships. pyproject.toml pins that minor version; migrating refuses any other schema, so that an
upgrade of procrastinate is a decision (its new SQL read, ours checked against it), not an accident.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import procrastinate.schema
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from rebrowse.errors import RebrowseError

EXPECTED_VERSION = "3.10"  # the minor version pinned in pyproject.toml
EXPECTED_SCHEMA = "03.04.00"  # the newest of its schema migrations (procrastinate's own numbering)
MIGRATION_VERSION = re.compile(r"^(\d+\.\d+\.\d+)_")
SCHEMA_NAME = "procrastinate schema"  # how migrate() names it among the migrations it applied
# The package whose sql/ folder holds our migrations on procrastinate's tables, numbered among the store's.
MIGRATIONS_PACKAGE = "rebrowse.queue"


class QueueSchemaMismatch(RebrowseError):
    """The installed procrastinate's schema is not the one the queue adapter was written against."""


def installed_schema(migrations: Path | None = None) -> str:
    """The version of the newest schema migration of the installed procrastinate (or in `migrations`)."""
    folder = migrations or Path(procrastinate.schema.SchemaManager.get_migrations_path())
    versions = [found.group(1) for entry in folder.iterdir() if (found := MIGRATION_VERSION.match(entry.name))]
    return max(versions, key=lambda version: tuple(int(part) for part in version.split(".")))


def check_schema(version: str, schema: str) -> None:
    """Refuse procrastinate `version` whose schema is `schema` unless that is EXPECTED_SCHEMA."""
    if schema != EXPECTED_SCHEMA:
        raise QueueSchemaMismatch(
            f"procrastinate {version} is installed, with schema {schema}; rebrowse's queue expects procrastinate"
            f" {EXPECTED_VERSION} (schema {EXPECTED_SCHEMA}): pip install 'procrastinate~={EXPECTED_VERSION}.0'"
        )


def check_installed() -> None:
    """check_schema() of the installed procrastinate."""
    check_schema(metadata.version("procrastinate"), installed_schema())


async def install(conn: AsyncConnection[DictRow]) -> bool:
    """Create procrastinate's tables and functions unless they exist; whether it did."""
    row = await (await conn.execute("SELECT to_regclass('procrastinate_jobs') AS t")).fetchone()
    if row is not None and row["t"] is not None:
        return False
    await conn.execute(procrastinate.schema.SchemaManager.get_schema())
    return True
