"""A schedule fired by procrastinate's periodic job in real `rebrowse api` processes, run by a real worker."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rebrowse.demo.site import SiteServer
from rebrowse.store.database import Database
from tests.serving import ADMIN_KEY, stop_group, wait_until_healthy
from tests.waiting import eventually, free_port
from tests.worker.conftest import FIXTURE_HOST, REPO, ProcessWorkers, automation_json

# The next minute's tick, then the run: a schedule of "* * * * *" has run by then.
FIRED_DEADLINE_S = 80.0


@contextlib.contextmanager
def api_process(database_url: str, secret_key: bytes, data_dir: Path) -> Iterator[str]:
    """`rebrowse api` on a free port of 127.0.0.1 against the test's database; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REBROWSE_SECRET_KEY": secret_key.decode(),
        "REBROWSE_API_KEY": ADMIN_KEY,
        "REBROWSE_BROWSER_ALLOW_HOSTS": FIXTURE_HOST,
    }
    data_dir.mkdir()
    args = [sys.executable, "-m", "rebrowse.cli", "api", "--port", str(port), "--data-dir", str(data_dir)]
    log = (data_dir / "api.log").open("wb")
    process = subprocess.Popen(
        args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    log.close()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        yield url
    finally:
        stop_group(process)


@pytest.fixture
def two_apis(database_url: str, sealer_key: bytes, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with (
        api_process(database_url, sealer_key, tmp_path / "api-1") as first,
        api_process(database_url, sealer_key, tmp_path / "api-2") as second,
    ):
        yield first, second


async def test_an_every_minute_schedule_fires_once_per_tick_across_two_api_processes_and_its_task_runs(
    site: SiteServer, process_workers: ProcessWorkers, two_apis: tuple[str, str], db: Database
) -> None:
    process_workers.start("scheduled-runner")
    first, second = two_apis
    headers = {"x-api-key": ADMIN_KEY}
    async with (
        httpx.AsyncClient(base_url=first, headers=headers) as one,
        httpx.AsyncClient(base_url=second, headers=headers) as other,
    ):
        saved = await one.put("/api/v1/automations/greet", json={"automation": automation_json(site)})
        assert saved.status_code == 200, saved.text
        body = {"cron": "* * * * *", "endpoint_name": "greet", "input_parameters": {"who": ["scheduled"]}}
        put = await other.put("/api/v1/schedules/every-minute", json=body)
        assert put.status_code == 200, put.text

        async def ran() -> bool:
            shown = (await one.get("/api/v1/schedules/every-minute")).json()
            assert shown["last_error"] is None, shown
            return bool(shown["last_task_status"] == "success")

        await eventually(ran, timeout_s=FIRED_DEADLINE_S, what="the schedule's first task to succeed")
        # No new tick after this: the processes stop firing it.
        assert (await other.post("/api/v1/schedules/every-minute/pause")).status_code == 200
        shown = (await one.get("/api/v1/schedules/every-minute")).json()
        task = (await other.get(f"/api/v1/tasks/{shown['last_task_id']}")).json()
        assert task["schedule_name"] == "every-minute" and task["status"] == "success"
        assert {"greeting": "hello scheduled"} in [o["json_data"] for o in task["output_data"]]

    async with db.connection() as conn:
        ticks = await (await conn.execute("SELECT tick, task_id FROM schedule_ticks")).fetchall()
        tasks = await (
            await conn.execute("SELECT id FROM tasks WHERE schedule_name = 'every-minute' ORDER BY created_at")
        ).fetchall()
    # Every tick that fired created exactly one task, though both API processes ran the periodic job's loop.
    assert ticks and len(tasks) == len(ticks)
    assert sorted(str(t["task_id"]) for t in ticks) == sorted(str(t["id"]) for t in tasks)
