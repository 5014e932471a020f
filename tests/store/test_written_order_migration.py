"""Migration 017 on a database with automations: the ones stored before read back the same, and the ones stored
after keep the order their keys were written in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from psycopg.types.json import Jsonb

from rebrowse.store import automations
from rebrowse.store.database import Database, migrate
from rebrowse.store.sealing import Sealer
from tests.store.conftest import migrated_before

WRITTEN = {"url": "http://127.0.0.1:1/", "parameters": {"zeta": 1, "alpha": 2}, "nodes": []}


@pytest.fixture
async def before_written_order(postgres: str) -> AsyncIterator[Database]:
    async with migrated_before(postgres, 17) as db:
        yield db


async def test_existing_automations_read_the_same_and_new_ones_keep_their_order(
    before_written_order: Database, sealer: Sealer
) -> None:
    account_id = uuid.uuid4()
    async with before_written_order.connection() as conn:
        await conn.execute("INSERT INTO accounts (id, name, signing_secret) VALUES (%s, 'a', 'x')", (account_id,))
        await conn.execute(
            "INSERT INTO automations (account_id, endpoint_name, version, definition) VALUES (%s, 'old', 1, %s)",
            (account_id, Jsonb(WRITTEN)),
        )

    assert "017_written_order.sql" in await migrate(before_written_order)

    async with before_written_order.transaction() as conn:
        old = await automations.get_automation(conn, account_id, "old")
        assert old is not None and old.definition == WRITTEN
        assert list(old.definition) == ["url", "nodes", "parameters"]  # jsonb's order, the only one it kept
        await automations.put_automation(conn, sealer, account_id, "new", WRITTEN, None)
        new = await automations.get_automation(conn, account_id, "new")
    assert new is not None and list(new.definition) == ["url", "parameters", "nodes"]
    assert list(new.definition["parameters"]) == ["zeta", "alpha"]
