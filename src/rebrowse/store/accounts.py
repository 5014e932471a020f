"""Accounts and their API keys. Keys are shown once; only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from rebrowse.store import locks
from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer

KEY_PREFIX = "rb_"
PREFIX_SHOWN = 10  # characters of a key kept in clear to tell keys apart in listings
LAST_USED_PRECISION = "1 minute"  # a key's last_used_at is written at most this often (a PostgreSQL interval)

# What a key may do, least first: a member runs tasks; an owner also manages its account's keys; an admin also
# runs the installation (creates accounts). A key gives at most its own role to keys it creates.
Role = Literal["member", "owner", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


def outranks(role: Role, other: Role) -> bool:
    """Whether `role` is above `other`."""
    return ROLES.index(role) > ROLES.index(other)


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
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Caller:
    """Who made a request: the account and the key used."""

    account: Account
    key_id: uuid.UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def new_key_value() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def create_account(conn: Connection, sealer: Sealer, name: str) -> Account:
    """A new account with its own callback signing secret."""
    account = Account(id=uuid.uuid4(), name=name)
    await conn.execute(
        "INSERT INTO accounts (id, name, signing_secret) VALUES (%(id)s, %(name)s, %(secret)s)",
        {"id": account.id, "name": name, "secret": sealer.seal(secrets.token_bytes(32))},
    )
    return account


async def signing_secret(conn: Connection, sealer: Sealer, account_id: uuid.UUID) -> bytes:
    """The account's callback signing secret."""
    row = await (
        await conn.execute("SELECT signing_secret FROM accounts WHERE id = %(id)s", {"id": account_id})
    ).fetchone()
    if row is None:
        raise LookupError(f"account {account_id} does not exist")
    return sealer.open(row["signing_secret"])


async def create_key(
    conn: Connection, account_id: uuid.UUID, name: str, *, role: Role = "member", value: str | None = None
) -> tuple[ApiKey, str]:
    """A new API key for the account; returns the key and its value (shown once, never stored)."""
    value = value or new_key_value()
    row = await (
        await conn.execute(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, role)"
            " VALUES (%(id)s, %(account)s, %(name)s, %(prefix)s, %(hash)s, %(role)s) RETURNING *",
            {
                "id": uuid.uuid4(),
                "account": account_id,
                "name": name,
                "prefix": value[:PREFIX_SHOWN],
                "hash": key_hash(value),
                "role": role,
            },
        )
    ).fetchone()
    assert row is not None
    return api_key_of(row), value


def api_key_of(row: dict[str, object]) -> ApiKey:
    return ApiKey(**{field: row[field] for field in ApiKey.__dataclass_fields__})  # type: ignore[arg-type]


def authenticating(where: str) -> str:
    """The caller of an active key, as the CTE `found` (`where` finds the key `k`). Writing last_used_at on every
    request made each one a write transaction queued on the key's row lock; now most requests only read, and a
    key's row is written at most once per LAST_USED_PRECISION."""
    return (
        "WITH found AS ("
        "  SELECT k.id AS key_id, k.role, a.id AS account_id, a.name AS account_name"
        f"  FROM api_keys k JOIN accounts a ON a.id = k.account_id {where} AND k.revoked_at IS NULL"
        "), touched AS ("
        "  UPDATE api_keys k SET last_used_at = now() FROM found"
        "  WHERE k.id = found.key_id"
        f"   AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '{LAST_USED_PRECISION}')"
        ")"
    )


AUTHENTICATE = authenticating("WHERE k.key_hash = %(hash)s")
# A dashboard session's caller: while the session is neither signed out nor expired, and its key not revoked.
AUTHENTICATE_SESSION = authenticating(
    "JOIN dashboard_sessions s ON s.key_id = k.id"
    " WHERE s.id = %(session)s AND s.revoked_at IS NULL AND s.expires_at > now()"
)


def caller_of(row: dict[str, Any]) -> Caller:
    return Caller(Account(row["account_id"], row["account_name"]), row["key_id"], row["role"])


async def authenticate(conn: Connection, value: str) -> Caller | None:
    """The caller a key belongs to, or None for an unknown or revoked key; notes the key's use (to the minute)."""
    row = await (await conn.execute(AUTHENTICATE + " SELECT * FROM found", {"hash": key_hash(value)})).fetchone()
    return None if row is None else caller_of(row)


async def key_known(conn: Connection, value: str) -> bool:
    """Whether a key (active or revoked) has this value."""
    row = await (
        await conn.execute("SELECT 1 FROM api_keys WHERE key_hash = %(hash)s", {"hash": key_hash(value)})
    ).fetchone()
    return row is not None


