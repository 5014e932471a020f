"""Worker fixtures: the fixture site, an account, an open queue, and real workers (in this loop or as processes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import procrastinate
import pytest
from playwright.async_api import Playwright, async_playwright

from rebrowse.demo.site import SiteServer
from rebrowse.llm.config import LlmConfig
from rebrowse.queue.app import enqueue, make_queue
from rebrowse.settings import EngineSettings, ServerSettings
from rebrowse.store import accounts, automations, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from rebrowse.store.tasks import NewTask, Task
from rebrowse.worker.process import WorkerOptions, run_worker
from rebrowse.worker.recovery import RecoveryOptions
from rebrowse.worker.slots import SlotPool, launch_slot_browser
from rebrowse.worker.state import WorkerState
from tests.serving import stop_group

REPO = Path(__file__).parent.parent.parent
# Short enough for tests to see a dead worker quickly, long enough for a busy 2-core machine to keep beating.
FAST_HEARTBEAT_S = 0.5
FAST_STALLED_S = 3.0
# The fixture sites listen on 127.0.0.1, which the egress policy denies unless allowed.
FIXTURE_HOST = "127.0.0.1"
FAST_RECOVERY = RecoveryOptions(interval_s=0.3, settle_s=2.0, full_sweep_interval_s=1.0)


def automation_json(site: SiteServer, *, sleep_s: float = 0.0, **fields: Any) -> dict[str, Any]:
    """A small automation: an optional explicit pause, a read from the page, an output built from an input."""
    nodes: list[dict[str, Any]] = []
    if sleep_s:
        nodes.append({"type": "action_node", "sleep_action": {"sleep_time": sleep_s}})
    nodes += [
        {
            "type": "action_node",
            "before_sleep_time": 0,
            "extraction_action": {
                "locator": {
                    "command": 'locator("#detail-name")',
                    "extraction_format": {"name": "str"},
                    "output_variable_name": "name",
                }
            },
        },
        {
            "type": "action_node",
            "misc_action": {
                "set_variable": {"name": "greeting", "value": "hello {who[0]}", "output_variable_name": "greeting"}
            },
        },
    ]
    return {
        "url": f"{site.url}/detail.html?id=7",
        "parameters": {"input_parameters": {"who": ["nobody"]}},
        "nodes": nodes,
        "take_final_screenshot": False,
        **fields,
    }


@dataclass
class Tenant:
    """An account with automations, submitting tasks the way the API does (create_task, then enqueue)."""

    db: Database
    queue: procrastinate.App
    account_id: uuid.UUID
    sealer: Sealer

    async def put(self, name: str, definition: dict[str, Any]) -> int:
        async with self.db.connection() as conn:
            stored = await automations.put_automation(conn, self.sealer, self.account_id, name, definition, None)
        return stored.version

    async def submit(
        self,
        name: str,
        inputs: dict[str, list[Any]] | None = None,
        *,
        unique: list[str] | None = None,
        priority: int | None = None,
        timeout_minutes: float = 1.0,
        callback_url: str | None = None,
        pinned_worker: str | None = None,
        sealed_secure: bytes | None = None,
        healing: bool | None = None,
    ) -> Task:
        async with self.db.connection() as conn:
            stored = await automations.get_automation(conn, self.account_id, name)
            assert stored is not None
            task = await tasks.create_task(
                conn,
                NewTask(
                    account_id=self.account_id,
                    endpoint_name=name,
                    automation_version=stored.version,
                    input_parameters=inputs or {},
                    secure_parameters=sealed_secure,
                    unique_parameter_names=unique or [],
                    priority=priority,
                    max_timeout_in_minutes=timeout_minutes,
                    callback_url=callback_url,
                    callback_api_key=None,
                    pinned_worker=pinned_worker,
                    healing=healing,
                ),
            )
        await enqueue(self.queue, task)
        return await self.get(task.id)

    async def get(self, task_id: uuid.UUID) -> Task:
        async with self.db.connection() as conn:
            task = await tasks.get_task(conn, task_id)
        assert task is not None
        return task

    async def wait_for(self, task_id: uuid.UUID, condition: Callable[[Task], bool], *, timeout_s: float = 60.0) -> Task:
        """Poll the task until `condition` holds; fail the test with the last state when the deadline passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            task = await self.get(task_id)
            if condition(task):
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} did not reach the expected state in {timeout_s} s: {task}")
            await asyncio.sleep(0.05)

    async def wait_terminal(self, task_id: uuid.UUID, *, timeout_s: float = 60.0) -> Task:
        return await self.wait_for(task_id, lambda t: t.is_terminal, timeout_s=timeout_s)


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture
async def pool(playwright: Playwright) -> AsyncIterator[SlotPool]:
    """One headless slot, its browser launched."""
    slots = SlotPool(partial(launch_slot_browser, playwright, None), 1, max_memory_mb=4096)
    try:
        await slots.start()
        yield slots
    finally:
        await slots.close()


