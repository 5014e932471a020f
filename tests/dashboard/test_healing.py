"""The task page says when the model healed a run: a badge on the task, the healed steps with what failed and what
replaced it, and a badge on each healed step. The API app runs in-process on a real port; the task ends through the
lifecycle and its steps are the engine's records on disk."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from rebrowse import lifecycle
from rebrowse.settings import ServerSettings
from rebrowse.store import tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import Account, submit_ok
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import sign_in
from tests.dashboard.test_steps import record, write_steps
from tests.serving import serve_app

HEALING = {
    "failed_command": 'locator("#place-order")',
    "error": "Locator.click: Timeout 5000ms exceeded.",
    "command": 'get_by_role("button", name="Place order", exact=True)',
}


@pytest.fixture
async def served(app: FastAPI, acme: Account) -> AsyncIterator[Served]:
    async with serve_app(app) as base:
        url = base.replace("ws://", "http://")
        with httpx.Client(base_url=url, headers={"x-api-key": acme.key}) as client:
            yield Served(url, client)


async def finished(
    acme: Account, db: Database, sealer: Sealer, settings: ServerSettings, healed: list[dict[str, str]]
) -> str:
    """A task whose second step was healed (or not), ended as the worker ends it."""
    task_id = await submit_ok(acme)
    step_healing = HEALING if healed else None
    write_steps(
        settings, task_id, [record(1, 1, outcome="success"), record(2, 1, outcome="success", healed=step_healing)]
    )
    outcome = tasks.Outcome("success", healed=healed)
    assert await lifecycle.complete_task(db, sealer, uuid.UUID(task_id), outcome, public_url=settings.base_url)
    return task_id


@pytest.mark.usefixtures("login")
async def test_a_healed_task_shows_its_badge_and_each_healed_step(
    dashboard: Page, served: Served, acme: Account, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await finished(acme, db, sealer, settings, [{"path": "nodes[1]", **HEALING}])

    await sign_in(dashboard, served, acme.key)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")

    await expect(dashboard.locator("h1 .badge-healed")).to_have_text("healed")
    healed = dashboard.get_by_role("region", name="Healed steps")
    await expect(healed).to_contain_text("The model healed 1 step whose command failed")
    await expect(healed.locator("li")).to_have_text(
        f"nodes[1]: {HEALING['failed_command']} failed: {HEALING['error']} → now {HEALING['command']}"
    )
    # This run left no cached automation: nothing is offered (tests/dashboard/test_fixed_version.py).
    await expect(dashboard.get_by_role("region", name="Fixed version")).to_be_hidden()
    steps = dashboard.locator("tr.step")
    await expect(steps.nth(1).locator(".badge-healed")).to_be_visible()
    await expect(steps.nth(0).locator(".badge-healed")).to_have_count(0)
    note = dashboard.locator("tr.step-healed")
    await expect(note).to_have_count(1)
    await expect(note).to_contain_text(f"Healed: {HEALING['failed_command']} failed: {HEALING['error']}")
    await expect(note).to_contain_text(f"now {HEALING['command']}")


@pytest.mark.usefixtures("login")
async def test_a_task_nothing_healed_shows_no_healing(
    dashboard: Page, served: Served, acme: Account, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await finished(acme, db, sealer, settings, [])

    await sign_in(dashboard, served, acme.key)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")

    await expect(dashboard.locator("tr.step")).to_have_count(2)
    await expect(dashboard.locator(".badge-healed")).to_have_count(0)
    await expect(dashboard.get_by_role("region", name="Healed steps")).to_be_hidden()
