"""Migration 009 on a database with tasks: those already ended asked no model (zeros), the others do not know yet."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rebrowse.store import tasks
from rebrowse.store.database import Database, migrate
from tests.store.conftest import migrated_before


@pytest.fixture
async def before_usage(postgres: str) -> AsyncIterator[Database]:
    async with migrated_before(postgres, 9) as db:
        yield db


async def add_task(db: Database, account_id: uuid.UUID, status: str, *, ended: bool) -> uuid.UUID:
    """A task row as the schema before 009 holds it (the store's queries already expect the new column)."""
    task_id = uuid.uuid4()
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO tasks (id, account_id, endpoint_name, automation_version, input_parameters,"
            " max_timeout_in_minutes, status, completed_at)"
            " VALUES (%s, %s, 'login', 1, '{}', 5, %s, CASE WHEN %s THEN now() END)",
            (task_id, account_id, status, ended),
        )
    return task_id


async def test_ended_tasks_get_zeros_and_the_others_none(before_usage: Database) -> None:
    account_id = uuid.uuid4()
    async with before_usage.connection() as conn:
        await conn.execute("INSERT INTO accounts (id, name, signing_secret) VALUES (%s, 'acme', 'x')", (account_id,))
    ended = [await add_task(before_usage, account_id, status, ended=True) for status in ("success", "cancelled")]
    waiting = [await add_task(before_usage, account_id, status, ended=False) for status in ("queued", "running")]

    assert "009_llm_usage.sql" in await migrate(before_usage)

    async with before_usage.connection() as conn:
        found = {task_id: await tasks.get_task(conn, task_id) for task_id in ended + waiting}
    zeros = tasks.Outcome("success").llm_usage
    assert zeros == {"calls": 0, "failed_calls": 0, "input_tokens": 0, "output_tokens": 0, "requests": 0}
    assert {task_id: task.llm_usage if task else "missing" for task_id, task in found.items()} == {
        **dict.fromkeys(ended, zeros),
        **dict.fromkeys(waiting, None),
    }
