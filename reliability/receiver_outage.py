"""3. The callback receiver down for a while, the API restarted meanwhile, then the receiver back: every
callback arrives afterwards, each event id once from the receiver's point of view."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from reliability.harness import TERMINAL, Postgres, Row, deployment, wait_until
from reliability.worker_kill import automation, submission

NAME = "3. callback receiver down"
BACKOFF_CAP_S = 5.0  # REBROWSE_CALLBACK_BACKOFF_CAP: delivery resumes at most this long after the receiver is back
RESUME_S = 30.0  # every callback must have arrived this long after the receiver is back


async def run(postgres: Postgres, work_dir: Path, down_s: float, tasks: int = 30) -> Row:
    row = Row(NAME, tasks=tasks)
    env = {"REBROWSE_CALLBACK_BACKOFF_CAP": str(BACKOFF_CAP_S)}
    async with deployment(postgres, work_dir, **env) as deployed:
        api = await deployed.start_api()
        await deployed.put_automation("short", automation(deployed.site.url))
        await deployed.start_worker("callbacks", 2)
        receiver = deployed.receiver
        async with deployed.client() as client:
            task_ids = [await deployed.submit(client, submission(i, receiver.url)) for i in range(tasks)]

        async def some_delivered() -> bool:
            return len(receiver.task_ids) >= 3

        await wait_until("the first callbacks", some_delivered, 120)
        await receiver.stop()
        down_at = time.monotonic()
        await asyncio.sleep(down_s / 2)
        api.stop()  # the sender lives in the API process: its successor must pick up the pending events
        await deployed.start_api()
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - down_at)))
        pending = await deployed.query("SELECT count(*) AS n FROM callback_events WHERE state = 'pending'")
        await receiver.start()
        back_at = time.monotonic()
        statuses = await deployed.wait_terminal(task_ids, deadline_s=120)
        await deployed.wait_callbacks(set(task_ids), deadline_s=RESUME_S)
        resumed_in = time.monotonic() - back_at
        row.terminal = sum(1 for t in task_ids if statuses.get(t) in TERMINAL)
        row.lost = tasks - row.terminal
        row.duplicates = receiver.duplicates
        missing = set(task_ids) - receiver.task_ids
        row.require(int(pending[0]["n"]) > 0, "no callback was pending while the receiver was down")
        row.require(row.lost == 0, f"{row.lost} tasks never ended")
        row.require(not missing, f"{len(missing)} callbacks never arrived")
        row.require(row.duplicates == 0, f"{row.duplicates} event ids delivered more than once")
        row.notes.append(
            f"{pending[0]['n']} callbacks pending when the receiver came back; all {len(receiver.deliveries)} events"
            f" received {resumed_in:.1f} s later"
        )
    return row
