"""Warm sessions: the browser state of a login's last successful run, sealed, one per account, endpoint and the
values of the task's unique_parameter_names (its login). Only a success writes one, so a failed run never
replaces a good state; a state older than the expiry is never used again and is dropped."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer, SealingError

COLUMNS = "id, endpoint_name, login, task_id, created_at, updated_at"


@dataclass(frozen=True)
class StoredSession:
    """A kept state as shown: which login it belongs to and when a run left it (never the state itself)."""

    id: uuid.UUID
    endpoint_name: str
    login: dict[str, list[Any]]
    task_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


def login_hash(login: dict[str, list[Any]]) -> str:
    """The key of a login's values, the same for the same values in any order of names."""
    return hashlib.sha256(json.dumps(login, sort_keys=True).encode()).hexdigest()


async def drop_expired(conn: Connection, account_id: uuid.UUID, ttl_s: float) -> None:
    """Delete the account's states that were last kept more than `ttl_s` seconds ago."""
    await conn.execute(
        "DELETE FROM browser_sessions"
        " WHERE account_id = %(account)s AND updated_at < now() - make_interval(secs => %(ttl)s)",
        {"account": account_id, "ttl": ttl_s},
    )


async def load_state(
    conn: Connection,
    sealer: Sealer,
    account_id: uuid.UUID,
    endpoint_name: str,
    login: dict[str, list[Any]],
    ttl_s: float,
) -> dict[str, Any] | None:
    """The state kept for this login, opened; None when there is none, it expired, or this server's key cannot
    open it (the run then starts fresh and its success replaces it)."""
    await drop_expired(conn, account_id, ttl_s)
    row = await (
        await conn.execute(
            "SELECT state FROM browser_sessions"
            " WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s AND login_hash = %(login_hash)s",
            {"account": account_id, "endpoint": endpoint_name, "login_hash": login_hash(login)},
        )
    ).fetchone()
    if row is None:
        return None
    try:
        state: dict[str, Any] = sealer.open_json(row["state"])
    except SealingError:
        return None
    return state


async def save_state(
    conn: Connection,
    sealer: Sealer,
    account_id: uuid.UUID,
    endpoint_name: str,
    login: dict[str, list[Any]],
    state: dict[str, Any],
    task_id: uuid.UUID,
) -> None:
    """Keep the state a successful run of this login left, sealed, in place of the one kept before."""
    await conn.execute(
        "INSERT INTO browser_sessions (id, account_id, endpoint_name, login, login_hash, state, task_id)"
        " VALUES (%(id)s, %(account)s, %(endpoint)s, %(login)s, %(login_hash)s, %(state)s, %(task)s)"
        " ON CONFLICT (account_id, endpoint_name, login_hash)"
        " DO UPDATE SET state = excluded.state, task_id = excluded.task_id, updated_at = now()",
        {
            "id": uuid.uuid4(),
            "account": account_id,
            "endpoint": endpoint_name,
            "login": Jsonb(login),
            "login_hash": login_hash(login),
            "state": sealer.seal_json(state),
            "task": task_id,
        },
    )


async def list_sessions(conn: Connection, account_id: uuid.UUID, ttl_s: float) -> list[StoredSession]:
    """The account's live kept states, the most recently kept first."""
    await drop_expired(conn, account_id, ttl_s)
    rows = await (
        await conn.execute(
            f"SELECT {COLUMNS} FROM browser_sessions WHERE account_id = %(account)s ORDER BY updated_at DESC, id",
            {"account": account_id},
        )
    ).fetchall()
    return [StoredSession(**row) for row in rows]


async def delete_session(conn: Connection, account_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Drop one of the account's kept states; False when it has none of that id."""
    cursor = await conn.execute(
        "DELETE FROM browser_sessions WHERE account_id = %(account)s AND id = %(id)s",
        {"account": account_id, "id": session_id},
    )
    return cursor.rowcount > 0


async def delete_endpoint_sessions(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> int:
    """Drop every state kept for the account's endpoint; how many there were."""
    cursor = await conn.execute(
        "DELETE FROM browser_sessions WHERE account_id = %(account)s AND endpoint_name = %(endpoint)s",
        {"account": account_id, "endpoint": endpoint_name},
    )
    return cursor.rowcount
