"""Density benchmark: how many tasks one machine runs at once, and what each extra one costs in memory.

On 127.0.0.1 in a temporary data directory (removed at the end): an embedded PostgreSQL, `rebrowse api`, the
fixture site (tests/site), and for each level N of --levels (1, 4, 8) a `rebrowse worker --slots N` as deployed
(live view on where Xvfb is installed). N tasks are submitted at once; each opens the fixture site's table page
and holds it for --hold seconds. While they run, the worker's whole process tree (the worker, its Chromium,
its renderers, Xvfb and the x11vnc servers) is sampled for its proportional memory (PSS); the highest sample counts.
Measured: the most tasks seen running at once at the top level (target: 8 on 2 cores), and the memory per extra
concurrent task, (memory at the top level − memory at one task) / (top − 1), against the one-task worker's
memory as baseline (target ≤ 150 MB).

Usage: python -m bench.density [--levels 1 4 8] [--hold S]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.api import BenchFailed, Connection, Deployment, connections, deployment, scratch_dir, wait_healthy
from bench.report import Measure, run_alone
from rebrowse.store import tasks
from rebrowse.worker.slots import process_memory

TARGET_CONCURRENT = 8
TARGET_MB_PER_TASK = 150.0
SAMPLE_INTERVAL_S = 0.25
START_DEADLINE_S = 120.0


@dataclass(frozen=True)
class Level:
    """What a worker with `slots` slots showed while `slots` tasks ran."""

    slots: int
    most_running: int
    memory_bytes: int


def hold_automation(site_url: str, hold_s: float) -> dict[str, object]:
    """A realistic page kept open: the fixture site's table, then a pause."""
    return {
        "url": f"{site_url}/table.html",
        "parameters": {"input_parameters": {}},
        "nodes": [{"type": "action_node", "sleep_action": {"sleep_time": hold_s}}],
        "take_final_screenshot": False,
    }


def process_tree(root: int) -> list[int]:
    """The process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree


def tree_memory(root: int) -> int:
    return sum(process_memory(pid) for pid in process_tree(root))


async def running_count(bench: Deployment, task_ids: list[uuid.UUID]) -> int:
    return int(await bench.db_value("SELECT count(*) FROM tasks WHERE id = ANY(%s) AND status = 'running'", task_ids))


async def run_level(bench: Deployment, conn: Connection, slots: int) -> Level:
    """Start a worker with `slots` slots, run as many tasks at once, and sample the worker's memory meanwhile."""
    name = f"density-{slots}"
    before = await registered_workers(bench)
    worker = bench.start(name, "worker", "--slots", str(slots), "--name", name)
    try:

        async def started() -> bool:
            return await registered_workers(bench) > before

        await bench.wait_for("the worker to start", started, START_DEADLINE_S)
        task_ids = []
        for _ in range(slots):
            response = await bench.call(conn, "POST", "/api/v1/inference", {"endpoint_name": "hold"})
            if response.status != 202:
                raise BenchFailed(f"POST /api/v1/inference: {response.status} {response.body[:300]!r}")
            task_ids.append(uuid.UUID(response.json()["task_id"]))
        most_running, memory = 0, 0
        deadline = time.monotonic() + START_DEADLINE_S
        while not await all_ended(bench, task_ids):
            worker.check_running()
            if time.monotonic() > deadline:
                raise BenchFailed(f"the {slots} tasks of level {slots} did not end in time")
            running = await running_count(bench, task_ids)
            most_running = max(most_running, running)
            if running == slots:
                memory = max(memory, tree_memory(worker.process.pid))
            await asyncio.sleep(SAMPLE_INTERVAL_S)
        statuses = await bench.db_value("SELECT array_agg(DISTINCT status) FROM tasks WHERE id = ANY(%s)", task_ids)
        if statuses != ["success"]:
            raise BenchFailed(f"level {slots}: tasks ended {statuses}")
        return Level(slots, most_running, memory)
    finally:
        worker.stop()
        bench.services.remove(worker)


async def registered_workers(bench: Deployment) -> int:
    """procrastinate registers a worker once its slots' browsers are launched, and forgets it when it stops."""
    return int(await bench.db_value("SELECT count(*) FROM procrastinate_workers"))


async def all_ended(bench: Deployment, task_ids: list[uuid.UUID]) -> bool:
    ended = await bench.db_value(
        "SELECT count(*) FROM tasks WHERE id = ANY(%s) AND status = ANY(%s)", task_ids, list(tasks.TERMINAL)
    )
    return int(ended) == len(task_ids)


async def run(args: argparse.Namespace, data_dir: Path, console: Console) -> list[Level]:
    levels = []
    async with deployment(data_dir) as bench:
        api = bench.start("api", "api", "--port", str(bench.port))
        await wait_healthy(bench, api)
        async with connections(bench.port, 1) as (conn,):
            body = {"automation": hold_automation(bench.site.url, args.hold)}
            response = await bench.call(conn, "PUT", "/api/v1/automations/hold", body)
            if response.status != 200:
                raise BenchFailed(f"PUT automation hold: {response.status} {response.body[:300]!r}")
            for slots in args.levels:
                console.print(f"measuring {slots} task(s) at once…", style="dim")
                levels.append(await run_level(bench, conn, slots))
    return levels


def measures(levels: list[Level]) -> list[Measure]:
    """The top level's concurrency, each level's memory, and the memory per extra task."""
    first, top = levels[0], levels[-1]
    rows = [
        Measure(
            f"concurrent tasks, worker with {top.slots} slots ({top.slots} submitted at once)",
            f"≥ {TARGET_CONCURRENT}",
            str(top.most_running),
            f"{top.slots} submitted",
            top.most_running / top.slots,
            top.most_running >= TARGET_CONCURRENT,
        )
    ]
    rows += [
        Measure(f"worker memory (PSS), {level.slots} task(s) running", "—", mb(level.memory_bytes)) for level in levels
    ]
    if top.slots > first.slots:
        extra = (top.memory_bytes - first.memory_bytes) / (top.slots - first.slots)
        rows.append(
            Measure(
                f"memory per extra concurrent task ({first.slots} → {top.slots})",
                f"≤ {TARGET_MB_PER_TASK:.0f} MB",
                mb(extra),
                f"one task's worker: {mb(first.memory_bytes)}",
                extra / first.memory_bytes,
                extra <= TARGET_MB_PER_TASK * 2**20,
            )
        )
    return rows


def mb(value: float) -> str:
    return f"{value / 2**20:.0f} MB"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8], help="tasks at once (1 4 8)")
    parser.add_argument("--hold", type=float, default=8.0, help="seconds each task keeps its page open (8)")
    args = parser.parse_args(argv)
    args.levels = sorted(set(args.levels))
    return args


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark and return its measures; BenchFailed when something failed."""
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    with scratch_dir("rebrowse-bench-density-") as data_dir:
        return measures(asyncio.run(run(args, data_dir, console)))


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; 1 when something failed (a missed target is reported, not an error)."""
    return run_alone("Density: concurrent tasks and memory per task", collect, argv, (BenchFailed,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
