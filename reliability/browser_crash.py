"""4. The slot's Chromium killed in the middle of a task: the task ends with a clear error (or retries), and the
slot launches a new browser and runs the next task."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from reliability.harness import TERMINAL, Postgres, Row, ScenarioFailed, deployment, wait_until
from reliability.worker_kill import automation

NAME = "4. Chromium killed mid-task"
BROWSER_NAMES = ("chromium", "chrome", "headless_shell", "chrome-headless-shell")


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces: the parent id is the second field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def browser_processes(root: int) -> list[int]:
    """Chromium main processes (not its renderers and helpers) below the process `root`."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        for child in children(pid):
            pending.append(child)
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            name = Path(argv[0].decode(errors="replace")).name
            if name in BROWSER_NAMES and not any(arg.startswith(b"--type=") for arg in argv):
                found.append(child)
    return found


async def run(postgres: Postgres, work_dir: Path) -> Row:
    row = Row(NAME, tasks=2)
    async with deployment(postgres, work_dir) as deployed:
        await deployed.start_api()
        site = deployed.site.url
        slow = automation(site)
        slow["nodes"] = [{"type": "action_node", "sleep_action": {"sleep_time": 5}}, *slow["nodes"]]  # killed in it
        await deployed.put_automation("slow", slow)
        await deployed.put_automation("short", automation(site))
        worker = await deployed.start_worker("crash", 1)
        async with deployed.client() as client:
            victim = await deployed.submit(client, {"endpoint_name": "slow"})

            async def running() -> bool:
                return (await deployed.statuses([victim])).get(victim) == "running"

            await wait_until("the task to run", running, 60)
            await asyncio.sleep(1.0)  # into its sleep step
            browsers = browser_processes(worker.popen.pid)
            if len(browsers) != 1:
                raise ScenarioFailed(f"expected the slot's one Chromium below the worker, found {browsers}")
            os.kill(browsers[0], signal.SIGKILL)
            ended = await deployed.wait_terminal([victim], deadline_s=120)
            after = await deployed.submit(client, {"endpoint_name": "short", "input_parameters": {"login": ["x"]}})
            next_status = (await deployed.wait_terminal([after], deadline_s=120)).get(after)
        [victim_row] = await deployed.query("SELECT status, error FROM tasks WHERE id = %s::uuid", victim)
        relaunched = browser_processes(worker.popen.pid)
        row.terminal = sum(1 for status in (ended.get(victim), next_status) if status in TERMINAL)
        row.lost = row.tasks - row.terminal
        error = victim_row["error"] or ""
        row.require(victim_row["status"] == "failed", f"the interrupted task ended {victim_row['status']}")
        row.require("Chromium" in error, f"the interrupted task's error does not say the browser stopped: {error!r}")
        row.require(next_status == "success", f"the next task ended {next_status}")
        row.require(worker.running, "the worker stopped")
        row.require(len(relaunched) == 1 and relaunched != browsers, "the slot did not launch a new Chromium")
        row.notes.append(f"the interrupted task's error: {error}")
    return row
