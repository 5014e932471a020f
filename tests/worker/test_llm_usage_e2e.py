"""A task whose run asks a model, end to end: a real worker, Chromium, the test's OpenAI-compatible server; what
the calls cost reaches the task record, its steps, its callback and /metrics.

It needs the llm_query step (misc_action.llm_query): until that is merged, the automation is refused at upload.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rebrowse.demo.site import SiteServer
from rebrowse.llm.config import LlmConfig
from rebrowse.observability.metrics import LLM_FIELDS, read_figures
from rebrowse.queue.app import abort
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import running_sender, serving_receiver
from tests.llm_server import Call, ChatServer, chat_server, output_tool, tokens_of
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers, automation_json

__all__ = ["chat_server"]

ANSWER = {"greeting": "Dear ada, your invoice is ready"}


def asking_automation(site: SiteServer) -> dict[str, Any]:
    """The worker tests' small automation, then one question to the model about its input."""
    definition = automation_json(site)
    query = {
        "prompt_instructions": "Write a one-line greeting for {who[0]}",
        "output_format": {"greeting": "str"},
        "output_variable_names": ["greeting"],
    }
    definition["nodes"].append({"type": "action_node", "misc_action": {"llm_query": query}})
    return definition


def read_steps(path: Path) -> list[dict[str, Any]]:
    """The step records the run has written so far (a line being written is not one yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


async def test_a_tasks_model_calls_reach_its_record_steps_callback_and_metrics(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database, sealer: Sealer, chat_server: ChatServer
) -> None:
    chat_server.script = lambda request: Call(output_tool(request), ANSWER)
    settings = {"REBROWSE_LLM_BASE_URL": chat_server.base_url, "REBROWSE_LLM_MODEL": "test-model"}
    await tenant.put("greet", asking_automation(site))
    async with serving_receiver() as receiver, running_sender(db, sealer):
        worker = await workers.start("w1", llm=LlmConfig.from_env(settings))
        task = await tenant.submit("greet", {"who": ["ada"]}, callback_url=receiver.url)
        done = await tenant.wait_terminal(task.id, timeout_s=120)
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")

    assert done.status == "success", done.error
    # What the server was asked and answered, counted as it counts tokens.
    asked = chat_server.requests
    expected = {
        "calls": 1,
        "failed_calls": 0,
        "input_tokens": sum(tokens_of(json.dumps(request["messages"])) for request in asked),
        "output_tokens": tokens_of(json.dumps(ANSWER)) * len(asked),
        "requests": len(asked),
    }
    assert expected["input_tokens"] > 0
    assert done.llm_usage == expected
    assert receiver.received[0].payload["llm_usage"] == expected

    [asking] = [
        step for step in read_steps(worker.settings.artifacts / str(task.id) / "steps.jsonl") if step["llm_calls"]
    ]
    [call] = asking["llm_calls"]
    assert (call["model"], call["error"]) == ("openai:test-model", None)
    assert (call["input_tokens"], call["output_tokens"]) == (expected["input_tokens"], expected["output_tokens"])
    assert "Dear ada" in (call["decision"] or "")

    async with db.connection() as conn:
        figures = await read_figures(conn)
    assert figures.llm["greet"] == {name: expected[name] for name in LLM_FIELDS}


async def test_a_task_cancelled_after_asking_keeps_what_its_calls_cost(
    tenant: Tenant, workers: Workers, site: SiteServer, chat_server: ChatServer
) -> None:
    chat_server.script = lambda request: Call(output_tool(request), ANSWER)
    settings = {"REBROWSE_LLM_BASE_URL": chat_server.base_url, "REBROWSE_LLM_MODEL": "test-model"}
    definition = asking_automation(site)
    definition["nodes"].append({"type": "action_node", "sleep_action": {"sleep_time": 60}})
    await tenant.put("greet_slowly", definition)
    worker = await workers.start("w1", llm=LlmConfig.from_env(settings))
    task = await tenant.submit("greet_slowly", {"who": ["ada"]})

    # The asking step has ended: the run is in its pause, where the cancel stops it.
    steps_file = worker.settings.artifacts / str(task.id) / "steps.jsonl"
    await eventually(lambda: any(step["llm_calls"] for step in read_steps(steps_file)), timeout_s=120, what="an answer")
    running = await tenant.wait_for(task.id, lambda t: t.status == "running")
    await abort(tenant.queue, running)
    cancelled = await tenant.wait_terminal(task.id)

    assert cancelled.status == "cancelled"
    # No engine result comes back from a cancelled run: the worker counted the calls of the steps that ended.
    assert cancelled.llm_usage is not None
    assert (cancelled.llm_usage["calls"], cancelled.llm_usage["requests"]) == (1, len(chat_server.requests))
    assert cancelled.llm_usage["input_tokens"] == tokens_of(json.dumps(chat_server.requests[0]["messages"]))
