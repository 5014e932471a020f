"""A healed run's fixed version end to end: a real worker heals a broken click with the test's OpenAI-compatible
server; the task record and its callback offer the cached automation; the API serves it and saves it as version 2;
a worker with NO model then runs version 2 without asking any model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import procrastinate
import pytest

from rebrowse.api.app import create_app
from rebrowse.automation.loading import load_automation
from rebrowse.demo.site import SiteServer
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import running_sender, serving_receiver
from tests.llm_server import ChatServer, chat_server
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers, worker_settings
from tests.worker.test_healing_e2e import NEW_BUTTON, healed, model_settings, ordering_automation, pick_the_button

__all__ = ["chat_server"]


@pytest.fixture
def api_settings(database_url: str, workers: Workers) -> ServerSettings:
    """The API's settings: the workers' data directory, so it serves their artifacts."""
    return worker_settings(database_url, workers.data_dir, name="api")


@pytest.fixture
async def api(
    api_settings: ServerSettings, db: Database, queue: procrastinate.App, sealer: Sealer, tenant: Tenant
) -> AsyncIterator[httpx.AsyncClient]:
    """The API app in-process, called with a member key of the tenant's account."""
    async with db.connection() as conn:
        _, key = await accounts.create_key(conn, tenant.account_id, "e2e", role="member")
    app = create_app(api_settings, db, queue, sealer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=api_settings.base_url, headers={"x-api-key": key}) as c:
        yield c


async def test_a_healed_runs_fixed_version_is_saved_and_replays_without_a_model(
    tenant: Tenant,
    workers: Workers,
    site: SiteServer,
    db: Database,
    sealer: Sealer,
    chat_server: ChatServer,
    api: httpx.AsyncClient,
    api_settings: ServerSettings,
) -> None:
    chat_server.script = pick_the_button
    await tenant.put("order", ordering_automation(site))
    async with serving_receiver() as receiver, running_sender(db, sealer):
        healer = await workers.start("w1", llm=model_settings(chat_server))
        task = await tenant.submit("order", callback_url=receiver.url)
        done = await tenant.wait_terminal(task.id, timeout_s=120)
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")
    assert done.status == "success", done.error
    assert done.healed == [healed(site)] and len(chat_server.requests) == 1

    url = f"{api_settings.base_url}/api/v1/tasks/{task.id}/cached_automation"
    assert (await api.get(f"/api/v1/tasks/{task.id}")).json()["cached_automation_url"] == url
    assert receiver.received[0].payload["cached_automation_url"] == url
    fixed = (await api.get(url)).json()
    load_automation(fixed)
    assert fixed["nodes"][0]["interaction_action"]["click_element"]["command"] == NEW_BUTTON

    saved = await api.post(f"/api/v1/tasks/{task.id}/cached_automation/save")
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2 and saved.json()["description"] == f"fixed version of task {task.id}"

    # A worker with no model configured runs the fixed version: no step needs one.
    await workers.stop(healer)
    await workers.start("w2")
    replay = await tenant.submit("order")
    assert replay.automation_version == 2
    replayed = await tenant.wait_terminal(replay.id, timeout_s=120)
    assert replayed.status == "success", replayed.error
    assert replayed.output_data is not None and "ordered s for" in str(replayed.output_data)
    assert replayed.llm_usage is not None and replayed.llm_usage["calls"] == 0
    assert replayed.healed == [] and replayed.cached_automation is None
    assert len(chat_server.requests) == 1
    assert (await api.get(f"/api/v1/tasks/{replay.id}")).json()["cached_automation_url"] is None
