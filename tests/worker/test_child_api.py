"""The child-process API of a real worker, talking to the real control-plane API, both on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
import uvicorn

from rebrowse.api.app import create_app
from rebrowse.demo.site import SiteServer
from rebrowse.hosting import CallerSignals
from rebrowse.queue.app import make_queue
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.child_api import (
    ChildSettings,
    inference_request_of,
    listening_socket,
    run_child_process,
)
from rebrowse.worker.process import WorkerOptions
from rebrowse.worker.state import WorkerState
from tests.waiting import eventually, free_port
from tests.worker.conftest import FAST_RECOVERY, Tenant, automation_json, worker_settings

CHILD_NAME = "child0"
KEYED: list[tuple[str, str, Any]] = [
    ("GET", "/is_task_running", None),
    ("POST", "/inference", {"endpoint_name": "quick"}),
    ("POST", "/allocate_task", []),
    ("POST", "/kill_task", []),
    ("POST", "/set_child_process_id", {"new_child_process_id": "1", "new_unique_child_arn": "arn"}),
    ("POST", "/human_in_loop_completed", {"task_id": "t"}),
    ("GET", "/hitl_status?task_id=t", None),
    ("GET", "/openapi.json", None),
]


@pytest.fixture
async def control_plane(
    database_url: str, db: Database, queue: procrastinate.App, sealer: Sealer, tmp_path: Path
) -> AsyncIterator[str]:
    """The real API app served by uvicorn on 127.0.0.1; yields its URL."""
    port = free_port()
    settings = ServerSettings(database_url=database_url, data_dir=tmp_path, port=port)
    server = CallerSignals(uvicorn.Config(create_app(settings, db, queue, sealer), log_level="warning"))
    with listening_socket("127.0.0.1", port) as sock:
        serving = asyncio.create_task(server.serve(sockets=[sock]))

        async def started() -> bool:
            return server.started

        try:
            await eventually(started, what="the API starting")
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await serving


@dataclass
class Child:
    key: str
    state: WorkerState
    client: httpx.AsyncClient

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers={"x-api-key": self.key})


@pytest.fixture
async def child(
    control_plane: str, tenant: Tenant, database_url: str, db: Database, sealer: Sealer, tmp_path: Path
) -> AsyncIterator[Child]:
    """A worker started as `rebrowse inference --child_process_id 0` starts one, with a real API key."""
    async with db.connection() as conn:
        _, key = await accounts.create_key(conn, tenant.account_id, "worker")
    port = free_port()
    settings = worker_settings(database_url, tmp_path, name=CHILD_NAME)
    child_settings = ChildSettings(api_key=key, server_url=control_plane, child_port_offset=port)
    state = WorkerState(CHILD_NAME, "0")
    stop = asyncio.Event()
    app = make_queue(database_url)
    async with app.open_async(), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        running = asyncio.create_task(
            run_child_process(
                settings,
                child_settings,
                db=db,
                queue=app,
                sealer=sealer,
                child_process_id=0,
                stop=stop,
                options=WorkerOptions(grace_period_s=0.5, recovery=FAST_RECOVERY),
                state=state,
            )
        )

        async def answers() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return (await client.get("/health")).status_code == 200
            return False

        try:
            await eventually(answers, timeout_s=60, what="the child API answering")
            yield Child(key, state, client)
        finally:
            stop.set()
            await asyncio.wait_for(running, 60)


async def test_inference_creates_a_task_pinned_to_this_worker_which_runs_it(
    child: Child, tenant: Tenant, site: SiteServer
) -> None:
    await tenant.put("quick", automation_json(site))

    response = await child.post("/inference", {"endpoint_name": "quick", "input_parameters": {"who": ["ada"]}})

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["success"] is True
    task = await tenant.wait_terminal(uuid.UUID(body["task_id"]))
    assert task.status == "success", task.error
    assert task.pinned_worker == CHILD_NAME
    assert task.worker_name == CHILD_NAME
    assert [entry["json_data"] for entry in task.output_data or []][-1] == {"greeting": "hello ada"}


async def test_inference_passes_the_control_planes_refusal_on(child: Child) -> None:
    response = await child.post("/inference", {"endpoint_name": "no-such-automation"})

    assert response.status_code == 404
    assert response.json()["success"] is False
    assert "no-such-automation" in response.json()["error"]


async def test_every_endpoint_but_health_requires_the_workers_key(child: Child) -> None:
    for method, path, body in KEYED:
        missing = await child.client.request(method, path, json=body)
        wrong = await child.client.request(method, path, json=body, headers={"x-api-key": "rb_not-the-key"})
        assert missing.status_code == 401, (path, missing.text)
        assert wrong.status_code == 401, (path, wrong.text)
        assert wrong.json() == {"success": False, "error": "Invalid or missing x-api-key: send this worker's API key"}

    health = await child.client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "healthy", "task_running": False, "queued_tasks": 0}


async def test_the_schema_needs_the_workers_key_and_there_is_no_docs_page(child: Child) -> None:
    schema = await child.client.get("/openapi.json", headers={"x-api-key": child.key})
    assert schema.status_code == 200 and "/kill_task" in schema.json()["paths"]
    for page in ("/docs", "/redoc"):
        assert (await child.client.get(page)).status_code == 404, page


async def test_health_is_503_while_a_task_has_run_past_its_limit(child: Child) -> None:
    overdue = uuid.uuid4()
    child.state.begin(overdue, limit_s=0)

    async def unhealthy() -> bool:
        return (await child.client.get("/health")).status_code == 503

    await eventually(unhealthy, timeout_s=5, what="/health turning unhealthy")
    body = (await child.client.get("/health")).json()
    assert body["status"] == "unhealthy"
    assert "not finished within" in body["message"]

    child.state.end(overdue)
    assert (await child.client.get("/health")).status_code == 200


async def test_kill_task_cancels_a_running_task(child: Child, tenant: Tenant, site: SiteServer) -> None:
    await tenant.put("long", automation_json(site, sleep_s=60))
    created = await child.post("/inference", {"endpoint_name": "long"})
    assert created.status_code == 202, created.text
    task_id = created.json()["task_id"]
    await tenant.wait_for(uuid.UUID(task_id), lambda t: t.status == "running")
    assert (await child.client.get("/is_task_running", headers={"x-api-key": child.key})).json() is True
    health = (await child.client.get("/health")).json()
    assert health["task_running"] is True

    unknown = str(uuid.uuid4())
    response = await child.post("/kill_task", [task_id, unknown])

    assert response.status_code == 200, response.text
    assert response.json()["results"] == {task_id: "cancelled", unknown: "not found"}
    cancelled = await tenant.wait_for(uuid.UUID(task_id), lambda t: t.is_terminal, timeout_s=2.0)
    assert cancelled.status == "cancelled"
    again = await child.post("/kill_task", [task_id])
    assert again.json()["results"] == {task_id: "already ended"}


async def test_allocate_task_runs_optexity_tasks_here(child: Child, tenant: Tenant, site: SiteServer) -> None:
    await tenant.put("quick", automation_json(site))
    optexity_tasks = [
        {
            "task_id": "optexity-1",
            "user_id": "u1",
            "recording_id": "r1",
            "endpoint_name": "quick",
            "input_parameters": {"who": [name]},
            "unique_parameter_names": ["who"],
            "status": "queued",
            "retry_count": 0,
            "max_timeout_in_minutes": 2,
            "priority": None,
            "callback_url": {"url": "http://127.0.0.1:9/hook", "api_key": "receiver-key"},
        }
        for name in ("ada", "bob")
    ]

    response = await child.post("/allocate_task", optexity_tasks)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["message"] == "2 task(s) allocated"
    for task_id, name in zip(body["task_ids"], ("ada", "bob"), strict=True):
        task = await tenant.wait_terminal(uuid.UUID(task_id))
        assert task.status == "success", task.error
        assert task.pinned_worker == CHILD_NAME
        assert task.input_parameters == {"who": [name]}
        assert task.callback_url == "http://127.0.0.1:9/hook"
        assert task.callback_api_key is not None  # sealed by the control plane


def waiting_automation(site: SiteServer) -> dict[str, Any]:
    """automation_json with a wait for a person first."""
    data = automation_json(site)
    person = {"type": "action_node", "human_in_loop_action": {"max_wait_time": 60, "message": "Check the invoice"}}
    data["nodes"].insert(0, person)
    return data


async def test_human_in_loop_completed_resumes_the_task_and_hitl_status_reads_it_once(
    child: Child, tenant: Tenant, site: SiteServer
) -> None:
    await tenant.put("person", waiting_automation(site))
    created = await child.post("/inference", {"endpoint_name": "person", "input_parameters": {"who": ["ada"]}})
    assert created.status_code == 202, created.text
    task_id = created.json()["task_id"]
    waiting = await tenant.wait_for(uuid.UUID(task_id), lambda t: t.waiting_for is not None)
    assert waiting.status == "running"
    assert waiting.waiting_for is not None and waiting.waiting_for["message"] == "Check the invoice"
    status = await child.client.get("/hitl_status", params={"task_id": task_id}, headers={"x-api-key": child.key})
    assert status.json() == {"completed": False}

    response = await child.post("/human_in_loop_completed", {"task_id": task_id})

    assert response.status_code == 200, response.text
    task = await tenant.wait_terminal(uuid.UUID(task_id))
    assert task.status == "success", task.error
    assert task.waiting_for is None
    assert [entry["json_data"] for entry in task.output_data or []][-1] == {"greeting": "hello ada"}
    first = await child.client.get("/hitl_status", params={"task_id": task_id}, headers={"x-api-key": child.key})
    again = await child.client.get("/hitl_status", params={"task_id": task_id}, headers={"x-api-key": child.key})
    assert (first.json(), again.json()) == ({"completed": True}, {"completed": False})
    late = await child.post("/human_in_loop_completed", {"task_id": task_id})
    assert late.status_code == 409
    assert "is not waiting for a person" in late.json()["error"]


async def test_set_child_process_id_updates_the_identity(child: Child) -> None:
    response = await child.post("/set_child_process_id", {"new_child_process_id": "3", "new_unique_child_arn": "a-3"})

    assert response.status_code == 200
    assert (child.state.child_process_id, child.state.unique_child_arn) == ("3", "a-3")


async def test_malformed_bodies_are_400_not_500(child: Child) -> None:
    for path, body in [("/kill_task", {"not": "a list"}), ("/allocate_task", "nope"), ("/inference", [1, 2])]:
        response = await child.post(path, body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["success"] is False


def test_an_optexity_task_becomes_an_inference_request() -> None:
    task = {
        "task_id": "t",
        "endpoint_name": "quick",
        "input_parameters": {"a": ["1"]},
        "unique_parameter_names": [],
        "priority": 3,
        "max_timeout_in_minutes": 5,
        "callback_url": {"url": "https://example.test/hook", "api_key": "k"},
        "automation": {"url": "ignored"},
    }
    assert inference_request_of(task) == {
        "endpoint_name": "quick",
        "input_parameters": {"a": ["1"]},
        "unique_parameter_names": [],
        "priority": 3,
        "max_timeout_in_minutes": 5,
        "task_callback_url": "https://example.test/hook",
        "task_callback_api_key": "k",
    }


def test_settings_come_from_the_env_file_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# the worker\nexport API_KEY='rb_from_file'\nSERVER_URL=http://127.0.0.1:8000/\nDEPLOYMENT=prod\n"
    )

    from_file = ChildSettings.from_env({"ENV_PATH": str(env_file)})
    overridden = ChildSettings.from_env({"ENV_PATH": str(env_file), "CHILD_PORT_OFFSET": "9100", "API_KEY": "rb_env"})

    assert from_file == ChildSettings(api_key="rb_from_file", server_url="http://127.0.0.1:8000", deployment="prod")
    assert overridden.api_key == "rb_env"
    assert overridden.child_port_offset == 9100
    assert ChildSettings.from_env({"OPTEXITY_API_KEY": "rb_alias"}).api_key == "rb_alias"
    with pytest.raises(ValueError, match="API_KEY must be set"):
        ChildSettings.from_env({})
    with pytest.raises(ValueError, match="DEPLOYMENT must be dev or prod"):
        ChildSettings.from_env({"API_KEY": "k", "DEPLOYMENT": "staging"})
    with pytest.raises(ValueError, match="cannot be read"):
        ChildSettings.from_env({"ENV_PATH": str(tmp_path / "missing.env")})
