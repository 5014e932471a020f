"""Every terminal state sends its callback: a SIGKILLed worker's task and a timed-out task, delivered for real."""

from __future__ import annotations

import signal

from rebrowse.demo.site import SiteServer
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import running_sender, serving_receiver
from tests.waiting import eventually
from tests.worker.conftest import ProcessWorkers, Tenant, Workers, automation_json


async def test_a_killed_workers_task_ends_and_its_callback_is_delivered(
    tenant: Tenant, process_workers: ProcessWorkers, workers: Workers, site: SiteServer, db: Database, sealer: Sealer
) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    async with serving_receiver() as receiver, running_sender(db, sealer):
        doomed = process_workers.start("doomed")
        task = await tenant.submit("long", callback_url=receiver.url)
        await tenant.wait_for(task.id, lambda t: t.status == "running" and t.worker_name == "doomed", timeout_s=120)

        process_workers.kill(doomed, signal.SIGKILL)
        await workers.start("rescuer")

        ended = await tenant.wait_terminal(task.id, timeout_s=60)
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")
    assert ended.status == "failed" and ended.error == "worker doomed stopped responding"
    [delivered] = receiver.received
    assert delivered.payload["task_id"] == str(task.id)
    assert delivered.payload["status"] == "failed"
    assert delivered.payload["error"] == "worker doomed stopped responding"
    assert delivered.headers["x-rebrowse-signature"].startswith("v1=")


async def test_a_timed_out_task_is_killed_and_its_callback_is_delivered(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database, sealer: Sealer
) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    async with serving_receiver() as receiver, running_sender(db, sealer):
        await workers.start("w1")
        task = await tenant.submit("long", callback_url=receiver.url, timeout_minutes=0.02)
        ended = await tenant.wait_terminal(task.id, timeout_s=60)
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")
    assert ended.status == "killed"
    assert receiver.received[0].payload["status"] == "killed"
    assert "time limit" in (receiver.received[0].payload["error"] or "")
