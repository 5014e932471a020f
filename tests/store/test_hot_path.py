"""The submission and dispatch hot path on a real PostgreSQL: authentication without a write per request,
tasks stored with their jobs in one statement, the callback sender's idle wait, and the job fetch that
replaces procrastinate's (same choice, found through indexes)."""

from __future__ import annotations

import random
import uuid
from importlib import resources
from typing import Any

from rebrowse.queue.app import create_queued_tasks, job_priority, worker_queue
from rebrowse.store import accounts, automations, callbacks
from rebrowse.store.database import Connection, Database
from rebrowse.store.sealing import Sealer
from tests.store.test_store import new_task


async def one(conn: Connection, query: str, *params: Any) -> dict[str, Any]:
    row = await (await conn.execute(query, params)).fetchone()
    assert row is not None
    return row


async def last_used(conn: Connection, key_id: uuid.UUID) -> Any:
    row = await (await conn.execute("SELECT last_used_at FROM api_keys WHERE id = %s", (key_id,))).fetchone()
    assert row is not None
    return row["last_used_at"]


async def test_a_key_is_marked_used_at_most_once_a_minute(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        key, value = await accounts.create_key(conn, account.id, "ci")
        assert await accounts.authenticate(conn, value) is not None
        first = await last_used(conn, key.id)
        assert first is not None
        assert await accounts.authenticate(conn, value) is not None
        assert await last_used(conn, key.id) == first  # within the minute: not written again
        await conn.execute("UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = %s", (key.id,))
        assert await accounts.authenticate(conn, value) is not None
        assert await last_used(conn, key.id) > first


async def test_a_submission_authenticates_and_finds_the_newest_version_at_once(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        other = await accounts.create_account(conn, sealer, "other")
        _, value = await accounts.create_key(conn, account.id, "ci")
        for version in (1, 2):
            await automations.put_automation(conn, sealer, account.id, "login", {"v": version}, None)
        await automations.put_automation(conn, sealer, other.id, "elsewhere", {"v": 1}, None)

        found = await accounts.authenticate_submission(conn, value, "login")
        assert found is not None and found[0].account == account and found[1] == 2
        assert await accounts.authenticate_submission(conn, value, "elsewhere") == (found[0], None)
        assert await accounts.authenticate_submission(conn, value + "x", "login") is None


async def test_tasks_are_stored_with_their_jobs_in_the_order_given(db: Database, sealer: Sealer) -> None:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        news = [
            new_task(account.id, priority=3),
            new_task(account.id, unique_parameter_names=[], pinned_worker="w1", secure_parameters=b"sealed"),
            new_task(account.id, input_parameters={"user": ["bob"]}, callback_url="http://127.0.0.1:1/cb"),
        ]
        created = await create_queued_tasks(conn, news)
        assert [t.input_parameters for t in created] == [n.input_parameters for n in news]
        assert [t.pinned_worker for t in created] == [None, "w1", None]
        for task, new in zip(created, news, strict=True):
            job = await one(conn, "SELECT * FROM procrastinate_jobs WHERE id = %s", task.job_id)
            assert job["args"] == {"task_id": str(task.id)} and job["status"] == "todo"
            assert job["lock"] == task.serialization_key and job["priority"] == job_priority(new.priority)
            assert job["queue_name"] == (worker_queue("w1") if new.pinned_worker else "default")
        assert created[1].serialization_key is None
        assert None is not created[0].serialization_key != created[2].serialization_key is not None
        sealed = await (
            await conn.execute("SELECT secure_parameters FROM tasks WHERE id = %s", (created[1].id,))
        ).fetchone()
        assert sealed is not None and bytes(sealed["secure_parameters"]) == b"sealed"


async def test_the_sender_waits_when_no_callback_is_pending(db: Database) -> None:
    async with db.connection() as conn:
        assert await callbacks.seconds_until_due(conn) is None


# procrastinate's own choice of the next job (its procrastinate_fetch_job_v2, without taking the job).
PROCRASTINATE_CHOICE = """
SELECT jobs.id FROM procrastinate_jobs AS jobs
WHERE NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs AS other_jobs
        WHERE jobs.lock IS NOT NULL AND other_jobs.lock = jobs.lock
            AND (other_jobs.status = 'doing' OR (other_jobs.status = 'todo'
                AND (other_jobs.priority > jobs.priority
                    OR (other_jobs.priority = jobs.priority AND other_jobs.id < jobs.id)))))
    AND jobs.status = 'todo' AND jobs.queue_name = ANY(%(queues)s::varchar[])
    AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
ORDER BY jobs.priority DESC, jobs.id ASC LIMIT 1
"""
QUEUES = ["default", "worker.a", "worker.b"]


async def random_jobs(conn: Connection, rnd: random.Random, worker_id: int) -> None:
    """A random mix of queues, keys (some held by a running job), priorities, schedules and ended jobs."""
    await conn.execute("DELETE FROM procrastinate_jobs")
    keys = [f"key{n}" for n in range(rnd.choice([1, 3, 20]))]
    running: set[str] = set()
    for _ in range(rnd.choice([0, 5, 40, 130])):
        key = rnd.choice([None, None, *keys])
        status = "todo"
        if key is not None and key not in running and rnd.random() < 0.15:
            status = "doing"
            running.add(key)
        elif rnd.random() < 0.1:
            status = "succeeded"
        later = rnd.choice([None, None, None, "1 hour", "-1 hour"])
        await conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, args, status, scheduled_at,"
            " worker_id) VALUES (%s, 'rebrowse.run_task', %s, %s, '{}', %s, now() + %s::interval, %s)",
            (
                rnd.choice(QUEUES),
                rnd.choice([0, 1, 5, -(2**31)]),
                key,
                status,
                later,
                worker_id if status == "doing" else None,
            ),
        )


async def test_the_fetch_chooses_the_job_procrastinate_would(db: Database) -> None:
    rnd = random.Random(20261123)
    async with db.connection() as conn:
        # Few first rows per queue, so that the exhaustive search (each key once) is exercised as well.
        body = resources.files("rebrowse.queue").joinpath("sql/005_fetch_job.sql").read_text()
        start = body.index("CREATE FUNCTION rebrowse_queue_next_job")
        end = body.index("$$;", start) + 3
        await conn.execute(
            body[start:end]
            .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
            .replace("first_rows CONSTANT integer := 50", "first_rows CONSTANT integer := 2")
        )
        worker = await (await conn.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")).fetchone()
        assert worker is not None
        compared = 0
        for _ in range(120):
            await random_jobs(conn, rnd, worker["id"])
            for queues in (QUEUES[:1], QUEUES[:2], QUEUES[::-1]):
                expected = await (await conn.execute(PROCRASTINATE_CHOICE, {"queues": queues})).fetchone()
                chosen = await (
                    await conn.execute("SELECT (rebrowse_next_job(%s::varchar[], '{}')).id AS id", (queues,))
                ).fetchone()
                assert chosen is not None
                assert chosen["id"] == (expected["id"] if expected else None), queues
                compared += expected is not None
        assert compared > 100  # most cases had a job to choose


async def test_the_fetch_takes_the_job_and_skips_one_another_worker_holds(db: Database) -> None:
    async with db.connection() as conn, db.connection() as other:
        worker = await (await conn.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")).fetchone()
        assert worker is not None
        for priority in (5, 1):
            await conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)"
                " VALUES ('default', 't', %s, '{}')",
                (priority,),
            )
        async with other.transaction():
            await other.execute("SELECT 1 FROM procrastinate_jobs WHERE priority = 5 FOR UPDATE")
            fetched = await (
                await conn.execute("SELECT * FROM procrastinate_fetch_job_v2(ARRAY['default'], %s)", (worker["id"],))
            ).fetchone()
        assert fetched is not None and fetched["priority"] == 1 and fetched["status"] == "doing"
        assert fetched["worker_id"] == worker["id"]
        fetched = await (
            await conn.execute("SELECT * FROM procrastinate_fetch_job_v2(ARRAY['default'], %s)", (worker["id"],))
        ).fetchone()
        assert fetched is not None and fetched["priority"] == 5
        empty = await (
            await conn.execute("SELECT * FROM procrastinate_fetch_job_v2(ARRAY['default'], %s)", (worker["id"],))
        ).fetchone()
        assert empty is not None and empty["id"] is None
