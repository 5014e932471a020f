"""Task status, details, listing, outputs and files, cancellation and tenancy over the API."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI

from rebrowse import lifecycle
from rebrowse.settings import ServerSettings
from rebrowse.store import callbacks, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import AUTOMATION, BASE_URL, Account, submit_ok
from tests.api.test_auth import assert_error
from tests.api.test_inference import job_of

# What a run that asked a model twice (one call failed) cost.
USAGE = {"calls": 2, "failed_calls": 1, "input_tokens": 812, "output_tokens": 64, "requests": 3}
NO_USAGE = {"calls": 0, "failed_calls": 0, "input_tokens": 0, "output_tokens": 0, "requests": 0}
# A step whose failed command the model replaced (RunResult.healed).
HEALED = {
    "path": "nodes[2]",
    "failed_command": 'locator("#buy")',
    "error": "Locator.click: Timeout 5000ms exceeded.",
    "command": 'get_by_role("button", name="Buy now", exact=True)',
}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def start(db: Database, task_id: str) -> None:
    """What a worker does when it takes the task."""
    async with db.connection() as conn:
        await tasks.mark_allocated(conn, uuid.UUID(task_id), "w1")
        await tasks.mark_running(conn, uuid.UUID(task_id), 0)


async def finish(
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
    task_id: str,
    outcome: tasks.Outcome,
    final_screenshot: bytes | None = None,
) -> tasks.Task:
    """What a worker does when the run ends (it hands over the final screenshot's bytes for the callback)."""
    finished = await lifecycle.complete_task(
        db, sealer, uuid.UUID(task_id), outcome, public_url=settings.base_url, final_screenshot=final_screenshot
    )
    assert finished is not None
    return finished


def write_artifacts(settings: ServerSettings, task_id: str) -> tasks.Outcome:
    """A run's files where the worker puts them, and the outcome that records them."""
    out_dir = settings.artifacts / task_id
    (out_dir / "downloads").mkdir(parents=True)
    (out_dir / "downloads" / "report 1.csv").write_text("a,b\n1,2\n")
    (out_dir / "final_screenshot.png").write_bytes(PNG)
    return tasks.Outcome(
        "success",
        output_data=[{"unique_identifier": "results", "json_data": {"rows": 2}}],
        for_loop_status=[[{"index": 0, "status": "success"}]],
        downloads=[{"filename": "report 1.csv", "size": 8, "metadata": {"kind": "report"}}],
        final_screenshot="final_screenshot.png",
        steps_count=4,
        llm_usage=USAGE,
    )


@pytest.fixture
async def finished_task(acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings) -> str:
    task_id = await submit_ok(acme, input_parameters={"username": ["bob"]})
    await start(db, task_id)
    await finish(db, sealer, settings, task_id, write_artifacts(settings, task_id))
    return task_id


async def test_status_of_a_queued_task(acme: Account, login: str) -> None:
    task_id = await submit_ok(acme, priority=2)
    call = (await acme.client.post("/api/v1/inference/call", json={"task_id": task_id})).json()
    assert call["success"] is True and call["task_id"] == task_id
    assert (call["status"], call["end_point"], call["completed_at"], call["result"]) == ("queued", "login", None, None)
    status = (await acme.client.get("/api/v1/task_status", params={"task_id": task_id})).json()
    assert status["status"] == "queued" and status["priority"] == 2 and status["started_at"] is None
    # Nothing is known of a task's LLM calls before it ends.
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()["llm_usage"] is None


async def test_status_and_outputs_of_a_finished_task(acme: Account, finished_task: str) -> None:
    call = (await acme.client.post("/api/v1/inference/call", json={"task_id": finished_task})).json()
    assert call["status"] == "success" and call["completed_at"] and call["failed_at"] is None
    assert call["result"] == [{"unique_identifier": "results", "json_data": {"rows": 2}}]
    assert call["execution_time"].endswith(" seconds")

    output = (await acme.client.get("/api/v1/get_output_data", params={"task_id": finished_task})).json()
    assert output["output_data"] == call["result"] and output["for_loop_status"] == [
        [{"index": 0, "status": "success"}]
    ]

    detail = (await acme.client.get(f"/api/v1/tasks/{finished_task}")).json()
    assert detail["status"] == "success" and detail["steps_count"] == 4 and detail["worker_name"] == "w1"
    assert detail["started_at"] and detail["allocated_at"] and detail["input_parameters"] == {"username": ["bob"]}
    assert detail["final_screenshot"] == f"{BASE_URL}/api/v1/tasks/{finished_task}/screenshot"
    assert detail["callbacks"] == []
    assert detail["llm_usage"] == USAGE


async def test_a_task_shows_the_steps_the_model_healed(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    healed = await submit_ok(acme, task_callback_url="https://hooks.example.com/done")
    plain = await submit_ok(acme)
    for task_id, steps in ((healed, [HEALED]), (plain, [])):
        await start(db, task_id)
        await finish(db, sealer, settings, task_id, tasks.Outcome("success", healed=steps))

    assert (await acme.client.get(f"/api/v1/tasks/{healed}")).json()["healed"] == [HEALED]
    assert (await acme.client.get(f"/api/v1/tasks/{plain}")).json()["healed"] == []
    assert (await callback_payload(db, acme, healed))["healed"] == [HEALED]


async def test_a_running_task_has_not_healed_yet(acme: Account, login: str) -> None:
    task_id = await submit_ok(acme)
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()["healed"] is None


async def test_failed_tasks_report_when_and_why(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await submit_ok(acme)
    await start(db, task_id)
    await finish(db, sealer, settings, task_id, tasks.Outcome("killed", error="timed out after 10 minutes"))
    call = (await acme.client.post("/api/v1/inference/call", json={"task_id": task_id})).json()
    assert call["status"] == "killed" and call["error"] == "timed out after 10 minutes"
    assert call["failed_at"] == call["completed_at"] is not None
    # A task whose run asked no model shows zeros, not "unknown".
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()["llm_usage"] == NO_USAGE


async def test_downloads_are_served_with_the_key(
    acme: Account, finished_task: str, anonymous: httpx.AsyncClient
) -> None:
    listed = (await acme.client.get("/api/v1/get_downloads", params={"task_id": finished_task})).json()
    [download] = listed["downloads"]
    assert download["filename"] == "report 1.csv" and download["metadata"] == {"kind": "report"}
    assert download["url"] == f"{BASE_URL}/api/v1/tasks/{finished_task}/downloads/report%201.csv"

    served = await acme.client.get(download["url"])
    assert served.status_code == 200 and served.content == b"a,b\n1,2\n"
    assert "attachment" in served.headers["content-disposition"]
    assert served.headers["x-content-type-options"] == "nosniff"
    assert_error(await anonymous.get(download["url"]), 401)


async def raw_get(app: FastAPI, path: str, key: str) -> int:
    """The status of a GET sent exactly as given (HTTP clients would normalise `..` away first)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"rebrowse.test"), (b"x-api-key", key.encode())],
        "server": ("rebrowse.test", 80),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[MutableMapping[str, Any]] = []
    requested, done = False, asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays connected until the whole response is sent
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status


@pytest.mark.parametrize(
    "name", ["..", ".", "../../secret.txt", "..\\secret.txt", "report 1.csv\x00", "final_screenshot.png", "missing.csv"]
)
async def test_download_names_cannot_reach_other_files(
    app: FastAPI, acme: Account, finished_task: str, settings: ServerSettings, name: str
) -> None:
    (settings.artifacts / "secret.txt").write_text("private")
    assert await raw_get(app, f"/api/v1/tasks/{finished_task}/downloads/{name}", acme.key) == 404
    assert await raw_get(app, f"/api/v1/tasks/{finished_task}/downloads/report 1.csv", acme.key) == 200


async def test_a_download_linked_outside_its_directory_is_not_served(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    task_id = await submit_ok(acme)
    downloads = settings.artifacts / task_id / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "link.txt").symlink_to(outside)
    outcome = tasks.Outcome("success", downloads=[{"filename": "link.txt", "size": 7}], final_screenshot=str(outside))
    await finish(db, sealer, settings, task_id, outcome)
    assert_error(await acme.client.get(f"/api/v1/tasks/{task_id}/downloads/link.txt"), 404)
    assert_error(await acme.client.get(f"/api/v1/tasks/{task_id}/screenshot"), 404)
    shot = (await acme.client.get("/api/v1/final_screenshot", params={"task_id": task_id})).json()
    assert shot["final_screenshot"] is None


async def test_final_screenshot_as_base64_and_as_png(acme: Account, finished_task: str) -> None:
    shot = (await acme.client.get("/api/v1/final_screenshot", params={"task_id": finished_task})).json()
    assert base64.b64decode(shot["final_screenshot"]) == PNG
    png = await acme.client.get(f"/api/v1/tasks/{finished_task}/screenshot")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content == PNG


async def test_a_queued_task_has_no_screenshot(acme: Account, login: str) -> None:
    task_id = await submit_ok(acme)
    assert (await acme.client.get("/api/v1/final_screenshot", params={"task_id": task_id})).json()[
        "final_screenshot"
    ] is None
    assert_error(await acme.client.get(f"/api/v1/tasks/{task_id}/screenshot"), 404, "no final screenshot")


async def test_cancelling_a_queued_task_ends_it_at_once_with_its_callback(
    acme: Account, login: str, db: Database
) -> None:
    task_id = await submit_ok(acme, task_callback_url="https://hooks.example/done")
    response = await acme.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    detail = (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()
    assert detail["status"] == "cancelled" and detail["error"] == "Task cancelled by user" and detail["completed_at"]
    [callback] = detail["callbacks"]
    assert callback["state"] == "pending" and callback["attempts"] == 0
    assert (await job_of(db, task_id))["status"] == "cancelled", "its job leaves the queue"

    again = await acme.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert_error(again, 409, "cancelled")


async def test_cancelling_a_running_task_asks_its_worker_to_stop(
    acme: Account, login: str, db: Database, queue: procrastinate.App
) -> None:
    task_id = await submit_ok(acme)
    worker_id = await queue.job_manager.register_worker()
    job = await queue.job_manager.fetch_job(queues=None, worker_id=worker_id)
    assert job is not None and job.task_kwargs == {"task_id": task_id}
    await start(db, task_id)

    response = await acme.client.post(f"/api/v1/tasks/{task_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "running" and "requested" in response.json()["message"]
    row = await job_of(db, task_id)
    assert row["status"] == "doing" and row["abort_requested"] is True
    assert (await acme.client.get("/api/v1/task_status", params={"task_id": task_id})).json()["status"] == "running"


async def test_a_finished_task_cannot_be_cancelled(acme: Account, finished_task: str) -> None:
    assert_error(await acme.client.post(f"/api/v1/tasks/{finished_task}/cancel"), 409, "success")


async def test_listing_pages_newest_first_with_filters(acme: Account, login: str) -> None:
    created = [await submit_ok(acme) for _ in range(5)]
    await acme.client.post(f"/api/v1/tasks/{created[1]}/cancel")

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await acme.client.get("/api/v1/tasks", params=params)).json()
        assert len(page["tasks"]) <= 2
        seen += [task["task_id"] for task in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created[::-1]

    cancelled = (await acme.client.get("/api/v1/tasks", params={"status": "cancelled"})).json()
    assert [task["task_id"] for task in cancelled["tasks"]] == [created[1]] and cancelled["next_cursor"] is None
    by_name = (await acme.client.get("/api/v1/tasks", params={"endpoint_name": "login", "status": "queued"})).json()
    assert len(by_name["tasks"]) == 4
    assert (await acme.client.get("/api/v1/tasks", params={"endpoint_name": "other"})).json()["tasks"] == []


async def test_listing_finds_a_task_by_part_of_its_id_or_of_its_endpoint(acme: Account, other: Account) -> None:
    for account in (acme, other):
        response = await account.client.put("/api/v1/automations/Portal_Login", json={"automation": AUTOMATION})
        assert response.status_code == 200, response.text
    task_id = await submit_ok(acme, endpoint_name="Portal_Login")
    others = await submit_ok(other, endpoint_name="Portal_Login")

    async def found(**params: str) -> list[str]:
        response = await acme.client.get("/api/v1/tasks", params=params)
        assert response.status_code == 200, response.text
        return [task["task_id"] for task in response.json()["tasks"]]

    assert await found(task_id=task_id) == [task_id]
    assert await found(task_id=task_id[:8].upper()) == [task_id]  # pasted in capitals
    assert await found(task_id=others[:13]) == []  # another account's task
    assert await found(endpoint_contains="al_LOG") == [task_id]  # a substring, in any case
    assert await found(endpoint_contains="portal_login", task_id=task_id[:4]) == [task_id]
    assert await found(endpoint_contains="nothing_like_it") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"endpoint_name": "bad name"}, "endpoint_name"),
        ({"endpoint_contains": "50%"}, "endpoint_contains"),
        ({"task_id": "not-hex"}, "task_id"),
    ],
)
async def test_listing_refuses_bad_parameters(acme: Account, params: dict[str, Any], field: str) -> None:
    assert_error(await acme.client.get("/api/v1/tasks", params=params), 400, field)


async def test_a_status_call_needs_a_task_id(acme: Account) -> None:
    assert_error(await acme.client.post("/api/v1/inference/call", json={}), 400, "task_id: field required")
    assert_error(await acme.client.get("/api/v1/task_status"), 400, "task_id")


@pytest.mark.parametrize("task_id", ["task_123", str(uuid.uuid4()), "'; DROP TABLE tasks; --"])
async def test_unknown_and_malformed_task_ids_are_404(acme: Account, task_id: str) -> None:
    assert_error(await acme.client.post("/api/v1/inference/call", json={"task_id": task_id}), 404, "Task not found")
    assert_error(await acme.client.get("/api/v1/task_status", params={"task_id": task_id}), 404, "Task not found")


async def test_another_accounts_task_is_404_everywhere(acme: Account, other: Account, finished_task: str) -> None:
    query = {"task_id": finished_task}
    for response in [
        await other.client.post("/api/v1/inference/call", json=query),
        await other.client.get("/api/v1/task_status", params=query),
        await other.client.get(f"/api/v1/tasks/{finished_task}"),
        await other.client.get("/api/v1/get_output_data", params=query),
        await other.client.get("/api/v1/get_downloads", params=query),
        await other.client.get(f"/api/v1/tasks/{finished_task}/downloads/report%201.csv"),
        await other.client.get("/api/v1/final_screenshot", params=query),
        await other.client.get(f"/api/v1/tasks/{finished_task}/screenshot"),
        await other.client.post(f"/api/v1/tasks/{finished_task}/cancel"),
    ]:
        assert_error(response, 404, "not found")
    assert (await other.client.get("/api/v1/tasks")).json()["tasks"] == []
    assert (await acme.client.get(f"/api/v1/tasks/{finished_task}")).status_code == 200


async def callback_payload(db: Database, account: Account, task_id: str) -> dict[str, Any]:
    async with db.connection() as conn:
        [history] = await callbacks.list_for_task(conn, account.id, uuid.UUID(task_id))
    return history.event.payload


@pytest.mark.parametrize("include", [False, True])
async def test_a_callback_links_the_final_screenshot_and_carries_its_bytes_only_when_asked(
    acme: Account,
    login: str,
    anonymous: httpx.AsyncClient,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
    include: bool,
) -> None:
    hook = {"task_callback_url": "https://hooks.example.com/done"}
    task_id = await submit_ok(acme, **hook, **({"callback_include_screenshot": True} if include else {}))
    await start(db, task_id)
    await finish(db, sealer, settings, task_id, write_artifacts(settings, task_id), final_screenshot=PNG)

    payload = await callback_payload(db, acme, task_id)

    assert payload["final_screenshot"] == (base64.b64encode(PNG).decode() if include else None)
    link = payload["final_screenshot_url"]
    assert link == f"{BASE_URL}/api/v1/tasks/{task_id}/screenshot"
    served = await acme.client.get(link)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert (await anonymous.get(link)).status_code == 401
