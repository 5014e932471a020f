"""Submissions written in batches: each gets its own task, and a bad one fails alone."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from rebrowse.api.batching import TaskWriter
from rebrowse.store import accounts, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.store.test_store import new_task


async def test_concurrent_submissions_each_get_their_own_task_and_job(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
    writer = TaskWriter(db, max_batch=8)
    users = [f"user{n}" for n in range(30)]
    submissions = [new_task(account.id, input_parameters={"user": [user]}) for user in users]
    created = await asyncio.gather(*(writer.create(new) for new in submissions))
    assert [task.input_parameters["user"] for task in created] == [[u] for u in users]
    assert len({task.id for task in created}) == len({task.job_id for task in created}) == len(users)
    async with db.connection() as conn:
        for task in created:
            stored = await tasks.get_task(conn, task.id, account.id)
            assert stored is not None and stored.job_id == task.job_id and stored.status == "queued"


async def test_a_submission_that_cannot_be_stored_fails_alone(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
    writer = TaskWriter(db)
    good = [new_task(account.id, input_parameters={"user": [f"user{n}"]}) for n in range(5)]
    bad = new_task(uuid.uuid4())  # no such account
    submissions = [*good[:2], bad, *good[2:]]
    outcomes = await asyncio.gather(*(writer.create(new) for new in submissions), return_exceptions=True)
    assert isinstance(outcomes[2], psycopg.errors.ForeignKeyViolation)
    stored = [outcome for outcome in outcomes if isinstance(outcome, tasks.Task)]
    assert [task.input_parameters for task in stored] == [new.input_parameters for new in good]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        await writer.create(bad)
