"""The whole task path with artifacts in S3 (moto's server on 127.0.0.1): submitted through the API, run by a real
worker on Chromium, its screenshots, downloads and steps uploaded, then served by an API that shares no directory
with the worker (streamed, or redirected to a presigned URL), and deleted by the garbage collector."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest

from rebrowse.api.app import create_app
from rebrowse.demo.site import SiteServer, download_bytes
from rebrowse.queue.app import make_queue
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.process import WorkerOptions, run_worker
from rebrowse.worker.recovery import Recovery
from rebrowse.worker.state import WorkerState
from tests.artifacts.conftest import S3Server
from tests.serving import serve_app
from tests.waiting import eventually
from tests.worker.conftest import FAST_RECOVERY, worker_settings

PREFIX = "rebrowse-tests"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def automation(site: SiteServer) -> dict[str, Any]:
    """Open the table, download row 2's invoice; a final screenshot and one after each step."""
    return {
        "url": f"{site.url}/table.html",
        "parameters": {"input_parameters": {}},
        "nodes": [
            {
                "type": "action_node",
                "interaction_action": {
                    "click_element": {
                        "command": 'locator("#row-2").get_by_role("link", name="Download")',
                        "expect_download": True,
                    }
                },
            }
        ],
        "take_final_screenshot": True,
    }


def in_s3(settings: ServerSettings, endpoint: str, bucket: str, **changes: Any) -> ServerSettings:
    engine = settings.engine.model_copy(update={"screenshots": "every_step", "aws_endpoint_url": endpoint})
    return settings.model_copy(
        update={"artifacts_bucket": bucket, "artifacts_prefix": PREFIX, "engine": engine, **changes}
    )


@contextlib.asynccontextmanager
async def running_worker(settings: ServerSettings, db: Database, sealer: Sealer) -> AsyncIterator[None]:
    queue = make_queue(settings.database_url or "")
    await queue.open_async()
    stop = asyncio.Event()
    state = WorkerState(settings.worker_name or "w1")
    done = asyncio.create_task(
        run_worker(
            settings,
            db=db,
            queue=queue,
            stop=stop,
            sealer=sealer,
            state=state,
            options=WorkerOptions(recovery=FAST_RECOVERY),
        )
    )
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(done, 60)
        await queue.close_async()


@dataclasses.dataclass
class Deployment:
    api: httpx.AsyncClient
    other: httpx.AsyncClient
    worker: ServerSettings
    api_settings: ServerSettings


@pytest.fixture(params=[False, True], ids=["streamed", "presigned"])
async def deployment(
    request: pytest.FixtureRequest,
    database_url: str,
    db: Database,
    sealer: Sealer,
    tmp_path: Path,
    s3_server: S3Server,
    bucket: str,
) -> AsyncIterator[Deployment]:
    """A worker and an API on separate data directories (no shared filesystem), both storing in the bucket."""
    worker = in_s3(worker_settings(database_url, tmp_path / "worker", name="w1"), s3_server.endpoint, bucket)
    api_settings = in_s3(
        ServerSettings(database_url=database_url, data_dir=tmp_path / "api"),
        s3_server.endpoint,
        bucket,
        artifacts_presigned=request.param,
    )
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, "acme")
        _, key = await accounts.create_key(conn, account.id, "e2e", role="member")
        stranger = await accounts.create_account(conn, sealer, "other")
        _, other_key = await accounts.create_key(conn, stranger.id, "e2e", role="member")
    queue: procrastinate.App = make_queue(database_url, max_connections=2)
    async with queue.open_async():
        app = create_app(api_settings, db, queue, sealer)
        async with serve_app(app) as ws_base, running_worker(worker, db, sealer):
            base = ws_base.replace("ws://", "http://")
            async with (
                httpx.AsyncClient(base_url=base, headers={"x-api-key": key}) as api,
                httpx.AsyncClient(base_url=base, headers={"x-api-key": other_key}) as other,
            ):
                yield Deployment(api, other, worker, api_settings)


