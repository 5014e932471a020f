"""Human in the loop through the API with a real worker (`rebrowse serve`): the task says it waits for a person,
subscribers get a waiting_for_person callback, POST /api/v1/tasks/{id}/resume lets it go on in the same page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from rebrowse.demo.site import SiteServer
from tests.callbacks.conftest import Receiver, serving_receiver
from tests.serving import ADMIN_KEY, Served, serve
from tests.waiting import eventually

MESSAGE = "Tick the box for {who[0]}"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve(env={"REBROWSE_CALLBACK_ALLOW_HOSTS": "127.0.0.1", "REBROWSE_LIVE_VIEW": "0"}) as running:
        yield running


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, headers={"x-api-key": ADMIN_KEY}, timeout=30) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as hook:
        yield hook


def person_automation(site: SiteServer) -> dict[str, Any]:
    """Tick "Subscribe" (a change only this page knows), wait for a person, then read the page's status."""
    return {
        "url": f"{site.url}/check.html",
        "parameters": {"input_parameters": {"who": ["nobody"]}},
        "nodes": [
            {"type": "action_node", "interaction_action": {"check": {"command": 'locator("#subscribe")'}}},
            {"type": "action_node", "human_in_loop_action": {"max_wait_time": 120, "message": MESSAGE}},
            {
                "type": "action_node",
                "extraction_action": {
                    "locator": {
                        "command": 'locator("#status")',
                        "extraction_format": {"status": "str"},
                        "output_variable_name": "status",
                    }
                },
            },
        ],
        "take_final_screenshot": False,
    }


async def submit(api: httpx.AsyncClient, receiver: Receiver, **body: Any) -> str:
    request = {"endpoint_name": "person", "input_parameters": {"who": ["ada"]}, "task_callback_url": receiver.url}
    response = await api.post("/api/v1/inference", json={**request, **body})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


async def task_where(api: httpx.AsyncClient, task_id: str, what: str, holds: Any) -> dict[str, Any]:
    """The task's detail once `holds(detail)`; fails after a deadline."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update((await api.get(f"/api/v1/tasks/{task_id}")).json())
        return bool(holds(seen))

    await eventually(reached, timeout_s=90, what=f"task {task_id}: {what}")
    return seen


def callbacks_of(receiver: Receiver, task_id: str) -> list[dict[str, Any]]:
    return [r.payload for r in receiver.received if r.payload["task_id"] == task_id]


async def test_a_waiting_task_says_so_tells_subscribers_and_resumes_on_the_same_page(
    api: httpx.AsyncClient, receiver: Receiver, site: SiteServer
) -> None:
    assert (await api.put("/api/v1/automations/person", json={"automation": person_automation(site)})).is_success
    subscribed = await submit(api, receiver, callback_events=["waiting_for_person"])

    waiting = await task_where(api, subscribed, "waiting", lambda d: d["waiting_for"] is not None)
    assert waiting["status"] == "running"
    assert waiting["callback_events"] == ["waiting_for_person"]
    assert waiting["waiting_for"]["kind"] == "person"
    assert waiting["waiting_for"]["message"] == "Tick the box for ada"
    assert waiting["waiting_for"]["node"] == "nodes[1]"
    status = (await api.get("/api/v1/task_status", params={"task_id": subscribed})).json()
    assert status["status"] == "running" and status["waiting_for"]["message"] == "Tick the box for ada"
    await eventually(lambda: len(callbacks_of(receiver, subscribed)) == 1, timeout_s=30, what="the waiting event")
    [event] = callbacks_of(receiver, subscribed)
    assert event["event"] == "waiting_for_person"
    assert event["status"] == "running"
    assert event["waiting_for"]["message"] == "Tick the box for ada"
    assert event["resume_url"].endswith(f"/api/v1/tasks/{subscribed}/resume")

    resumed = await api.post(f"/api/v1/tasks/{subscribed}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["message"] == "Resumed: the task goes on"

    done = await task_where(api, subscribed, "ended", lambda d: d["completed_at"] is not None)
    assert done["status"] == "success", done["error"]
    assert done["waiting_for"] is None
    # The box ticked before the wait is still ticked after it: the same page went on.
    assert [o["json_data"] for o in done["output_data"]] == [{"status": "agree=on subscribe=on"}]
    again = await api.post(f"/api/v1/tasks/{subscribed}/resume")
    assert again.status_code == 409
    assert "is not waiting for a person (status success)" in again.json()["detail"]
    await eventually(lambda: len(callbacks_of(receiver, subscribed)) == 2, timeout_s=30, what="the final callback")
    final = callbacks_of(receiver, subscribed)[1]
    assert "event" not in final and final["status"] == "success"


async def test_a_caller_who_did_not_subscribe_gets_only_the_final_callback(
    api: httpx.AsyncClient, receiver: Receiver, site: SiteServer
) -> None:
    assert (await api.put("/api/v1/automations/person", json={"automation": person_automation(site)})).is_success
    task_id = await submit(api, receiver)
    await task_where(api, task_id, "waiting", lambda d: d["waiting_for"] is not None)
    assert (await api.post(f"/api/v1/tasks/{task_id}/resume")).status_code == 200
    done = await task_where(api, task_id, "ended", lambda d: d["completed_at"] is not None)
    assert done["status"] == "success", done["error"]
    await eventually(lambda: len(callbacks_of(receiver, task_id)) == 1, timeout_s=30, what="the final callback")
    [final] = callbacks_of(receiver, task_id)
    assert "event" not in final and final["status"] == "success"


async def test_resume_is_404_for_another_accounts_task_and_409_when_nothing_waits(
    api: httpx.AsyncClient, receiver: Receiver, site: SiteServer
) -> None:
    assert (await api.put("/api/v1/automations/person", json={"automation": person_automation(site)})).is_success
    task_id = await submit(api, receiver)
    await task_where(api, task_id, "waiting", lambda d: d["waiting_for"] is not None)
    created = await api.post("/api/v1/accounts", json={"name": f"other-{uuid.uuid4().hex[:6]}"})
    assert created.status_code == 201, created.text
    other = {"x-api-key": created.json()["key"]["api_key"]}

    assert (await api.post(f"/api/v1/tasks/{task_id}/resume", headers=other)).status_code == 404
    assert (await api.post(f"/api/v1/tasks/{uuid.uuid4()}/resume")).status_code == 404
    assert (await api.get(f"/api/v1/tasks/{task_id}", headers=other)).status_code == 404
    still = (await api.get(f"/api/v1/tasks/{task_id}")).json()
    assert still["waiting_for"] is not None  # the other account's call changed nothing

    # A cancel ends the wait.
    assert (await api.post(f"/api/v1/tasks/{task_id}/cancel")).status_code == 200
    ended = await task_where(api, task_id, "ended", lambda d: d["completed_at"] is not None)
    assert ended["status"] == "cancelled" and ended["waiting_for"] is None
    conflict = await api.post(f"/api/v1/tasks/{task_id}/resume")
    assert conflict.status_code == 409


async def test_callback_events_names_only_known_events(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/inference", json={"endpoint_name": "person", "callback_events": ["waiting_for_godot"]}
    )
    assert response.status_code in (400, 422)
    assert "callback_events" in response.text
