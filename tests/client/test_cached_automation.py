"""The SDK's cached automation calls against the real API app on 127.0.0.1 (the task ended as a worker ends it)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

import rebrowse
from rebrowse import lifecycle
from rebrowse.client import NotFoundError
from rebrowse.store import tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.client.conftest import LOOKUP, Api

# The automation as a run that healed its one step writes it: the step's new command.
COMMAND = 'get_by_role("textbox", name="Email", exact=True)'
FIXED = {
    **LOOKUP,
    "nodes": [
        {
            "type": "action_node",
            "interaction_action": {"input_text": {"command": COMMAND, "input_text": "{email[0]}"}},
        }
    ],
}


async def ended(api: Api, db: Database, sealer: Sealer, task_id: str, cached: dict[str, Any] | None) -> None:
    """End the task as a worker would, its run having written `cached` (None: it wrote nothing)."""
    path = None
    if cached is not None:
        path = api.settings.artifacts / task_id / "cached_automation.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(cached))
    outcome = tasks.Outcome("success", cached_automation=str(path) if path else None)
    done = await lifecycle.complete_task(db, sealer, uuid.UUID(task_id), outcome, public_url=api.settings.base_url)
    assert done is not None


async def test_async_client_reads_and_saves_the_cached_automation(api: Api, db: Database, sealer: Sealer) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        with_cache, without = await client.submit("lookup", {}), await client.submit("lookup", {})
        await ended(api, db, sealer, with_cache, FIXED)
        await ended(api, db, sealer, without, None)
        status = await client.status(with_cache)
        assert status.cached_automation_url == f"http://rebrowse.test/api/v1/tasks/{with_cache}/cached_automation"
        assert (await client.status(without)).cached_automation_url is None
        assert await client.cached_automation(with_cache) == FIXED
        assert await client.save_cached_automation(with_cache) == 2
        with pytest.raises(NotFoundError) as caught:
            await client.cached_automation(without)
    assert "no cached automation" in caught.value.message


def sync_calls(api: Api, task_id: str) -> tuple[dict[str, Any], int]:
    with rebrowse.Client(api.url, api.key, timeout=10) as client:
        return client.cached_automation(task_id), client.save_cached_automation(task_id)


async def test_sync_client_reads_and_saves_the_cached_automation(api: Api, db: Database, sealer: Sealer) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        task_id = await client.submit("lookup", {})
    await ended(api, db, sealer, task_id, FIXED)
    assert await asyncio.to_thread(sync_calls, api, task_id) == (FIXED, 2)
