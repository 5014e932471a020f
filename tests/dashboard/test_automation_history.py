"""An automation's page over time, in Chromium on a real `rebrowse serve`: the run form and JSON in written order,
runs per day, a diff of two versions, a rollback and a deletion (each confirmed), at desktop and phone widths."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import Dialog, Page, expect

from rebrowse.demo.site import SiteServer
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import accept, automation, fits, fits_as_shown, sign_in
from tests.waiting import eventually

OTHER_SEED = "GEZDGNBVGY3TQOJQ"


def written(site: SiteServer, url: str | None = None) -> dict[str, Any]:
    """The page tests' automation with parameters declared in an order neither alphabetical nor jsonb's."""
    definition = automation(site, pause_s=0)
    secure = definition["parameters"]["secure_parameters"]
    definition["parameters"] = {
        "input_parameters": {"zeta": ["z"], "alpha": ["a"], "who": ["nobody"]},
        "secure_parameters": {"zz_otp": [{"totp": {"totp_secret": OTHER_SEED}}], **secure},
    }
    return {**definition, "url": url or definition["url"]}


def ran(served: Served, name: str) -> str:
    """Submit a run and return its id (the caller waits for its end)."""
    body = {"endpoint_name": name, "input_parameters": {"who": [f"history-{uuid.uuid4().hex[:8]}"]}}
    response = served.api.post("/api/v1/inference", json=body)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def ended_as(served: Served, task_id: str, status: str) -> bool:
    return bool(served.api.get(f"/api/v1/tasks/{task_id}").json()["status"] == status)


async def test_an_automations_page_over_time(dashboard: Page, served: Served, site: SiteServer) -> None:
    name = f"history_{uuid.uuid4().hex[:8]}"
    first = served.api.put(f"/api/v1/automations/{name}", json={"automation": written(site), "description": "works"})
    assert first.status_code == 200, first.text
    succeeded = ran(served, name)
    await eventually(lambda: ended_as(served, succeeded, "success"), timeout_s=120, what="the run to succeed")
    broken = {"automation": written(site, "http://127.0.0.1:1/table.html"), "description": "broken"}
    assert served.api.put(f"/api/v1/automations/{name}", json=broken).status_code == 200
    failed = ran(served, name)
    await eventually(lambda: ended_as(served, failed, "failed"), timeout_s=120, what="the run to fail")

    page = dashboard
    await sign_in(page, served)
    await page.goto(f"{served.url}/automations/{name}")
    run = page.locator("#run")
    await expect(run.locator(".parameter > .field > label")).to_have_text(["zeta", "alpha", "who"])
    await expect(run.locator("legend")).to_have_text(["zz_otp (secure)", "otp (secure)"])
    shown = await page.locator("pre.json").text_content() or ""
    assert shown.index('"zeta"') < shown.index('"alpha"') < shown.index('"who"') < shown.index('"zz_otp"')
    assert shown.index('"url"') < shown.index('"parameters"') < shown.index('"nodes"')

    runs = page.get_by_role("region", name="Runs over time")
    await expect(runs).to_contain_text("Success rate50%")
    await expect(runs.get_by_role("link")).to_have_attribute("href", f"/tasks/{failed}")
    await expect(runs).to_contain_text("(v2)")
    today = runs.locator("svg.runs-chart g").last
    await expect(today.locator("rect.bar-succeeded")).to_have_count(1)
    await expect(today.locator("rect.bar-failed")).to_have_count(1)

    versions = page.get_by_role("region", name="Versions")
    await expect(versions.get_by_label("Compare from v1")).to_be_checked()
    await expect(versions.get_by_label("Compare to v2")).to_be_checked()
    await versions.get_by_role("button", name="Show the diff").click()
    await expect(versions.locator(".diff-removed")).to_contain_text([f'"url": "{site.url}/table.html"'])
    await expect(versions.locator(".diff-added")).to_contain_text(['"url": "http://127.0.0.1:1/table.html"'])
    await expect(versions.locator("ul.changes")).to_contain_text('description: "works" → "broken"')
    for width, height in ((1280, 800), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await fits_as_shown(page, f"/automations/{name} with a diff")

    asked: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    roll_back = versions.get_by_role("row", name=re.compile(r"\bv1\b")).get_by_role("button")
    page.once("dialog", dismiss)
    await roll_back.click()
    await eventually(lambda: len(asked) == 1, what="the rollback to ask first")
    assert "version 1" in asked[0]
    await expect(page.locator("#main h1")).to_contain_text("v2")
    page.once("dialog", accept)
    await roll_back.click()
    await expect(page.locator("#main h1")).to_contain_text("v3")
    await expect(versions.get_by_role("row", name=re.compile(r"\bv3\b"))).to_contain_text("Rolled back to version 1")
    assert served.api.get(f"/api/v1/automations/{name}").json()["automation"]["url"] == f"{site.url}/table.html"
    await fits(page, f"{served.url}/automations/{name}")

    page.once("dialog", dismiss)
    await page.get_by_role("button", name="Delete automation").click()
    await eventually(lambda: len(asked) == 2, what="the deletion to ask first")
    assert served.api.get(f"/api/v1/automations/{name}").status_code == 200
    page.once("dialog", accept)
    await page.get_by_role("button", name="Delete automation").click()
    await expect(page).to_have_url(re.compile(r"/automations$"))
    await expect(page.locator("#main")).not_to_contain_text(name)
    assert served.api.get(f"/api/v1/automations/{name}").status_code == 404
