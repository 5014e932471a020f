"""The API's callback routes: a task's deliveries, redelivery and the signing secret."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from rebrowse import lifecycle
from rebrowse.store import accounts, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import Receiver, running_sender
from tests.client.conftest import Api, new_key
from tests.waiting import eventually


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, headers={"x-api-key": api.key}) as client:
        yield client


async def submit(http: httpx.AsyncClient, callback_url: str | None) -> str:
    body: dict[str, object] = {"endpoint_name": "lookup", "input_parameters": {}, "task_callback_url": callback_url}
    response = await http.post("/api/v1/inference", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


async def test_attempts_are_listed_and_a_callback_can_be_redelivered(
    api: Api, http: httpx.AsyncClient, db: Database, sealer: Sealer, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    task_id = await submit(http, receiver.url)
    path = f"/api/v1/tasks/{task_id}/callbacks"
    assert (await http.get(path)).json() == {"task_id": task_id, "callbacks": []}
    assert (await http.post(f"{path}/redeliver")).status_code == 409  # not ended yet
    assert (await http.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 200

    async def delivered() -> bool:
        [event] = (await http.get(path)).json()["callbacks"]
        return bool(event["state"] == "delivered")

    async with running_sender(db, sealer):
        await eventually(delivered, what="delivery")
        [event] = (await http.get(path)).json()["callbacks"]
        assert event["url"] == receiver.url and event["next_attempt_at"] is None
        assert [a["status_code"] for a in event["attempts"]] == [500, 200]
        assert event["attempts"][0]["error"] == "HTTP 500" and event["attempts"][0]["duration_ms"] >= 0
        again = await http.post(f"{path}/redeliver")
        assert again.status_code == 202 and again.json()["event_ids"] == [event["event_id"]]
        await eventually(lambda: len(receiver.received) == 3, what="redelivery")
        await eventually(delivered, what="delivered again")
    assert {r.headers["x-rebrowse-event-id"] for r in receiver.received} == {event["event_id"]}


async def test_without_callback_url_there_is_nothing_to_redeliver(http: httpx.AsyncClient) -> None:
    task_id = await submit(http, None)
    assert (await http.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 200
    refused = await http.post(f"/api/v1/tasks/{task_id}/callbacks/redeliver")
    assert refused.status_code == 409 and "without task_callback_url" in refused.json()["error"]


async def test_other_accounts_and_unknown_tasks_are_404(
    api: Api, http: httpx.AsyncClient, db: Database, sealer: Sealer
) -> None:
    task_id = await submit(http, "https://hooks.example.com/cb")
    await lifecycle.complete_task(db, sealer, uuid.UUID(task_id), tasks.Outcome("failed"), public_url=api.url)
    _, other_key = await new_key(db, sealer, "other")
    async with httpx.AsyncClient(base_url=api.url, headers={"x-api-key": other_key}) as other:
        for target in (task_id, str(uuid.uuid4()), "not-a-uuid"):
            assert (await other.get(f"/api/v1/tasks/{target}/callbacks")).status_code == 404
            assert (await other.post(f"/api/v1/tasks/{target}/callbacks/redeliver")).status_code == 404
    async with httpx.AsyncClient(base_url=api.url) as anonymous:
        assert (await anonymous.get(f"/api/v1/tasks/{task_id}/callbacks")).status_code == 401
        assert (await anonymous.get("/api/v1/callbacks/signing_secret")).status_code == 401


async def test_signing_secret_is_the_accounts(api: Api, http: httpx.AsyncClient, db: Database, sealer: Sealer) -> None:
    response = await http.get("/api/v1/callbacks/signing_secret")
    async with db.connection() as conn:
        secret = await accounts.signing_secret(conn, sealer, api.account_id)
    assert bytes.fromhex(response.json()["signing_secret"]) == secret
