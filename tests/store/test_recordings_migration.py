"""Migration 015 on a database with tasks: every task there is an automation run (not a recording, nothing recorded,
no draft of its own), and a recording's stop request goes only to a running recording of its account."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from psycopg.errors import CheckViolation

from rebrowse.store import tasks
from rebrowse.store.database import Database, migrate
from tests.store.conftest import migrated_before
from tests.store.test_llm_usage_migration import add_task


@pytest.fixture
async def before_recordings(postgres: str) -> AsyncIterator[Database]:
    async with migrated_before(postgres, 15) as db:
        yield db


async def test_existing_tasks_are_automation_runs_and_only_recordings_stop(before_recordings: Database) -> None:
    account_id, other_id = uuid.uuid4(), uuid.uuid4()
    async with before_recordings.connection() as conn:
        for owner in (account_id, other_id):
            await conn.execute(
                "INSERT INTO accounts (id, name, signing_secret) VALUES (%s, %s, 'x')", (owner, owner.hex)
            )
    existing = await add_task(before_recordings, account_id, "running", ended=False)

    assert "015_recordings.sql" in await migrate(before_recordings)

    async with before_recordings.transaction() as conn:
        task = await tasks.get_task(conn, existing)
        assert task is not None
        assert (task.kind, task.start_url, task.recording, task.stop_requested, task.inline_automation) == (
            "automation",
            None,
            None,
            False,
            None,
        )
        assert not await tasks.request_stop(conn, existing, account_id)  # not a recording
        await conn.execute("UPDATE tasks SET kind = 'recording', start_url = 'http://x/' WHERE id = %s", (existing,))
        assert not await tasks.request_stop(conn, existing, other_id)  # another account's
        assert await tasks.request_stop(conn, existing, account_id)
        assert await tasks.stop_requested(conn, existing)
    with pytest.raises(CheckViolation):
        async with before_recordings.connection() as conn:
            await conn.execute("UPDATE tasks SET kind = 'script' WHERE id = %s", (existing,))
