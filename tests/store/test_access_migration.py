"""Migration 007 on a database that has keys already: roles from is_admin, an owner for every other account."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rebrowse.store.database import Database, migrate
from tests.store.conftest import migrated_before


@pytest.fixture
async def before_access(postgres: str) -> AsyncIterator[Database]:
    """A new database migrated up to (not including) 007."""
    async with migrated_before(postgres, 7) as db:
        yield db


async def add_key(db: Database, account: str, name: str, *, is_admin: bool, revoked: bool, age_days: int) -> None:
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO accounts (id, name, signing_secret) VALUES (%s, %s, 'x') ON CONFLICT DO NOTHING",
            (uuid.uuid5(uuid.NAMESPACE_DNS, account), account),
        )
        await conn.execute(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, is_admin, created_at, revoked_at)"
            " VALUES (%s, %s, %s, 'rb_', %s, %s, now() - make_interval(days => %s),"
            " CASE WHEN %s THEN now() END)",
            (
                uuid.uuid4(),
                uuid.uuid5(uuid.NAMESPACE_DNS, account),
                name,
                uuid.uuid4().bytes,
                is_admin,
                age_days,
                revoked,
            ),
        )


async def test_existing_keys_get_roles(before_access: Database) -> None:
    await add_key(before_access, "admin", "root", is_admin=True, revoked=False, age_days=9)
    await add_key(before_access, "admin", "ci", is_admin=False, revoked=False, age_days=8)
    await add_key(before_access, "acme", "gone", is_admin=False, revoked=True, age_days=7)
    await add_key(before_access, "acme", "first", is_admin=False, revoked=False, age_days=6)
    await add_key(before_access, "acme", "second", is_admin=False, revoked=False, age_days=5)

    assert "007_access.sql" in await migrate(before_access)

    async with before_access.connection() as conn:
        rows = await (await conn.execute("SELECT name, role FROM api_keys ORDER BY created_at")).fetchall()
    assert {row["name"]: row["role"] for row in rows} == {
        "root": "admin",
        "ci": "member",
        "gone": "member",
        "first": "owner",
        "second": "member",
    }
