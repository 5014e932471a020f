"""1. A worker SIGKILLed while tasks with mixed serialization keys are queued or running; a second worker
carries on. Every task ends, no two runs of one key overlap, every callback arrives."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from reliability.harness import TERMINAL, Deployment, Postgres, Row, deployment, wait_until

NAME = "1. worker SIGKILLed"
KEYS = 10  # logins shared by the keyed tasks
SLOTS = 2


def automation(site_url: str) -> dict[str, Any]:
    """A short task: load a page, wait a little (so some are mid-run when the worker dies), click."""
    return {
        "url": f"{site_url}/buttons.html",
        "parameters": {"input_parameters": {"login": ["nobody"]}},
        "max_retries": 1,  # an attempt lost with the killed worker is retried
        "nodes": [
            {"type": "action_node", "sleep_action": {"sleep_time": 0.3}},
            {"type": "action_node", "interaction_action": {"click_element": {"command": 'locator("#single")'}}},
        ],
        "take_final_screenshot": False,
    }


def submission(index: int, callback_url: str) -> dict[str, Any]:
    """Three tasks in four share one of KEYS logins (serialized); the fourth has no key."""
    keyed = index % 4 != 3
    body: dict[str, Any] = {
        "endpoint_name": "short",
        "input_parameters": {"login": [f"user{index % KEYS}" if keyed else f"free{index}"]},
        "task_callback_url": callback_url,
    }
    if keyed:
        body["unique_parameter_names"] = ["login"]
    return body


async def overlapping_runs(deployed: Deployment) -> int:
    """Pairs of job runs of one lock (serialization key) that overlap in time, from procrastinate's events.

    A run lasts from a job's `started` event to its next event (ended, retried or given back); a run with no
    later event is still going. The killed worker's runs count until their job was given back, as the lock
    was held until then.
    """
    rows = await deployed.query(
        "SELECT j.lock, e.job_id, e.type::text AS type, e.at FROM procrastinate_events e"
        " JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.lock IS NOT NULL ORDER BY e.job_id, e.at, e.id"
    )
    runs: dict[str, list[tuple[datetime, datetime | None]]] = {}
    open_run: dict[int, tuple[str, datetime]] = {}
    for row in rows:
        started = open_run.pop(row["job_id"], None)
        if started is not None:
            runs.setdefault(started[0], []).append((started[1], row["at"]))
        if row["type"] == "started":
            open_run[row["job_id"]] = (row["lock"], row["at"])
    for lock, at in open_run.values():
        runs.setdefault(lock, []).append((at, None))
    return sum(overlaps(intervals) for intervals in runs.values())


def overlaps(intervals: list[tuple[datetime, datetime | None]]) -> int:
    """How many runs start before every earlier-started run has ended (None: still running)."""
    count = 0
    latest_end: datetime | None = None
    running = False  # an earlier run has no end
    for start, end in sorted(intervals, key=lambda run: run[0]):
        if running or (latest_end is not None and start < latest_end):
            count += 1
        running = running or end is None
        if end is not None and (latest_end is None or end > latest_end):
            latest_end = end
    return count


async def run(postgres: Postgres, work_dir: Path, tasks: int) -> Row:
    row = Row(NAME, tasks=tasks)
    async with deployment(postgres, work_dir) as deployed:
        await deployed.start_api()
        await deployed.put_automation("short", automation(deployed.site.url))
        first = await deployed.start_worker("first", SLOTS)
        async with deployed.client() as client:
            task_ids = [await deployed.submit(client, submission(i, deployed.receiver.url)) for i in range(tasks)]

        async def some_ended() -> bool:
            deployed.check_running(first)
            done = await deployed.query("SELECT count(*) AS n FROM tasks WHERE completed_at IS NOT NULL")
            return int(done[0]["n"]) >= min(tasks // 10, 10)

        await wait_until("the first worker to end some tasks", some_ended, 300)
        running = await deployed.query("SELECT count(*) AS n FROM tasks WHERE status IN ('allocated', 'running')")
        first.kill()
        await deployed.start_worker("second", SLOTS)
        statuses = await deployed.wait_terminal(task_ids, deadline_s=60 + tasks * 3)
        await deployed.wait_callbacks(set(task_ids), deadline_s=60)
        row.terminal = sum(1 for t in task_ids if statuses.get(t) in TERMINAL)
        row.lost = tasks - row.terminal
        row.duplicates = await overlapping_runs(deployed) + deployed.receiver.duplicates
        failed = [t for t in task_ids if statuses.get(t) != "success"]
        missing = set(task_ids) - deployed.receiver.task_ids
        row.require(int(running[0]["n"]) > 0, "no task was running when the worker was killed")
        row.require(row.lost == 0, f"{row.lost} tasks never ended")
        row.require(not failed, f"{len(failed)} tasks did not succeed ({await first_error(deployed, failed)})")
        row.require(row.duplicates == 0, f"{row.duplicates} overlapping runs or duplicate callbacks")
        row.require(not missing, f"{len(missing)} callbacks never arrived")
    return row


async def first_error(deployed: Deployment, task_ids: list[str]) -> str:
    """The status and error of the first of these tasks, for the report."""
    if not task_ids:
        return ""
    rows = await deployed.query("SELECT status, error FROM tasks WHERE id = %s::uuid", task_ids[0])
    return f"{rows[0]['status']}: {rows[0]['error']}" if rows else "not found"
