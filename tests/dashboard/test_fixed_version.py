"""The task page offers the automation a run wrote with the model's steps made deterministic: a link to view it and a
button that saves it as the automation's next version ("fixed version" when the run healed, "cached version" when it
only used the model). The API app runs in-process on a real port; the task ends through the lifecycle."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.async_api import Page, expect

from rebrowse import lifecycle
from rebrowse.automation.sealed import redacted
from rebrowse.settings import ServerSettings
from rebrowse.store import tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import Account, submit_ok
from tests.api.test_cached_automation import FIXED_COMMAND, cached_definition
from tests.api.test_tasks import HEALED
from tests.dashboard.conftest import Served
from tests.dashboard.test_healing import served  # noqa: F401 (the API app on a real port)
from tests.dashboard.test_pages import sign_in


async def ended(
    acme: Account, db: Database, sealer: Sealer, settings: ServerSettings, *, healed: bool, cached: bool = True
) -> str:
    """A task of `login` that succeeded, its run having written a cached automation (or not), healed or not."""
    task_id = await submit_ok(acme)
    path = None
    if cached:
        path = settings.artifacts / task_id / "cached_automation.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(cached_definition()))
    outcome = tasks.Outcome("success", healed=[HEALED] if healed else [], cached_automation=str(path) if path else None)
    assert await lifecycle.complete_task(db, sealer, uuid.UUID(task_id), outcome, public_url=settings.base_url)
    return task_id


async def open_task(page: Page, at: Served, acme: Account, task_id: str) -> None:
    await sign_in(page, at, acme.key)
    await page.goto(f"{at.url}/tasks/{task_id}")


@pytest.mark.usefixtures("login")
async def test_the_fixed_version_of_a_healed_run_is_viewed_and_saved_as_the_next_version(
    dashboard: Page,
    served: Served,  # noqa: F811
    acme: Account,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
) -> None:
    task_id = await ended(acme, db, sealer, settings, healed=True)
    await open_task(dashboard, served, acme, task_id)

    offer = dashboard.get_by_role("region", name="Fixed version")
    view = offer.get_by_role("link", name="View fixed version")
    await expect(view).to_have_attribute("href", f"/api/v1/tasks/{task_id}/cached_automation")
    # The link opens with the session's cookie: the automation JSON, secure values still sealed.
    shown = await (await dashboard.request.get(f"{served.url}/api/v1/tasks/{task_id}/cached_automation")).json()
    assert shown == redacted(cached_definition())

    await offer.get_by_role("button", name="Save as version 2").click()
    await expect(offer.get_by_role("link", name="login v2")).to_have_attribute("href", "/automations/login")
    await expect(dashboard.get_by_text("Saved the fixed version as version 2")).to_be_visible()
    await expect(offer.get_by_role("button")).to_have_count(0)
    newest = (await acme.client.get("/api/v1/automations/login")).json()
    assert newest["version"] == 2 and newest["description"] == f"fixed version of task {task_id}"
    assert newest["automation"]["nodes"][1]["interaction_action"]["click_element"]["command"] == FIXED_COMMAND


@pytest.mark.usefixtures("login")
async def test_a_run_that_only_used_the_model_offers_its_cached_version(
    dashboard: Page,
    served: Served,  # noqa: F811
    acme: Account,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
) -> None:
    task_id = await ended(acme, db, sealer, settings, healed=False)
    await open_task(dashboard, served, acme, task_id)

    offer = dashboard.get_by_role("region", name="Cached version")
    await expect(offer.get_by_role("link", name="View cached version")).to_be_visible()
    await expect(dashboard.get_by_role("region", name="Healed steps")).to_be_hidden()
    await offer.get_by_role("button", name="Save as version 2").click()
    await expect(dashboard.get_by_text("Saved the cached version as version 2")).to_be_visible()


@pytest.mark.usefixtures("login")
async def test_saving_over_a_newer_version_shows_the_conflict(
    dashboard: Page,
    served: Served,  # noqa: F811
    acme: Account,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
) -> None:
    task_id = await ended(acme, db, sealer, settings, healed=True)
    await open_task(dashboard, served, acme, task_id)
    newer = await acme.client.put("/api/v1/automations/login", json={"automation": cached_definition()})
    assert newer.status_code == 200, newer.text

    save = dashboard.get_by_role("button", name="Save as version 2")
    await save.click()
    await expect(dashboard.get_by_role("alert")).to_contain_text("has changed since the task ran version 1")
    await expect(save).to_be_enabled()
    assert (await acme.client.get("/api/v1/automations/login")).json()["version"] == 2


@pytest.mark.usefixtures("login")
async def test_a_run_that_left_no_cached_automation_offers_nothing(
    dashboard: Page,
    served: Served,  # noqa: F811
    acme: Account,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
) -> None:
    task_id = await ended(acme, db, sealer, settings, healed=True, cached=False)
    await open_task(dashboard, served, acme, task_id)

    await expect(dashboard.get_by_role("region", name="Healed steps")).to_be_visible()
    await expect(dashboard.get_by_role("region", name="Fixed version")).to_be_hidden()
    await expect(dashboard.locator("#task-fixed-version")).to_be_empty()