async def finished(api: httpx.AsyncClient, task_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = (await api.get("/api/v1/task_status", params={"task_id": task_id})).json()
        if status["status"] in ("success", "failed", "killed", "cancelled"):
            return status
        assert time.monotonic() < deadline, f"task {task_id} still {status['status']}"
        await asyncio.sleep(0.1)  # between polls of the task's status, with a deadline


async def fetched(client: httpx.AsyncClient, path: str, *, presigned: bool) -> httpx.Response:
    """GET the file; when the API presigns, it answers 307 to the store, and the redirect is followed by hand (the
    store's URL carries its own signature, not the API key)."""
    response = await client.get(path)
    if not presigned:
        return response
    assert response.status_code == 307, response.text
    location = response.headers["location"]
    assert not location.startswith(str(client.base_url)) and "X-Amz-Signature" in location
    async with httpx.AsyncClient() as anyone:
        return await anyone.get(location)


async def test_a_task_s_files_go_through_object_storage(
    deployment: Deployment, site: SiteServer, s3_server: S3Server, bucket: str, db: Database, sealer: Sealer
) -> None:
    api, presigned = deployment.api, deployment.api_settings.artifacts_presigned
    name = f"invoices-{uuid.uuid4().hex[:8]}"
    put = await api.put(f"/api/v1/automations/{name}", json={"automation": automation(site)})
    assert put.status_code == 200, put.text
    submitted = await api.post("/api/v1/inference", json={"endpoint_name": name})
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    status = await finished(api, task_id)
    assert status["status"] == "success", status

    # Uploaded by the worker, its working copy gone; the API's own data directory holds no artifacts.
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/{task_id}/")
    keys = {item["Key"].removeprefix(f"{PREFIX}/{task_id}/") for item in listed.get("Contents", [])}
    assert {"steps.jsonl", "result.json", "final_screenshot.png", "downloads/invoice_2.txt"} <= keys
    assert not (deployment.worker.data_dir / "work" / task_id).exists()
    assert not (deployment.api_settings.data_dir / "artifacts").exists()

    download = await fetched(api, f"/api/v1/tasks/{task_id}/downloads/invoice_2.txt", presigned=presigned)
    assert download.status_code == 200 and download.content == download_bytes("invoice_2.txt")
    screenshot = await fetched(api, f"/api/v1/tasks/{task_id}/screenshot", presigned=presigned)
    assert screenshot.status_code == 200 and screenshot.content.startswith(PNG_SIGNATURE)
    encoded = (await api.get("/api/v1/final_screenshot", params={"task_id": task_id})).json()["final_screenshot"]
    assert base64.b64decode(encoded) == screenshot.content

    # The steps, and the screenshots the dashboard shows as thumbnails.
    steps = (await api.get(f"/api/v1/tasks/{task_id}/steps")).json()["steps"]
    assert [step["outcome"] for step in steps] == ["success"]
    thumbnail = await fetched(api, httpx.URL(steps[0]["screenshot"]).path, presigned=presigned)
    assert thumbnail.status_code == 200 and thumbnail.content.startswith(PNG_SIGNATURE)

    # Names outside the task's records, and other accounts, find nothing.
    for path in ("downloads/result.json", "downloads/..%2Fresult.json", "steps/screenshots/final_screenshot.png"):
        assert (await api.get(f"/api/v1/tasks/{task_id}/{path}")).status_code == 404, path
    assert (await deployment.other.get(f"/api/v1/tasks/{task_id}/screenshot")).status_code == 404
    assert (await deployment.other.get(f"/api/v1/tasks/{task_id}/downloads/invoice_2.txt")).status_code == 404

    # The garbage collector (a recovery pass of a worker with a retention) deletes the task's objects.
    collecting = deployment.worker.model_copy(update={"artifacts_retention_s": 0.001})
    queue = make_queue(deployment.worker.database_url or "", max_connections=2)
    async with queue.open_async():
        recovery = Recovery(db=db, sealer=sealer, queue=queue, settings=collecting, state=WorkerState("collector"))
        assert await recovery.run_pass(FAST_RECOVERY, full=True)
    assert s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/{task_id}/").get("KeyCount") == 0
    assert (await api.get(f"/api/v1/tasks/{task_id}/screenshot")).status_code == 404


@pytest.mark.parametrize("deployment", [False], indirect=True, ids=["streamed"])
async def test_a_running_task_s_steps_are_in_the_store_before_it_ends(deployment: Deployment, site: SiteServer) -> None:
    api = deployment.api
    name = f"slow-{uuid.uuid4().hex[:8]}"
    definition = automation(site)
    definition["nodes"].append({"type": "action_node", "sleep_action": {"sleep_time": 60}})
    assert (await api.put(f"/api/v1/automations/{name}", json={"automation": definition})).status_code == 200
    submitted = await api.post("/api/v1/inference", json={"endpoint_name": name})
    task_id = submitted.json()["task_id"]

    async def first_step_listed() -> bool:
        body = (await api.get(f"/api/v1/tasks/{task_id}/steps")).json()
        return bool(body["steps"]) and body["status"] == "running"

    await eventually(first_step_listed, timeout_s=60, what="the first step, listed while the task runs")
    steps = (await api.get(f"/api/v1/tasks/{task_id}/steps")).json()["steps"]
    thumbnail = await api.get(httpx.URL(steps[0]["screenshot"]).path)
    assert thumbnail.status_code == 200 and thumbnail.content.startswith(PNG_SIGNATURE)
    assert (await api.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 200
    assert (await finished(api, task_id))["status"] == "cancelled"


@pytest.mark.parametrize("deployment", [False], indirect=True, ids=["streamed"])
async def test_a_failed_task_keeps_its_trace_on_a_server_and_a_successful_one_does_not(
    deployment: Deployment, site: SiteServer
) -> None:
    api = deployment.api
    assert deployment.worker.engine.trace == "on_failure"  # the servers' default
    name = f"traced-{uuid.uuid4().hex[:8]}"
    failing = automation(site)
    failing["nodes"].append(
        {
            "type": "action_node",
            "interaction_action": {"click_element": {"command": 'locator("#never-there")'}, "max_tries": 1},
        }
    )
    for endpoint, definition in ((name, automation(site)), (f"{name}-failing", failing)):
        assert (await api.put(f"/api/v1/automations/{endpoint}", json={"automation": definition})).status_code == 200
    passed = (await api.post("/api/v1/inference", json={"endpoint_name": name})).json()["task_id"]
    failed = (await api.post("/api/v1/inference", json={"endpoint_name": f"{name}-failing"})).json()["task_id"]
    assert (await finished(api, passed))["status"] == "success"
    assert (await finished(api, failed))["status"] == "failed"

    assert (await api.get(f"/api/v1/tasks/{passed}/steps")).json()["trace"] is None
    assert (await api.get(f"/api/v1/tasks/{passed}/trace")).status_code == 404
    steps = (await api.get(f"/api/v1/tasks/{failed}/steps")).json()
    assert httpx.URL(steps["trace"]).path == f"/api/v1/tasks/{failed}/trace"
    trace = await api.get(f"/api/v1/tasks/{failed}/trace")
    assert trace.status_code == 200 and trace.content.startswith(b"PK")  # a zip, from the object store
    assert (await deployment.other.get(f"/api/v1/tasks/{failed}/trace")).status_code == 404
