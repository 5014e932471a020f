"""Accounts and their API keys. Keys are shown once; only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer

KEY_PREFIX = "rb_"
PREFIX_SHOWN = 10  # characters of a key kept in clear to tell keys apart in listings
LAST_USED_PRECISION = "1 minute"  # a key's last_used_at is written at most this often (a PostgreSQL interval)


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    prefix: str
    is_admin: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Caller:
    """Who made a request: the account and the key used."""

    account: Account
    key_id: uuid.UUID
    is_admin: bool


def new_key_value() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def create_account(conn: Connection, sealer: Sealer, name: str) -> Account:
    """A new account with its own callback signing secret."""
    account = Account(id=uuid.uuid4(), name=name)
    await conn.execute(
        "INSERT INTO accounts (id, name, signing_secret) VALUES (%s, %s, %s)",
        (account.id, name, sealer.seal(secrets.token_bytes(32))),
    )
    return account


async def signing_secret(conn: Connection, sealer: Sealer, account_id: uuid.UUID) -> bytes:
    """The account's callback signing secret."""
    row = await (await conn.execute("SELECT signing_secret FROM accounts WHERE id = %s", (account_id,))).fetchone()
    if row is None:
        raise LookupError(f"account {account_id} does not exist")
    return sealer.open(row["signing_secret"])


async def create_key(
    conn: Connection, account_id: uuid.UUID, name: str, *, is_admin: bool = False, value: str | None = None
) -> tuple[ApiKey, str]:
    """A new API key for the account; returns the key and its value (shown once, never stored)."""
    value = value or new_key_value()
    row = await (
        await conn.execute(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, is_admin) VALUES (%s, %s, %s, %s, %s, %s)"
            " RETURNING *",
            (uuid.uuid4(), account_id, name, value[:PREFIX_SHOWN], key_hash(value), is_admin),
        )
    ).fetchone()
    assert row is not None
    return api_key_of(row), value


def api_key_of(row: dict[str, object]) -> ApiKey:
    return ApiKey(**{field: row[field] for field in ApiKey.__dataclass_fields__})  # type: ignore[arg-type]


# The caller of a key, as the CTE `found`. Writing last_used_at on every request made each one a write
# transaction queued on the key's row lock; now most requests only read, and a key's row is written at most
# once per LAST_USED_PRECISION.
AUTHENTICATE = (
    "WITH found AS ("
    "  SELECT k.id AS key_id, k.is_admin, a.id AS account_id, a.name AS account_name"
    "  FROM api_keys k JOIN accounts a ON a.id = k.account_id"
    "  WHERE k.key_hash = %s AND k.revoked_at IS NULL"
    "), touched AS ("
    "  UPDATE api_keys k SET last_used_at = now() FROM found"
    "  WHERE k.id = found.key_id"
    f"   AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '{LAST_USED_PRECISION}')"
    ")"
)


def caller_of(row: dict[str, Any]) -> Caller:
    return Caller(Account(row["account_id"], row["account_name"]), row["key_id"], row["is_admin"])


async def authenticate(conn: Connection, value: str) -> Caller | None:
    """The caller a key belongs to, or None for an unknown or revoked key; notes the key's use (to the minute)."""
    return await authenticate_hash(conn, key_hash(value))


async def authenticate_hash(conn: Connection, hashed: bytes) -> Caller | None:
    """authenticate() for a key known by its hash (a dashboard session keeps only that)."""
    row = await (await conn.execute(AUTHENTICATE + " SELECT * FROM found", (hashed,))).fetchone()
    return None if row is None else caller_of(row)


async def authenticate_submission(conn: Connection, value: str, endpoint_name: str) -> tuple[Caller, int | None] | None:
    """authenticate(), and the newest live version of the caller's automation `endpoint_name` (None when it has
    none), in one round trip: a submission's first query."""
    row = await (
        await conn.execute(
            AUTHENTICATE + " SELECT found.*, (SELECT max(version) FROM automations"
            " WHERE account_id = found.account_id AND endpoint_name = %s AND deleted_at IS NULL)"
            " AS version FROM found",
            (key_hash(value), endpoint_name),
        )
    ).fetchone()
    return None if row is None else (caller_of(row), row["version"])


async def list_keys(conn: Connection, account_id: uuid.UUID) -> list[ApiKey]:
    rows = await (
        await conn.execute("SELECT * FROM api_keys WHERE account_id = %s ORDER BY created_at", (account_id,))
    ).fetchall()
    return [api_key_of(row) for row in rows]


async def revoke_key(conn: Connection, account_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    """Revoke one of the account's keys; False when the account has no such key."""
    cursor = await conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s AND account_id = %s",
        (key_id, account_id),
    )
    return cursor.rowcount == 1


async def any_admin_key(conn: Connection) -> bool:
    row = await (await conn.execute("SELECT 1 FROM api_keys WHERE is_admin LIMIT 1")).fetchone()
    return row is not None


async def admin_account_id(conn: Connection) -> uuid.UUID:
    """The account of the first admin key (created on first start)."""
    row = await (
        await conn.execute("SELECT account_id FROM api_keys WHERE is_admin ORDER BY created_at LIMIT 1")
    ).fetchone()
    if row is None:
        raise LookupError("there is no admin key yet")
    return uuid.UUID(str(row["account_id"]))
