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


async def overlapping_runs(deployed: Deployment) -> tuple[int, int]:
    """Runs of a job that began while another run of its lock (serialization key) was going, from
    procrastinate's events; and how many runs were checked.

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
    return sum(overlaps(intervals) for intervals in runs.values()), sum(len(intervals) for intervals in runs.values())


def overlaps(intervals: list[tuple[datetime, datetime | None]]) -> int:
    """How many runs start while an earlier-started one has not ended yet (an end of None: still running)."""
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
        async with deployed.client() as client:
            task_ids = [await deployed.submit(client, submission(i, deployed.receiver.url)) for i in range(tasks)]
        first = await deployed.start_worker("first", SLOTS)
        held = 0

        async def some_ended_others_running() -> bool:
            nonlocal held
            deployed.check_running(first)
            [counts] = await deployed.query(
                "SELECT count(*) FILTER (WHERE completed_at IS NOT NULL) AS ended,"
                " count(*) FILTER (WHERE status IN ('allocated', 'running')) AS held FROM tasks"
            )
            held = int(counts["held"])
            return int(counts["ended"]) >= min(tasks // 10, 10) and held > 0

        await wait_until("the first worker to end some tasks and run others", some_ended_others_running, 300)
        first.kill()
        await deployed.start_worker("second", SLOTS)
        statuses = await deployed.wait_terminal(task_ids, deadline_s=60 + tasks * 3)
        await deployed.wait_callbacks(set(task_ids), deadline_s=60)
        row.terminal = sum(1 for t in task_ids if statuses.get(t) in TERMINAL)
        row.lost = tasks - row.terminal
        overlapping, runs = await overlapping_runs(deployed)
        row.duplicates = overlapping + deployed.receiver.duplicates
        retried = await deployed.query("SELECT count(*) AS n FROM tasks WHERE retry_count > 0")
        failed = [t for t in task_ids if statuses.get(t) != "success"]
        missing = set(task_ids) - deployed.receiver.task_ids
        row.require(runs >= tasks * 3 // 4, f"only {runs} runs of keyed tasks were found to check")
        row.require(row.lost == 0, f"{row.lost} tasks never ended")
        row.require(not failed, f"{len(failed)} tasks did not succeed ({await first_error(deployed, failed)})")
        row.require(row.duplicates == 0, f"{row.duplicates} overlapping runs or duplicate callbacks")
        row.require(not missing, f"{len(missing)} callbacks never arrived")
        row.notes.append(
            f"{held} tasks held by the worker when it was killed, {retried[0]['n']} tasks retried;"
            f" {runs} runs of keyed tasks checked for overlap; {len(deployed.receiver.deliveries)} callbacks received"
        )
    return row


async def first_error(deployed: Deployment, task_ids: list[str]) -> str:
    """The status and error of the first of these tasks, for the report."""
    if not task_ids:
        return ""
    rows = await deployed.query("SELECT status, error FROM tasks WHERE id = %s::uuid", task_ids[0])
    return f"{rows[0]['status']}: {rows[0]['error']}" if rows else "not found"
