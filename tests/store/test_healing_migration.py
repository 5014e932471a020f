"""Migration 010 on a database with tasks: those already ended healed nothing (an empty list), the others do not
know yet, and none asked for a healing setting of its own (the server's applies)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rebrowse.store import tasks
from rebrowse.store.database import Database, migrate
from tests.store.conftest import migrated_before
from tests.store.test_llm_usage_migration import add_task


@pytest.fixture
async def before_healing(postgres: str) -> AsyncIterator[Database]:
    async with migrated_before(postgres, 10) as db:
        yield db


async def test_ended_tasks_healed_nothing_and_the_others_do_not_know_yet(before_healing: Database) -> None:
    account_id = uuid.uuid4()
    async with before_healing.connection() as conn:
        await conn.execute("INSERT INTO accounts (id, name, signing_secret) VALUES (%s, 'acme', 'x')", (account_id,))
    ended = [await add_task(before_healing, account_id, status, ended=True) for status in ("success", "failed")]
    waiting = [await add_task(before_healing, account_id, status, ended=False) for status in ("queued", "running")]

    assert "010_healing.sql" in await migrate(before_healing)

    async with before_healing.connection() as conn:
        found = [await tasks.get_task(conn, task_id) for task_id in ended + waiting]
    assert [(task.healed, task.healing) if task else "missing" for task in found] == [
        ([], None),
        ([], None),
        (None, None),
        (None, None),
    ]
