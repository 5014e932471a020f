"""Named automations of an account; every PUT stores a new version, the newest one runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from rebrowse.store.database import Connection


@dataclass(frozen=True)
class StoredAutomation:
    endpoint_name: str
    version: int
    definition: dict[str, Any]
    description: str | None
    created_at: datetime


COLUMNS = "endpoint_name, version, definition, description, created_at"


async def put_automation(
    conn: Connection, account_id: uuid.UUID, endpoint_name: str, definition: dict[str, Any], description: str | None
) -> StoredAutomation:
    """Store a new version (1 for a new or deleted name); concurrent PUTs get distinct versions."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{account_id}/{endpoint_name}",))
    row = await (
        await conn.execute(
            "INSERT INTO automations (account_id, endpoint_name, version, definition, description)"
            " SELECT %s, %s, coalesce(max(version), 0) + 1, %s, %s FROM automations"
            " WHERE account_id = %s AND endpoint_name = %s"
            f" RETURNING {COLUMNS}",
            (account_id, endpoint_name, Jsonb(definition), description, account_id, endpoint_name),
        )
    ).fetchone()
    assert row is not None
    return StoredAutomation(**row)


async def get_automation(
    conn: Connection, account_id: uuid.UUID, endpoint_name: str, version: int | None = None
) -> StoredAutomation | None:
    """The newest live version of a named automation, or exactly `version` (deleted or not: tasks pin one)."""
    row = await (
        await conn.execute(
            f"SELECT {COLUMNS} FROM automations WHERE account_id = %s AND endpoint_name = %s"
            " AND (%s::integer IS NULL AND deleted_at IS NULL OR version = %s) ORDER BY version DESC LIMIT 1",
            (account_id, endpoint_name, version, version),
        )
    ).fetchone()
    return StoredAutomation(**row) if row else None


async def list_automations(conn: Connection, account_id: uuid.UUID) -> list[StoredAutomation]:
    """The newest version of each live automation, by name."""
    rows = await (
        await conn.execute(
            f"SELECT DISTINCT ON (endpoint_name) {COLUMNS} FROM automations"
            " WHERE account_id = %s AND deleted_at IS NULL ORDER BY endpoint_name, version DESC",
            (account_id,),
        )
    ).fetchall()
    return [StoredAutomation(**row) for row in rows]


async def delete_automation(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> bool:
    """Delete every version (tasks already submitted keep running); False when there was none."""
    cursor = await conn.execute(
        "UPDATE automations SET deleted_at = now() WHERE account_id = %s AND endpoint_name = %s AND deleted_at IS NULL",
        (account_id, endpoint_name),
    )
    return cursor.rowcount > 0


async def latest_version(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> int | None:
    """The number of the newest live version, without reading the definition (the hot path of a submission)."""
    row = await (
        await conn.execute(
            "SELECT max(version) AS version FROM automations"
            " WHERE account_id = %s AND endpoint_name = %s AND deleted_at IS NULL",
            (account_id, endpoint_name),
        )
    ).fetchone()
    return row["version"] if row else None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    description: str | None
    created_at: datetime


async def list_versions(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> list[VersionInfo]:
    """Every live version of a named automation, newest first."""
    rows = await (
        await conn.execute(
            "SELECT version, description, created_at FROM automations"
            " WHERE account_id = %s AND endpoint_name = %s AND deleted_at IS NULL ORDER BY version DESC",
            (account_id, endpoint_name),
        )
    ).fetchall()
    return [VersionInfo(**row) for row in rows]
