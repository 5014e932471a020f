"""docs/examples/orchestration.py runs end to end: API, worker, Chromium, demo portal, signed callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import procrastinate
import pytest

from rebrowse.demo.automation import DEMO_AUTOMATION, DEMO_SITE, RECORDED_ORIGIN, rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.process import run_worker
from tests.callbacks.conftest import running_sender
from tests.client.conftest import Api
from tests.waiting import free_port

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "orchestration.py"


@pytest.fixture
def demo_site() -> Iterator[SiteServer]:
    site = SiteServer(DEMO_SITE)
    site.start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
async def worker(api: Api, db: Database, queue: procrastinate.App, sealer: Sealer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    running = asyncio.create_task(run_worker(api.settings, db=db, queue=queue, stop=stop, sealer=sealer))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)


async def run_example(env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 150)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_orchestration_example_chains_tasks_on_callbacks(
    api: Api, db: Database, sealer: Sealer, demo_site: SiteServer, worker: None
) -> None:
    automation = rebase_urls(json.loads(DEMO_AUTOMATION.read_text()), RECORDED_ORIGIN, demo_site.url)
    async with httpx.AsyncClient(base_url=api.url, headers={"x-api-key": api.key}) as http:
        pushed = await http.put("/api/v1/automations/demo_portal_search", json={"automation": automation})
        assert pushed.status_code == 200, pushed.text
    env = {
        "REBROWSE_URL": api.url,
        "REBROWSE_API_KEY": api.key,
        "RECEIVER_PORT": str(free_port()),
        "ITEMS": "invoice,contract",
        "CALLBACK_TIMEOUT": "120",
    }
    async with running_sender(db, sealer):
        code, out, err = await run_example(env)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["item"], line["status"]) for line in lines] == [("invoice", "success"), ("contract", "success")]
    titles = [
        value for line in lines for output in line["output_data"] for value in (output.get("json_data") or {}).values()
    ]
    assert any("contract" in str(title).lower() for title in titles), lines
