"""A task that waits for a 2FA code, end to end: `rebrowse serve`, its worker, the task page and POST /messages."""

from __future__ import annotations

import asyncio
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
    await expect(dashboard.locator("#task-done")).to_have_count(0)  # no person can end this wait
    waiting_for = served.api.get(f"/api/v1/tasks/{task_id}").json()["waiting_for"]
    assert (waiting_for["kind"], waiting_for["node"]) == ("two_fa", "nodes[1]")
    assert served.api.post(f"/api/v1/tasks/{task_id}/resume").status_code == 409
    assert served.api.get(f"/api/v1/tasks/{task_id}/stream", params={"control": "true"}).status_code == 409
    message = {"channel": "sms", "from": "+1 555 0100", "to": "+15550199", "text": "Your code: 318604"}
    assert served.api.post("/api/v1/messages", json=message).status_code == 201
    await eventually(lambda: served.api.get(f"/api/v1/tasks/{task_id}").json()["status"] == "success", timeout_s=60)
    task = served.api.get(f"/api/v1/tasks/{task_id}").json()
    assert {"status": "Verified"} in [entry.get("json_data") for entry in task["output_data"]]
    assert task["waiting_for"] is None
    await expect(waiting).to_be_hidden()


async def test_message_sources_are_set_shown_without_secrets_and_removed(dashboard: Page, served: Served) -> None:
    await sign_in(dashboard, served)
    await dashboard.get_by_role("link", name="2FA messages").click()
    await expect(dashboard.get_by_role("heading", name="2FA messages", level=1)).to_be_visible()
    await expect(dashboard.locator("#twilio-webhook")).to_contain_text("/api/v1/messages/twilio/")
    mailbox = dashboard.get_by_role("form", name="Set the IMAP mailbox")
    await mailbox.get_by_label("Host").fill("imap.example.test")
    await mailbox.get_by_label("User name").fill("codes@example.test")
    await mailbox.get_by_label("Password").fill("dashboard-secret-pw")
    await mailbox.get_by_role("button", name="Save IMAP mailbox").click()
    row = dashboard.locator("tr[data-kind=imap]")
    await expect(row).to_contain_text("codes@example.test at imap.example.test:993 (tls), INBOX")
    assert "dashboard-secret-pw" not in await dashboard.content()
    await mailbox.get_by_label("Port").fill("0")
    await mailbox.get_by_label("Password").fill("x")
    await mailbox.get_by_label("User name").fill("x")
    await mailbox.get_by_label("Host").fill("x")
    await mailbox.get_by_role("button", name="Save IMAP mailbox").click()
    # The browser's own check refuses port 0 before the API sees it: the saved mailbox is unchanged.
    await expect(row).to_contain_text("codes@example.test")
    dashboard.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await row.get_by_role("button", name="Remove IMAP mailbox").click()
    await expect(row).to_have_count(0)
    sources = served.api.get("/api/v1/accounts/current/message-sources").json()["sources"]
    assert [source["kind"] for source in sources] == []
