"""A task's Playwright trace: served to its account only, listed with its steps, and opened from the task page in
the trace viewer the API serves from the installed Playwright package, offline. The API app runs in-process on a
real port; the trace is a real one, recorded by Playwright on the fixture site."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect

from rebrowse.artifacts.layout import trace_name
from rebrowse.demo.site import SiteServer
from rebrowse.settings import ServerSettings
from tests.api.conftest import Account, submit_ok
from tests.dashboard.conftest import Served
from tests.dashboard.test_fixed_version import open_task
from tests.dashboard.test_healing import served  # noqa: F401 (the API app on a real port)
from tests.test_cli import rebrowse


async def record_trace(browser: Browser, site: SiteServer, path: Path) -> None:
    """A real trace of a click on the fixture site's table page, written where the task's run would keep it."""
    context = await browser.new_context()
    try:
        await context.tracing.start(screenshots=True, snapshots=True)
        page = await context.new_page()
        await page.goto(f"{site.url}/detail.html?id=4")
        await page.locator("#back").click()
        await context.tracing.stop(path=path)
    finally:
        await context.close()


async def traced_task(acme: Account, settings: ServerSettings, browser: Browser, site: SiteServer) -> str:
    task_id = await submit_ok(acme)
    directory = settings.artifacts / task_id
    directory.mkdir(parents=True)
    await record_trace(browser, site, directory / trace_name(1))
    return task_id


@pytest.mark.usefixtures("login")
async def test_the_trace_is_served_to_its_account_and_listed_with_the_steps(
    acme: Account, other: Account, settings: ServerSettings, browser: Browser, site: SiteServer
) -> None:
    untraced = await submit_ok(acme)
    task_id = await traced_task(acme, settings, browser, site)

    got = await acme.client.get(f"/api/v1/tasks/{task_id}/trace")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert any(name.endswith(".trace") for name in zipfile.ZipFile(io.BytesIO(got.content)).namelist())
    steps = (await acme.client.get(f"/api/v1/tasks/{task_id}/steps")).json()
    assert steps["trace"].endswith(f"/api/v1/tasks/{task_id}/trace")
    assert "/trace-viewer/index.html?trace=" in steps["trace_viewer"]

    missing = await acme.client.get(f"/api/v1/tasks/{untraced}/trace")
    assert missing.status_code == 404 and "REBROWSE_TRACE" in missing.json()["detail"]
    assert (await acme.client.get(f"/api/v1/tasks/{untraced}/steps")).json()["trace"] is None
    assert (await other.client.get(f"/api/v1/tasks/{task_id}/trace")).status_code == 404


@pytest.mark.usefixtures("login")
async def test_the_task_page_opens_its_trace_in_the_viewer_offline(
    dashboard: Page,
    served: Served,  # noqa: F811
    acme: Account,
    settings: ServerSettings,
    browser: Browser,
    site: SiteServer,
) -> None:
    task_id = await traced_task(acme, settings, browser, site)
    elsewhere: list[str] = []

    async def only_the_server(route: Route) -> None:
        if route.request.url.startswith(served.url):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await dashboard.route("**/*", only_the_server)
    await open_task(dashboard, served, acme, task_id)
    link = dashboard.get_by_role("link", name="Open the trace")
    href = await link.get_attribute("href")
    assert href is not None and href.startswith("/trace-viewer/index.html?trace=")

    await dashboard.goto(f"{served.url}{href}")
    # The viewer's action list: the trace's navigation and click, loaded with the session's cookie.
    actions = dashboard.locator(".action-title")
    await expect(actions.filter(has_text="Click")).to_have_count(1, timeout=15_000)
    await expect(actions.filter(has_text="Navigate")).not_to_have_count(0)
    assert elsewhere == []


@pytest.mark.usefixtures("login")
async def test_rebrowse_trace_of_a_task_downloads_it_and_prints_the_viewer(
    served: Served,  # noqa: F811
    acme: Account,
    settings: ServerSettings,
    browser: Browser,
    site: SiteServer,
    tmp_path: Path,
) -> None:
    task_id = await traced_task(acme, settings, browser, site)
    args = ("trace", task_id, "--no-open", "--url", served.url, "--api-key", acme.key)

    # In a thread: the API answering it runs on this test's event loop.
    done = await asyncio.to_thread(rebrowse, *args, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    downloaded = re.search(r"^trace (\S+\.zip)$", done.stdout, re.MULTILINE)
    assert downloaded is not None, done.stdout
    try:
        assert zipfile.is_zipfile(downloaded[1])
    finally:
        shutil.rmtree(Path(downloaded[1]).parent)  # the CLI leaves it for the viewer; the test's own to remove
    assert "/trace-viewer/index.html?trace=" in done.stdout
    unknown = await asyncio.to_thread(rebrowse, *args[:1], str(uuid.uuid4()), *args[2:], cwd=tmp_path)
    assert unknown.returncode != 0 and "not found" in unknown.stderr.lower()
