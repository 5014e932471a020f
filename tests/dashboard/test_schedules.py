"""The Schedules page: add one, see its next and last runs (linking to the task), pause and resume it, delete it
after confirming; it fits a desktop and a phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from rebrowse.api.app import services_of
from rebrowse.api.scheduling import fire_tick
from tests.api.conftest import Account
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import fits, sign_in
from tests.serving import serve_app

TICK = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # 09:15 in Paris


@pytest.fixture
async def served(app: FastAPI, acme: Account) -> AsyncIterator[Served]:
    async with serve_app(app) as base:
        url = base.replace("ws://", "http://")
        with httpx.Client(base_url=url, headers={"x-api-key": acme.key}) as client:
            yield Served(url, client)


@pytest.mark.usefixtures("login")
async def test_add_fire_pause_resume_and_delete_a_schedule(
    dashboard: Page, served: Served, acme: Account, app: FastAPI
) -> None:
    await sign_in(dashboard, served, acme.key)
    await dashboard.get_by_role("link", name="Schedules").click()
    await expect(dashboard.get_by_role("heading", name="Schedules", exact=True)).to_be_visible()
    await expect(dashboard.get_by_text("No schedules yet")).to_be_visible()

    await dashboard.get_by_label("Name", exact=True).fill("paris-morning")
    await dashboard.get_by_label("Automation").select_option("login")
    await dashboard.get_by_label("Cron").fill("61 9 * * *")
    await dashboard.get_by_label("Time zone").fill("Europe/Paris")
    await dashboard.get_by_label("Inputs").fill("username=ada")
    await dashboard.get_by_role("button", name="Save schedule").click()
    await expect(dashboard.get_by_role("alert")).to_contain_text("not a valid cron expression")
    await dashboard.get_by_label("Cron").fill("15 9 * * *")
    await dashboard.get_by_role("button", name="Save schedule").click()
    row = dashboard.locator("tr[data-schedule=paris-morning]")
    await expect(row).to_contain_text("15 9 * * * (Europe/Paris)")
    await expect(row).to_contain_text("active")
    shown = (await acme.client.get("/api/v1/schedules/paris-morning")).json()
    assert shown["input_parameters"] == {"username": ["ada"]}

    (task,) = await fire_tick(services_of(app), TICK)
    await dashboard.reload()
    await row.get_by_role("link", name="Last task of paris-morning").click()
    await expect(dashboard).to_have_url(f"{served.url}/tasks/{task.id}")
    await expect(dashboard.locator("dl.facts")).to_contain_text("paris-morning")
    await dashboard.go_back()

    await row.get_by_role("button", name="Pause schedule paris-morning").click()
    await expect(row).to_contain_text("paused")
    assert (await acme.client.get("/api/v1/schedules/paris-morning")).json()["paused"] is True
    await row.get_by_role("button", name="Resume schedule paris-morning").click()
    await expect(row).to_contain_text("active")

    for width, height in ((1280, 800), (390, 844)):
        await dashboard.set_viewport_size({"width": width, "height": height})
        await fits(dashboard, f"{served.url}/schedules")

    answers = iter([False, True])  # dismissed first, then confirmed
    dashboard.on("dialog", lambda dialog: dialog.accept() if next(answers) else dialog.dismiss())
    await row.get_by_role("button", name="Delete schedule paris-morning").click()
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name="Delete schedule paris-morning").click()
    await expect(row).to_have_count(0)
    assert (await acme.client.get("/api/v1/schedules")).json() == {"schedules": []}
