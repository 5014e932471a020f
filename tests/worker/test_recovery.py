"""No stuck task: real worker processes killed with SIGKILL, several processes sharing one database, lost jobs."""

from __future__ import annotations

import signal

import pytest

from rebrowse.demo.site import SiteServer
from rebrowse.queue.app import DEFAULT_QUEUE
from rebrowse.store import automations, tasks
from rebrowse.store.database import Database
from rebrowse.store.tasks import NewTask
from tests.waiting import eventually
from tests.worker.conftest import ProcessWorkers, Tenant, Workers, automation_json, callback_events, job_status

HOOK = "http://127.0.0.1:9/hook"


async def test_a_task_of_a_killed_worker_fails_clearly_when_no_attempt_is_left(
    tenant: Tenant, process_workers: ProcessWorkers, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    doomed = process_workers.start("doomed")
    task = await tenant.submit("long", callback_url=HOOK)
    await tenant.wait_for(task.id, lambda t: t.status == "running" and t.worker_name == "doomed", timeout_s=120)

    process_workers.kill(doomed, signal.SIGKILL)
    await workers.start("rescuer")

    failed = await tenant.wait_terminal(task.id, timeout_s=60)
    assert failed.status == "failed"
    assert failed.error == "worker doomed stopped responding"
    assert await callback_events(db, task.id) == 1


async def test_a_task_of_a_killed_worker_is_retried_on_another_when_attempts_are_left(
    tenant: Tenant, process_workers: ProcessWorkers, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=3, max_retries=1))
    doomed = process_workers.start("doomed")
    task = await tenant.submit("slow", {"who": ["ada"]}, unique=["who"], callback_url=HOOK)
    await tenant.wait_for(task.id, lambda t: t.status == "running" and t.worker_name == "doomed", timeout_s=120)

    process_workers.kill(doomed, signal.SIGKILL)
    await workers.start("rescuer")

    done = await tenant.wait_terminal(task.id, timeout_s=60)
    assert done.status == "success", done.error
    assert done.worker_name == "rescuer"
    assert done.retry_count == 1  # the lost attempt counts
    assert await callback_events(db, task.id) == 1
    # The serialization lock of the dead worker's job was released: the next task of the key runs.
    after = await tenant.submit("slow", {"who": ["ada"]}, unique=["who"])
    assert (await tenant.wait_terminal(after.id, timeout_s=60)).status == "success"


async def test_two_worker_processes_on_one_database_both_take_tasks(
    tenant: Tenant, process_workers: ProcessWorkers, site: SiteServer, db: Database
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=2))
    process_workers.start("first")
    process_workers.start("second")

    async def both_ready() -> bool:
        async with db.connection() as conn:
            row = await (await conn.execute("SELECT count(*) AS n FROM procrastinate_workers")).fetchone()
        return row is not None and row["n"] == 2

    await eventually(both_ready, timeout_s=120, what="both workers registering")
    submitted = [await tenant.submit("slow", {"who": [f"user{i}"]}, unique=["who"]) for i in range(4)]

    finished = [await tenant.wait_terminal(task.id, timeout_s=120) for task in submitted]

    assert [task.status for task in finished] == ["success"] * 4
    assert {task.worker_name for task in finished} == {"first", "second"}