@pytest.fixture
async def queue(database_url: str) -> AsyncIterator[procrastinate.App]:
    app = make_queue(database_url)
    async with app.open_async():
        yield app


@pytest.fixture
async def tenant(db: Database, queue: procrastinate.App, sealer: Sealer) -> Tenant:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "tests")
    return Tenant(db, queue, account.id, sealer)


def worker_settings(
    database_url: str, data_dir: Path, *, name: str, slots: int = 1, llm: LlmConfig | None = None
) -> ServerSettings:
    return ServerSettings(
        database_url=database_url,
        data_dir=data_dir,
        slots=slots,
        worker_name=name,
        heartbeat_interval_s=FAST_HEARTBEAT_S,
        stalled_after_s=FAST_STALLED_S,
        engine=EngineSettings(screenshots="never", llm=llm or LlmConfig()),
        browser_allow_hosts=(FIXTURE_HOST,),
    )


@dataclass
class RunningWorker:
    name: str
    state: WorkerState
    stop: asyncio.Event
    done: asyncio.Task[None]
    settings: ServerSettings


@dataclass
class Workers:
    """Starts workers in the test's event loop; each has its own queue app, as separate processes would."""

    database_url: str
    db: Database
    sealer: Sealer
    data_dir: Path
    started: list[tuple[RunningWorker, procrastinate.App]] = field(default_factory=list)

    async def start(
        self,
        name: str,
        *,
        slots: int = 1,
        grace_period_s: float = 10.0,
        max_browser_memory_mb: float = 2048.0,
        llm: LlmConfig | None = None,
    ) -> RunningWorker:
        settings = worker_settings(self.database_url, self.data_dir, name=name, slots=slots, llm=llm)
        app = make_queue(self.database_url)
        await app.open_async()
        stop = asyncio.Event()
        state = WorkerState(name)
        options = WorkerOptions(
            grace_period_s=grace_period_s, max_browser_memory_mb=max_browser_memory_mb, recovery=FAST_RECOVERY
        )
        done = asyncio.create_task(
            run_worker(settings, db=self.db, queue=app, stop=stop, sealer=self.sealer, state=state, options=options)
        )
        worker = RunningWorker(name, state, stop, done, settings)
        self.started.append((worker, app))
        return worker

    async def stop(self, worker: RunningWorker) -> None:
        worker.stop.set()
        await asyncio.wait_for(asyncio.shield(worker.done), 60)

    async def close(self) -> None:
        for worker, app in self.started:
            worker.stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.done, 60)
            await app.close_async()


@pytest.fixture
async def workers(database_url: str, db: Database, sealer: Sealer, tmp_path: Path) -> AsyncIterator[Workers]:
    pool = Workers(database_url, db, sealer, tmp_path)
    try:
        yield pool
    finally:
        await pool.close()


@dataclass
class ProcessWorkers:
    """Workers as real `rebrowse worker` processes, each in its own process group."""

    database_url: str
    secret_key: bytes
    data_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, *, slots: int = 1) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REBROWSE_SECRET_KEY": self.secret_key.decode(),
            "REBROWSE_DATA_DIR": str(self.data_dir),
            "REBROWSE_WORKER_NAME": name,
            "REBROWSE_SCREENSHOTS": "never",
            "REBROWSE_HEARTBEAT_INTERVAL": str(FAST_HEARTBEAT_S),
            "REBROWSE_STALLED_AFTER": str(FAST_STALLED_S),
            "REBROWSE_BROWSER_ALLOW_HOSTS": FIXTURE_HOST,
        }
        args = [sys.executable, "-m", "rebrowse.cli", "worker", f"--slots={slots}"]
        log = (self.data_dir / f"{name}.log").open("wb")
        # Its own session: killing the group by the worker's pid also ends its Playwright driver and Chromium.
        process = subprocess.Popen(
            args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the worker: SIGKILL kills it alone, as a crash would (what it started follows it by itself);
        other signals go to its whole process group (its pid is the group id), as an operator's would."""
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGKILL:
                process.kill()
            else:
                os.killpg(process.pid, sig)
        if sig == signal.SIGKILL:
            process.wait(timeout=30)

    def close(self) -> None:
        for process in self.processes:
            stop_group(process)


@pytest.fixture
def process_workers(database_url: str, sealer_key: bytes, tmp_path: Path) -> Iterator[ProcessWorkers]:
    pool = ProcessWorkers(database_url, sealer_key, tmp_path)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def sealer_key() -> bytes:
    return generate_key()


@pytest.fixture
def sealer(sealer_key: bytes) -> Sealer:
    """The sealer of the tests and of every worker they start, in this process or another."""
    return Sealer(sealer_key)


async def callback_events(db: Database, task_id: uuid.UUID) -> int:
    async with db.connection() as conn:
        row = await (
            await conn.execute("SELECT count(*) AS n FROM callback_events WHERE task_id = %s", (task_id,))
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def job_status(db: Database, job_id: int | None) -> str:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,))).fetchone()
    assert row is not None
    return str(row["status"])
