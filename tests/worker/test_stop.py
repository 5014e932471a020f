"""Stopping a worker (what SIGTERM does): running tasks finish within the grace period, or go back to the queue."""

from __future__ import annotations

from rebrowse.demo.site import SiteServer
from rebrowse.store.database import Database
from tests.worker.conftest import Tenant, Workers, automation_json, job_status


async def test_a_stopping_worker_lets_a_running_task_finish_within_the_grace_period(
    tenant: Tenant, workers: Workers, site: SiteServer
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=1.5))
    worker = await workers.start("w1", grace_period_s=60)
    task = await tenant.submit("slow")
    await tenant.wait_for(task.id, lambda t: t.status == "running")

    await workers.stop(worker)

    finished = await tenant.get(task.id)
    assert finished.status == "success"


async def test_a_stopping_worker_gives_back_a_task_that_outlives_the_grace_period(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    first = await workers.start("w1", grace_period_s=0.5)
    task = await tenant.submit("long")
    await tenant.wait_for(task.id, lambda t: t.status == "running")

    await workers.stop(first)

    requeued = await tenant.get(task.id)
    assert requeued.status == "queued"
    assert requeued.error == "worker w1 stopped"
    assert requeued.retry_count == 0  # an operator's stop does not spend the task's attempts
    assert requeued.worker_name is None
    assert await job_status(db, requeued.job_id) == "todo"

    await workers.start("w2", grace_period_s=0.5)
    resumed = await tenant.wait_for(task.id, lambda t: t.status == "running")
    assert resumed.worker_name == "w2"
    assert resumed.job_id == task.job_id