async def test_a_task_whose_job_was_never_deferred_is_picked_up(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("quick", automation_json(site))
    # As if the API had stopped between storing the task and deferring its job.
    async with db.connection() as conn:
        stored = await automations.get_automation(conn, tenant.account_id, "quick")
        assert stored is not None
        task = await tasks.create_task(
            conn,
            NewTask(
                account_id=tenant.account_id,
                endpoint_name="quick",
                automation_version=stored.version,
                input_parameters={},
                secure_parameters=None,
                unique_parameter_names=[],
                priority=None,
                max_timeout_in_minutes=1.0,
                callback_url=None,
                callback_api_key=None,
            ),
        )
    await workers.start("w1")

    done = await tenant.wait_terminal(task.id, timeout_s=60)
    assert done.status == "success", done.error
    assert done.job_id is not None


async def test_a_job_that_outlived_its_task_releases_the_serialization_lock(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("quick", automation_json(site))
    await workers.start("w1")
    first = await tenant.submit("quick", {"who": ["ada"]}, unique=["who"])
    assert (await tenant.wait_terminal(first.id)).status == "success"

    async def acknowledged() -> bool:
        return await job_status(db, first.job_id) == "succeeded"

    await eventually(acknowledged, what="the job being acknowledged")
    # Fault injection: the worker's acknowledgement of the job was lost, so the job still holds the lock.
    async with db.connection() as conn:
        await conn.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", (first.job_id,))

    second = await tenant.submit("quick", {"who": ["ada"]}, unique=["who"])

    assert (await tenant.wait_terminal(second.id, timeout_s=60)).status == "success"
    assert await job_status(db, first.job_id) == "failed"


async def hold_without_a_job(db: Database, task_id: object, job_id: int | None, worker: str) -> None:
    """Fault injection: a worker holds the task but its job ended (its runner is gone)."""
    async with db.connection() as conn:
        await conn.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s", (job_id,))
        await conn.execute(
            "UPDATE tasks SET status = 'running', worker_name = %s, allocated_at = now() - interval '1 minute',"
            " started_at = now() - interval '1 minute' WHERE id = %s",
            (worker, task_id),
        )


async def test_a_task_held_without_a_live_job_is_retried_when_attempts_are_left(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("quick", automation_json(site, max_retries=1))
    task = await tenant.submit("quick")
    await hold_without_a_job(db, task.id, task.job_id, "ghost")

    await workers.start("w1")

    done = await tenant.wait_terminal(task.id, timeout_s=60)
    assert done.status == "success", done.error
    assert done.retry_count == 1
    assert done.worker_name == "w1"
    assert done.job_id != task.job_id


async def test_a_task_held_without_a_live_job_fails_clearly_when_no_attempt_is_left(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await tenant.put("quick", automation_json(site))
    task = await tenant.submit("quick", callback_url=HOOK)
    await hold_without_a_job(db, task.id, task.job_id, "ghost")

    await workers.start("w1")

    failed = await tenant.wait_terminal(task.id, timeout_s=60)
    assert failed.status == "failed"
    assert failed.error == "worker ghost lost track of the task"
    assert await callback_events(db, task.id) == 1
    # Recovery's log line names the task in a field of its own, as the worker's lines do.
    lost = [record for record in caplog.records if "lost track" in record.getMessage()]
    assert lost and all(getattr(record, "task_id", None) == str(task.id) for record in lost)


async def test_a_task_pinned_to_a_worker_that_is_gone_fails_with_its_callback(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("quick", automation_json(site))
    task = await tenant.submit("quick", pinned_worker="gone-1", callback_url="https://hooks.example/done")
    await workers.start("w1")
    done = await tenant.wait_terminal(task.id, timeout_s=60)
    assert done.status == "failed"
    assert done.error is not None and "worker gone-1" in done.error and "is gone" in done.error
    assert await callback_events(db, task.id) == 1

    # The job leaves the queue just after the task is failed (the task's end comes first).
    async def cancelled() -> bool:
        return await job_status(db, task.job_id) == "cancelled"

    await eventually(cancelled, timeout_s=10, what="the pinned task's job to be cancelled")


async def test_a_job_its_live_worker_took_but_no_longer_processes_runs_again_without_spending_an_attempt(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("quick", automation_json(site))  # no retries: a spent attempt would fail the task
    async with db.connection() as conn:  # a worker that lives through the test: its tasks are not failed as orphans
        await conn.execute("INSERT INTO worker_heartbeats VALUES ('elsewhere', now() + interval '1 hour')")
    task = await tenant.submit("quick", pinned_worker="elsewhere")  # out of w1's reach until the fault is set
    await workers.start("w1")

    async def w1_id() -> int | None:
        async with db.connection() as conn:
            row = await (await conn.execute("SELECT max(id) AS id FROM procrastinate_workers")).fetchone()
        return row["id"] if row else None

    async def registered() -> bool:
        return await w1_id() is not None

    await eventually(registered, what="w1 registered with procrastinate")
    # Fault injection: w1 took the job and ran the task, but the end of the attempt could not be recorded (the
    # database was away), so the job stays "doing" on a worker that lives on and does not process it.
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s, queue_name = %s WHERE id = %s",
            (await w1_id(), DEFAULT_QUEUE, task.job_id),
        )
        await conn.execute(
            "UPDATE tasks SET status = 'running', worker_name = 'w1', allocated_at = now(), started_at = now()"
            " WHERE id = %s",
            (task.id,),
        )

    done = await tenant.wait_terminal(task.id, timeout_s=60)
    assert done.status == "success", done.error
    assert done.retry_count == 0
    assert done.job_id == task.job_id
