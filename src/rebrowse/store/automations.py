"""Named automations of an account; every PUT stores a new version, the newest one runs.

The values of an automation's own secure parameters are stored sealed, apart from its definition, where each
string of them reads SEALED: what is stored in clear (and shown) says which parameters are set, never their value.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Json, Jsonb

from rebrowse.automation.sealed import SEALED, redacted, sealed_form, secure_parameters, with_secure
from rebrowse.errors import AutomationInvalid, FieldError
from rebrowse.store import locks
from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer


@dataclass(frozen=True)
class StoredAutomation:
    endpoint_name: str
    version: int
    definition: dict[str, Any]
    description: str | None
    created_at: datetime
    sealed_secrets: bytes | None  # the secure parameters' values (None: none, or stored before they were sealed)
    # The automation's settings on the server, the defaults of its tasks: reuse_session, use_proxy, proxy (a name)
    settings: dict[str, Any] = field(default_factory=dict)


COLUMNS = "endpoint_name, version, definition, description, created_at, secure_parameters AS sealed_secrets, settings"


def stored_secrets(stored: StoredAutomation, sealer: Sealer) -> dict[str, Any]:
    """The secure parameters' real values (SealingError when the server's key is not the one they were sealed
    with). A version stored before they were sealed has them in its definition."""
    if stored.sealed_secrets is None:
        return secure_parameters(stored.definition)
    opened: dict[str, Any] = sealer.open_json(stored.sealed_secrets)
    return opened


def with_secrets(stored: StoredAutomation, sealer: Sealer) -> dict[str, Any]:
    """The definition to run: with its secure parameters' real values."""
    return with_secure(stored.definition, stored_secrets(stored, sealer))


def keep_sealed(definition: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The definition to store, where a secure parameter given in its shown form (as GET returns it) keeps the
    value stored before (`previous`: the newest version's secure parameters). AutomationInvalid when SEALED
    stands for no stored value."""
    resolved: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in secure_parameters(definition).items():
        if name in previous and value == sealed_form(previous[name]):
            resolved[name] = previous[name]
        elif SEALED in strings(value):
            message = f'"{SEALED}" keeps the value stored before, and none of this shape is: give the value'
            errors.append(FieldError(f"parameters.secure_parameters.{name}", message))
        else:
            resolved[name] = value
    if errors:
        raise AutomationInvalid(errors)
    return with_secure(definition, resolved)


def strings(value: Any) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [found for item in items for found in strings(item)]


async def lock_name(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> None:
    """Hold the account's name until the transaction ends: the versions stored under it get distinct numbers, and
    what is read of it after this stays the newest."""
    await locks.hold_name_for_transaction(conn, account_id, endpoint_name)


async def put_automation(
    conn: Connection,
    sealer: Sealer,
    account_id: uuid.UUID,
    endpoint_name: str,
    definition: dict[str, Any],
    description: str | None,
    settings: dict[str, Any] | None = None,
) -> StoredAutomation:
    """Store a new version (1 for a new or deleted name), its secure parameters sealed, with its settings (none:
    the defaults); concurrent PUTs get distinct versions."""
    secure = secure_parameters(definition)
    sealed = sealer.seal_json(secure) if secure else None
    await lock_name(conn, account_id, endpoint_name)
    row = await (
        await conn.execute(
            "INSERT INTO automations"
            " (account_id, endpoint_name, version, definition, description, secure_parameters, settings)"
            " SELECT %(account)s, %(endpoint)s, coalesce(max(version), 0) + 1, %(definition)s, %(description)s,"
            " %(secure)s, %(settings)s FROM automations WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s"
            f" RETURNING {COLUMNS}",
            {
                "account": account_id,
                "endpoint": endpoint_name,
                "definition": Json(redacted(definition)),  # json: keeps the written order
                "description": description,
                "secure": sealed,
                "settings": Jsonb(settings or {}),
            },
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
            f"SELECT {COLUMNS} FROM automations WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s"
            " AND (%(version)s::integer IS NULL AND deleted_at IS NULL OR version = %(version)s)"
            " ORDER BY version DESC LIMIT 1",
            {"account": account_id, "endpoint": endpoint_name, "version": version},
        )
    ).fetchone()
    return StoredAutomation(**row) if row else None


async def get_live_version(
    conn: Connection, account_id: uuid.UUID, endpoint_name: str, version: int
) -> StoredAutomation | None:
    """Exactly `version` of a live automation: None when the automation was deleted or has no such version."""
    row = await (
        await conn.execute(
            f"SELECT {COLUMNS} FROM automations WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s"
            " AND version = %(version)s AND deleted_at IS NULL",
            {"account": account_id, "endpoint": endpoint_name, "version": version},
        )
    ).fetchone()
    return StoredAutomation(**row) if row else None


async def list_automations(conn: Connection, account_id: uuid.UUID) -> list[StoredAutomation]:
    """The newest version of each live automation, by name."""
    rows = await (
        await conn.execute(
            f"SELECT DISTINCT ON (endpoint_name) {COLUMNS} FROM automations"
            " WHERE account_id = %(account)s AND deleted_at IS NULL ORDER BY endpoint_name, version DESC",
            {"account": account_id},
        )
    ).fetchall()
    return [StoredAutomation(**row) for row in rows]


async def delete_automation(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> bool:
    """Delete every version (tasks already submitted keep running); False when there was none."""
    cursor = await conn.execute(
        "UPDATE automations SET deleted_at = now()"
        " WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s AND deleted_at IS NULL",
        {"account": account_id, "endpoint": endpoint_name},
    )
    return cursor.rowcount > 0


async def latest_version(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> int | None:
    """The number of the newest live version, without reading the definition (the hot path of a submission)."""
    row = await (
        await conn.execute(
            "SELECT max(version) AS version FROM automations"
            " WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s AND deleted_at IS NULL",
            {"account": account_id, "endpoint": endpoint_name},
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
            " WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s AND deleted_at IS NULL"
            " ORDER BY version DESC",
            {"account": account_id, "endpoint": endpoint_name},
        )
    ).fetchall()
    return [VersionInfo(**row) for row in rows]
