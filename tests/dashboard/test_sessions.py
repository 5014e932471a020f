"""Warm sessions in the dashboard: the task page says whether the run started from its login's kept state; the
automation page shows its settings and the states its logins kept, each of which can be dropped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from rebrowse.store import sessions, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import Account, submit_ok
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import sign_in
from tests.serving import serve_app

STATE: dict[str, Any] = {"storage_state": {"cookies": [], "origins": []}, "session_storage": {}}


@pytest.fixture
async def served(app: FastAPI, acme: Account) -> AsyncIterator[Served]:
    async with serve_app(app) as base:
        url = base.replace("ws://", "http://")
        with httpx.Client(base_url=url, headers={"x-api-key": acme.key}) as client:
            yield Served(url, client)


@pytest.mark.usefixtures("login")
async def test_the_task_page_says_the_run_reused_its_logins_state(
    dashboard: Page, served: Served, acme: Account, db: Database
) -> None:
    task_id = await submit_ok(acme)
    async with db.connection() as conn:
        await tasks.record_login(conn, uuid.UUID(task_id), True, False, True)

    await sign_in(dashboard, served, acme.key)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")
    facts = dashboard.locator("dl.facts")
    await expect(facts).to_contain_text("started from its login's kept state")
    await expect(facts).to_contain_text("direct")


@pytest.mark.usefixtures("login")
async def test_the_automation_page_lists_kept_sessions_and_drops_one(
    dashboard: Page, served: Served, acme: Account, db: Database, sealer: Sealer
) -> None:
    login = f"user-{uuid.uuid4().hex[:8]}"
    async with db.connection() as conn:
        await sessions.save_state(conn, sealer, acme.id, "login", {"username": [login]}, STATE, uuid.uuid4())

    await sign_in(dashboard, served, acme.key)
    await dashboard.goto(f"{served.url}/automations/login")
    await expect(dashboard.get_by_text("Defaults of its tasks: no warm sessions · direct")).to_be_visible()
    kept = dashboard.get_by_role("region", name="Kept sessions")
    row = kept.locator("tr", has_text=login)
    await expect(row).to_have_count(1)
    await row.get_by_role("button", name="Drop").click()
    await expect(row).to_have_count(0)
    async with db.connection() as conn:
        assert await sessions.list_sessions(conn, acme.id, 3600) == []


@pytest.mark.usefixtures("login")
async def test_the_proxies_page_saves_lists_and_deletes_without_showing_the_password(
    dashboard: Page, served: Served, acme: Account
) -> None:
    await sign_in(dashboard, served, acme.key)
    await dashboard.get_by_role("link", name="Proxies").click()
    await dashboard.get_by_label("Name", exact=True).fill("office")
    await dashboard.get_by_label("URL").fill("http://acme:pr0xy-dash-pw@proxy.example:3128")
    await dashboard.get_by_label("Bypass").fill("intranet.example, 10.0.0.0/8")
    await dashboard.get_by_role("button", name="Save proxy").click()
    row = dashboard.locator("tr[data-proxy=office]")
    await expect(row).to_contain_text("http://acme@proxy.example:3128")
    await expect(row).to_contain_text("intranet.example, 10.0.0.0/8")
    assert "pr0xy-dash-pw" not in await dashboard.content()
    dashboard.on("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Delete proxy office").click()
    await expect(row).to_have_count(0)
