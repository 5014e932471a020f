"""A task that waits for a 2FA code, end to end: `rebrowse serve`, its worker, the task page and POST /messages."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Page, expect

from rebrowse.demo.site import SiteServer
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import put, sign_in, submit
from tests.waiting import eventually


def two_fa_sign_in(site: SiteServer, nonce: str, code: str) -> dict[str, Any]:
    """two_fa.html: ask for a code, wait for it by SMS, type it, verify, read the status."""
    sms = {"type": "sms_two_fa_action", "from_number": "+15550100", "to_number": "{who[0]}"}
    read = {"command": 'locator("#status")', "extraction_format": {"status": "str"}, "output_variable_name": "status"}
    nodes: list[dict[str, Any]] = [
        {"interaction_action": {"click_element": {"command": 'locator("#send")'}}},
        {"extraction_action": {"two_fa_action": {"action": sms, "output_variable_name": "otp", "max_wait_time": 120}}},
        {"interaction_action": {"input_text": {"command": 'locator("#code")', "input_text": "{otp[0]}"}}},
        {"interaction_action": {"click_element": {"command": 'locator("#verify")'}}},
        {"extraction_action": {"locator": read}},
    ]
    return {
        "url": f"{site.url}/two_fa.html?request={nonce}&expect={code}",
        "parameters": {"input_parameters": {"who": ["+15550199"]}},
        "nodes": [{"type": "action_node", **node} for node in nodes],
    }


async def test_the_task_page_says_what_it_waits_for_until_the_code_arrives(
    dashboard: Page, served: Served, site: SiteServer
) -> None:
    name = f"two_fa_{uuid.uuid4().hex[:8]}"
    put(served, name, two_fa_sign_in(site, uuid.uuid4().hex, "318604"))
    task_id = submit(served, name, "+15550199")
    await sign_in(dashboard, served)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")
    waiting = dashboard.locator("#task-waiting")
    await expect(waiting).to_have_text("Waiting for a 2FA code by sms from +15550100 to +15550199…", timeout=90_000)
    message = {"channel": "sms", "from": "+1 555 0100", "to": "+15550199", "text": "Your code: 318604"}
    assert served.api.post("/api/v1/messages", json=message).status_code == 201
    await eventually(lambda: served.api.get(f"/api/v1/tasks/{task_id}").json()["status"] == "success", timeout_s=60)
    task = served.api.get(f"/api/v1/tasks/{task_id}").json()
    assert {"status": "Verified"} in [entry.get("json_data") for entry in task["output_data"]]
    assert task["waiting_for"] is None
    await expect(waiting).to_be_hidden()
