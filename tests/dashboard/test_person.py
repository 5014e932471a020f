"""The task page while a task waits for a person: what to do, the live view made interactive for its owner, and
the Done button that lets the task go on."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import Page, Request, expect

from rebrowse.demo.site import SiteServer
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import sign_in


def person_automation(site: SiteServer) -> dict[str, Any]:
    return {
        "url": f"{site.url}/check.html",
        "parameters": {},
        "nodes": [
            {"type": "action_node", "interaction_action": {"check": {"command": 'locator("#subscribe")'}}},
            {"type": "action_node", "human_in_loop_action": {"max_wait_time": 300, "message": "Approve the order"}},
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


async def test_the_owner_drives_the_waiting_task_and_presses_done(
    dashboard: Page, served: Served, site: SiteServer
) -> None:
    name = f"person_{uuid.uuid4().hex[:8]}"
    put = served.api.put(f"/api/v1/automations/{name}", json={"automation": person_automation(site)})
    assert put.is_success, put.text
    submitted = served.api.post("/api/v1/inference", json={"endpoint_name": name})
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    streams: list[str] = []

    def remember_stream(request: Request) -> None:
        if "/stream" in request.url:
            streams.append(request.url)

    dashboard.on("request", remember_stream)
    await sign_in(dashboard, served)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")

    waiting = dashboard.locator("#task-waiting")
    await expect(waiting).to_contain_text("Waiting for a person: Approve the order", timeout=90_000)
    await expect(waiting).to_contain_text("At nodes[1]")
    await expect(dashboard.locator("#live-status")).to_contain_text("the task waits for you", timeout=60_000)
    await expect(dashboard.locator("#live-screen")).to_have_attribute("data-interactive", "true")
    assert any(url.endswith(f"/api/v1/tasks/{task_id}/stream?control=true") for url in streams)

    await dashboard.get_by_role("button", name="Done").click()
    header = dashboard.get_by_role("heading", level=1)
    await expect(header.locator(".badge")).to_have_text("success", timeout=90_000)
    await expect(waiting).to_be_hidden()
    await expect(dashboard.locator("#task-outputs pre")).to_contain_text('"status": "agree=on subscribe=on"')
    await expect(dashboard.locator("#task-steps")).to_contain_text(re.compile("waited for a person: Approve the order"))
