"""Every PostgreSQL advisory lock rebrowse takes, with its key, in one list (two locks must never share a key).

The fixed keys share the 72_271_xxx range and PostgreSQL's one-key form; a lock per name (an account's automation)
uses the two-key form, (its space, hashtext of the name), which PostgreSQL keeps apart from every one-key lock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg.rows import DictRow

MIGRATION = 72_271_001  # transaction lock: one process applies migrations at a time
ADMIN_KEYS = 72_271_002  # transaction lock: counting the active admin keys, then acting on the count
RECOVERY = 72_271_003  # session lock, tried: one recovery pass at a time across all workers
# Transaction lock per (AUTOMATION_NAMES, hashtext("account/name")): the versions stored under one automation name
# get distinct numbers, and what is read of it after the lock stays the newest.
AUTOMATION_NAMES = 72_271_100


async def hold_for_transaction(conn: AsyncConnection[DictRow], key: int) -> None:
    """Hold the lock `key` until the transaction ends, waiting for it."""
    await conn.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": key})


async def hold_name_for_transaction(conn: AsyncConnection[DictRow], account_id: uuid.UUID, endpoint_name: str) -> None:
    """Hold the lock of an account's automation name until the transaction ends, waiting for it."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%(space)s, hashtext(%(name)s))",
        {"space": AUTOMATION_NAMES, "name": f"{account_id}/{endpoint_name}"},
    )


@asynccontextmanager
async def try_holding(conn: AsyncConnection[DictRow], key: int) -> AsyncIterator[bool]:
    """Hold the session lock `key` for the block when no one else holds it; yields whether it is held."""
    row = await (await conn.execute("SELECT pg_try_advisory_lock(%(key)s) AS got", {"key": key})).fetchone()
    got = bool(row and row["got"])
    try:
        yield got
    finally:
        if got:
            await conn.execute("SELECT pg_advisory_unlock(%(key)s)", {"key": key})
