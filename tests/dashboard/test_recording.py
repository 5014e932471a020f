"""New recording in the dashboard: a worker slot's browser on a fixture page, driven from the page's live view
(noVNC sends real key and pointer events through the API's bridge), the steps appearing as they are recorded, then
the draft edited (rename, make secret, delete, reorder) and saved as an automation version."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from rebrowse.demo.site import SiteServer
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import sign_in

WAIT_MS = 90_000


async def test_record_in_the_page_edit_the_draft_and_save_it(dashboard: Page, served: Served, site: SiteServer) -> None:
    await sign_in(dashboard, served)
    await dashboard.get_by_role("link", name="New recording").click()
    await dashboard.get_by_label("Start URL").fill(f"{site.url}/form.html")
    await dashboard.get_by_role("button", name="Start recording").click()
    await expect(dashboard).to_have_url(re.compile(r"/recordings/[0-9a-f-]{36}$"))
    await expect(dashboard.locator("#live-status")).to_contain_text("you are recording", timeout=WAIT_MS)
    await expect(dashboard.locator("#live-screen")).to_have_attribute("data-interactive", "true")
    steps = dashboard.locator("#recorded-steps")
    await expect(steps).to_contain_text("navigate", timeout=WAIT_MS)

    # Drive the recording browser through the live view: a click below the form, then the keyboard.
    canvas = dashboard.locator("#live-screen canvas")
    box = await canvas.bounding_box()
    assert box is not None
    await canvas.click(position={"x": box["width"] / 2, "y": box["height"] - 10})
    name, email = f"Ada {uuid.uuid4().hex[:8]}", f"ada-{uuid.uuid4().hex[:8]}@example.com"
    await dashboard.keyboard.press("Tab")
    await dashboard.keyboard.type(name)
    await expect(steps).to_contain_text(f'type "{name}"', timeout=WAIT_MS)
    await dashboard.keyboard.press("Tab")
    await dashboard.keyboard.type(email)
    await expect(steps).to_contain_text(f'type "{email}"', timeout=WAIT_MS)

    await dashboard.get_by_role("button", name="Stop").click()
    parameters = dashboard.locator("#draft-parameters")
    await expect(parameters).to_contain_text("full_name", timeout=WAIT_MS)
    nodes = dashboard.locator("#draft-nodes > li")
    before = await nodes.count()
    assert before >= 2

    await dashboard.get_by_label("New name for full_name").fill("person")
    await parameters.locator('tr[data-parameter="full_name"]').get_by_role("button", name="Rename").click()
    await expect(parameters).to_contain_text("person")
    # Run once, unsaved, with the values recorded: a task of its own.
    await dashboard.get_by_role("button", name="Run once").click()
    await expect(dashboard.locator("#draft-run")).to_have_text("see the task")
    run = await dashboard.locator("#draft-run").get_attribute("href")
    assert run is not None
    await parameters.locator('tr[data-parameter="email"]').get_by_role("button", name="Make secret").click()
    await expect(parameters.locator('tr[data-parameter="email"]')).to_contain_text("secret: each run passes it")
    await dashboard.get_by_role("button", name="Delete step 1").click()  # the click that focused the page
    await expect(nodes).to_have_count(before - 1)
    last = before - 1
    typed_email = nodes.nth(last - 1)
    await expect(typed_email).to_contain_text("{email[0]}")
    await dashboard.get_by_role("button", name=f"Move step {last} up").click()
    await expect(nodes.nth(last - 2)).to_contain_text("{email[0]}")

    endpoint = f"recorded_{uuid.uuid4().hex[:8]}"
    await dashboard.get_by_label("Save as a new version of the automation").fill(endpoint)
    await dashboard.get_by_role("button", name="Save").click()
    await expect(dashboard).to_have_url(re.compile(f"/automations/{endpoint}$"))
    saved = served.api.get(f"/api/v1/automations/{endpoint}").json()
    await dashboard.goto(f"{served.url}{run}")
    await expect(dashboard.locator("h1 .badge")).to_have_text("success", timeout=WAIT_MS)
    await expect(dashboard.get_by_text("a recording's draft, run once (not saved)")).to_be_visible()
    assert saved["automation"]["parameters"]["input_parameters"] == {"person": [name]}
    assert list(saved["automation"]["parameters"]["secure_parameters"]) == ["email"]