async def key_active(conn: Connection, key_id: uuid.UUID) -> bool:
    """Whether the key exists and is not revoked."""
    row = await (
        await conn.execute("SELECT 1 FROM api_keys WHERE id = %(id)s AND revoked_at IS NULL", {"id": key_id})
    ).fetchone()
    return row is not None


async def open_session(conn: Connection, caller: Caller, ttl_s: float) -> uuid.UUID:
    """A new dashboard session of the caller's key, for ttl_s seconds; sessions long expired are dropped."""
    await conn.execute("DELETE FROM dashboard_sessions WHERE expires_at < now() - interval '1 day'")
    session_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO dashboard_sessions (id, key_id, account_id, expires_at)"
        " VALUES (%(id)s, %(key)s, %(account)s, now() + make_interval(secs => %(ttl)s))",
        {"id": session_id, "key": caller.key_id, "account": caller.account.id, "ttl": ttl_s},
    )
    return session_id


async def session_caller(conn: Connection, session_id: uuid.UUID) -> Caller | None:
    """The caller of a dashboard session; None once it is signed out or expired, or its key is revoked."""
    row = await (await conn.execute(AUTHENTICATE_SESSION + " SELECT * FROM found", {"session": session_id})).fetchone()
    return None if row is None else caller_of(row)


async def close_session(conn: Connection, session_id: uuid.UUID) -> None:
    """Sign a dashboard session out: its cookie no longer authenticates."""
    await conn.execute(
        "UPDATE dashboard_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = %(id)s", {"id": session_id}
    )


async def authenticate_submission(conn: Connection, value: str, endpoint_name: str) -> tuple[Caller, int | None] | None:
    """authenticate(), and the newest live version of the caller's automation `endpoint_name` (None when it has
    none), in one round trip: a submission's first query."""
    row = await (
        await conn.execute(
            AUTHENTICATE + " SELECT found.*, (SELECT max(version) FROM automations"
            " WHERE account_id = found.account_id AND endpoint_name = %(endpoint)s AND deleted_at IS NULL)"
            " AS version FROM found",
            {"hash": key_hash(value), "endpoint": endpoint_name},
        )
    ).fetchone()
    return None if row is None else (caller_of(row), row["version"])


async def list_keys(conn: Connection, account_id: uuid.UUID, only: uuid.UUID | None = None) -> list[ApiKey]:
    """The account's keys (or `only` that one), oldest first."""
    rows = await (
        await conn.execute(
            "SELECT * FROM api_keys WHERE account_id = %(account)s AND (%(only)s::uuid IS NULL OR id = %(only)s)"
            " ORDER BY created_at",
            {"account": account_id, "only": only},
        )
    ).fetchall()
    return [api_key_of(row) for row in rows]


async def get_key(conn: Connection, account_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    row = await (
        await conn.execute(
            "SELECT * FROM api_keys WHERE id = %(id)s AND account_id = %(account)s",
            {"id": key_id, "account": account_id},
        )
    ).fetchone()
    return None if row is None else api_key_of(row)


async def revoke_key(conn: Connection, account_id: uuid.UUID, key_id: uuid.UUID) -> bool:
    """Revoke one of the account's keys; False when the account has no such key."""
    cursor = await conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %(id)s AND account_id = %(account)s",
        {"id": key_id, "account": account_id},
    )
    return cursor.rowcount == 1


async def revoke_keys_named(conn: Connection, name: str) -> None:
    """Revoke every active key called `name`, in any account."""
    await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE name = %(name)s AND revoked_at IS NULL", {"name": name}
    )


async def lock_admin_keys(conn: Connection) -> None:
    """Hold (until the transaction ends) the right to count active admin keys and act on the count."""
    await locks.hold_for_transaction(conn, locks.ADMIN_KEYS)


async def active_admin_keys(conn: Connection) -> int:
    """How many admin keys are not revoked."""
    row = await (
        await conn.execute("SELECT count(*) AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL")
    ).fetchone()
    return int(row["n"]) if row else 0


async def find_admin_account(conn: Connection) -> uuid.UUID | None:
    """The account of the first admin key (created on first start), revoked or not; None before there is one."""
    row = await (
        await conn.execute("SELECT account_id FROM api_keys WHERE role = 'admin' ORDER BY created_at LIMIT 1")
    ).fetchone()
    return None if row is None else uuid.UUID(str(row["account_id"]))


async def admin_account_id(conn: Connection) -> uuid.UUID:
    """find_admin_account(), which must exist."""
    found = await find_admin_account(conn)
    if found is None:
        raise LookupError("there is no admin key yet")
    return found
