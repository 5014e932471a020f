"""Self-healing end to end: a real worker, Chromium, the test's OpenAI-compatible server. A healed step reaches the
task record and its callback; a task submitted with healing off fails as before, and the model is never asked."""

from __future__ import annotations

from typing import Any

from rebrowse.demo.site import SiteServer
from rebrowse.llm.config import LlmConfig
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import running_sender, serving_receiver
from tests.llm_server import Call, ChatServer, chat_server, output_tool, snapshot_ref
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers

__all__ = ["chat_server"]

OLD_BUTTON = 'locator("#place-order")'  # healing.html was redesigned: this finds nothing
NEW_BUTTON = 'get_by_role("button", name="Place order", exact=True)'


def healed(site: SiteServer) -> dict[str, str]:
    """What the task's record and callback say of the healed step: the old command's failure in words."""
    closest = 'get_by_role("button", name="Place order")'
    error = f"no element matches {OLD_BUTTON} on {site.url}/healing.html; closest by role and name: {closest}"
    return {
        "path": "nodes[0]",
        "failed_command": OLD_BUTTON,
        "error": f"{error} (Locator.click: Timeout 500ms exceeded.)",
        "command": NEW_BUTTON,
    }


def ordering_automation(site: SiteServer) -> dict[str, Any]:
    """The old recording's click on the order button (with its goal), then a read of the page's status."""
    click = {"command": OLD_BUTTON, "prompt_instructions": "Place the order"}
    read = {"command": 'locator("#status")', "extraction_format": {"status": "str"}, "output_variable_name": "status"}
    return {
        "url": f"{site.url}/healing.html",
        "parameters": {},
        "nodes": [
            {
                "type": "action_node",
                "interaction_action": {"click_element": click, "max_tries": 1, "max_timeout_seconds_per_try": 0.5},
            },
            {"type": "action_node", "extraction_action": {"locator": read}},
        ],
        "take_final_screenshot": False,
    }


def pick_the_button(request: dict[str, Any]) -> Call:
    prompt = "\n".join(str(m.get("content")) for m in request["messages"])
    return Call(output_tool(request), {"ref": snapshot_ref(prompt, "button", "Place order"), "reason": "the button"})


def model_settings(chat_server: ChatServer) -> LlmConfig:
    return LlmConfig.from_env({"REBROWSE_LLM_BASE_URL": chat_server.base_url, "REBROWSE_LLM_MODEL": "test-model"})


async def test_a_healed_task_says_so_in_its_record_and_its_callback(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database, sealer: Sealer, chat_server: ChatServer
) -> None:
    chat_server.script = pick_the_button
    await tenant.put("order", ordering_automation(site))
    async with serving_receiver() as receiver, running_sender(db, sealer):
        await workers.start("w1", llm=model_settings(chat_server))
        task = await tenant.submit("order", callback_url=receiver.url)
        done = await tenant.wait_terminal(task.id, timeout_s=120)
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")

    assert done.status == "success", done.error
    assert done.output_data is not None and "ordered s for" in str(done.output_data)
    assert done.healed == [healed(site)]
    assert receiver.received[0].payload["healed"] == [healed(site)]
    assert len(chat_server.requests) == 1


async def test_a_task_submitted_with_healing_off_fails_without_asking_the_model(
    tenant: Tenant, workers: Workers, site: SiteServer, chat_server: ChatServer
) -> None:
    chat_server.script = pick_the_button
    await tenant.put("order", ordering_automation(site))
    await workers.start("w1", llm=model_settings(chat_server))
    task = await tenant.submit("order", healing=False)
    done = await tenant.wait_terminal(task.id, timeout_s=120)

    assert done.status == "failed"
    assert done.error is not None and done.error.endswith(healed(site)["error"])
    assert done.healed == [] and chat_server.requests == []
