"""2. PostgreSQL stopped for a while under load, then started again: the API answers 503 with Retry-After
(never a 500) while it is down, accepts work again within RECOVERY_S of it coming back, every task accepted
before the outage completes, and the worker and the callback sender carry on (every task's callback arrives)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reliability.harness import TERMINAL, Deployment, Postgres, Row, deployment, wait_until
from reliability.worker_kill import automation, first_error

NAME = "2. PostgreSQL down"
RECOVERY_S = 5.0
CLIENTS = 4
BEFORE = 30  # tasks submitted before the outage
PG_CTL_DEADLINE_S = 90.0


@dataclass
class Load:
    """What the load's requests got: statuses by phase, 503s without Retry-After, tasks accepted."""

    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    no_retry_after: int = 0
    accepted: list[str] = field(default_factory=list)
    phase: str = "before"
    back_at: float | None = None
    first_accepted_after: float | None = None

    def note(self, response: httpx.Response | None) -> None:
        status = 0 if response is None else response.status_code  # 0: no response at all
        by_status = self.statuses.setdefault(self.phase, {})
        by_status[status] = by_status.get(status, 0) + 1
        if response is None:
            return
        if status == 503 and not response.headers.get("retry-after"):
            self.no_retry_after += 1
        if status == 202:
            self.accepted.append(str(response.json()["task_id"]))
            if self.phase == "after" and self.first_accepted_after is None:
                self.first_accepted_after = time.monotonic()

    def count(self, phase: str, *, server_errors: bool) -> int:
        """Responses of the phase that were 5xx other than 503 (server_errors) or anything but 202."""
        found = self.statuses.get(phase, {})
        if server_errors:
            return sum(n for status, n in found.items() if status >= 500 and status != 503)
        return sum(n for status, n in found.items() if status != 202)


async def load(deployed: Deployment, body: dict[str, Any], results: Load, stop: asyncio.Event) -> None:
    """Submissions one after another until `stop`; a 503 is retried after a short pause, like a client would."""
    async with deployed.client() as client:
        while not stop.is_set():
            try:
                response: httpx.Response | None = await client.post("/api/v1/inference", json=body, timeout=15)
            except httpx.HTTPError:
                response = None
            results.note(response)
            if response is None or response.status_code != 202:
                await asyncio.sleep(0.2)


async def run(postgres: Postgres, work_dir: Path, outage_s: float) -> Row:
    row = Row(NAME)
    async with deployment(postgres, work_dir) as deployed:
        api = await deployed.start_api()
        await deployed.put_automation("short", {**automation(deployed.site.url), "max_retries": 2})
        worker = await deployed.start_worker("outage", 2)
        body = {
            "endpoint_name": "short",
            "input_parameters": {"login": ["someone"]},
            "task_callback_url": deployed.receiver.url,  # the API's callback sender must survive the outage too
        }
        results = Load()
        async with deployed.client() as client:
            before = [await deployed.submit(client, body) for _ in range(BEFORE)]
        stop = asyncio.Event()
        clients = [asyncio.create_task(load(deployed, body, results, stop)) for _ in range(CLIENTS)]
        try:
            await asyncio.sleep(1.0)  # load on the API while tasks run
            results.phase = "down"
            await asyncio.wait_for(asyncio.to_thread(postgres.stop), PG_CTL_DEADLINE_S)
            await asyncio.sleep(outage_s)
            await asyncio.wait_for(asyncio.to_thread(postgres.start), PG_CTL_DEADLINE_S)
            results.phase, results.back_at = "after", time.monotonic()

            async def accepted_again() -> bool:
                return results.first_accepted_after is not None

            await wait_until("a submission accepted after the outage", accepted_again, 60)
        finally:
            stop.set()
            await asyncio.gather(*clients)
        for process in (api, worker):
            deployed.check_running(process)
        accepted_before = before + [t for t in results.accepted if t]
        statuses = await deployed.wait_terminal(accepted_before, deadline_s=180)
        await deployed.wait_callbacks(set(accepted_before), deadline_s=60)
        missing = set(accepted_before) - deployed.receiver.task_ids
        row.tasks = len(accepted_before)
        row.terminal = sum(1 for t in accepted_before if statuses.get(t) in TERMINAL)
        row.lost = row.tasks - row.terminal
        row.duplicates = deployed.receiver.duplicates
        row.server_errors = sum(results.count(phase, server_errors=True) for phase in ("before", "down", "after"))
        assert results.back_at is not None and results.first_accepted_after is not None
        recovered_in = results.first_accepted_after - results.back_at
        down = results.statuses.get("down", {})
        failed = [t for t in before if statuses.get(t) != "success"]
        if failed:
            row.notes.append(f"first task that did not succeed: {await first_error(deployed, failed)}")
        row.require(row.server_errors == 0, f"{row.server_errors} responses 5xx other than 503: {results.statuses}")
        row.require(down.get(503, 0) > 0, f"no 503 while the database was down: {down}")
        row.require(results.no_retry_after == 0, f"{results.no_retry_after} 503s without Retry-After")
        row.require(recovered_in <= RECOVERY_S, f"accepted work again only {recovered_in:.1f} s after the restart")
        row.require(row.lost == 0, f"{row.lost} accepted tasks never ended")
        row.require(not failed, f"{len(failed)} tasks accepted before the outage did not succeed")
        row.require(not missing, f"{len(missing)} callbacks never arrived")
        retried = await deployed.query(
            "SELECT count(DISTINCT job_id) AS n FROM procrastinate_events WHERE type = 'deferred_for_retry'"
        )
        row.notes.append(f"{retried[0]['n']} task jobs retried (the outage interrupted them)")
        row.notes.append(
            f"responses by phase: {results.statuses}; accepted again {recovered_in:.1f} s after the restart"
        )
    return row
