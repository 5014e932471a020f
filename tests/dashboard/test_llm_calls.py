"""The task page shows what a task's LLM calls cost: its totals, and per step each call. The API app runs
in-process on a real port; the task ends through the lifecycle and its steps are the engine's records on disk."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from rebrowse import lifecycle
from rebrowse.llm.client import LlmCall
from rebrowse.settings import ServerSettings
from rebrowse.store import tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import Account, submit_ok
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import sign_in
from tests.dashboard.test_steps import record, write_steps
from tests.serving import serve_app

ANSWERED = LlmCall(
    "llm_query", "openai:test-model", input_tokens=812, output_tokens=20, requests=1, latency_ms=640.4
).to_json() | {"decision": '{"greeting": "Dear ada"}'}
# Answered by the deployment's model although the automation named another.
REFUSED = LlmCall(
    "llm_query", "openai:test-model", input_tokens=900, requests=3, latency_ms=2100.0, attempts=3
).to_json() | {"error": "no valid answer after 3 tries", "requested": "anthropic:claude-sonnet-4-5"}
USAGE = {"calls": 2, "failed_calls": 1, "input_tokens": 1712, "output_tokens": 20, "requests": 4}


@pytest.fixture
async def served(app: FastAPI, acme: Account) -> AsyncIterator[Served]:
    async with serve_app(app) as base:
        url = base.replace("ws://", "http://")
        with httpx.Client(base_url=url, headers={"x-api-key": acme.key}) as client:
            yield Served(url, client)


@pytest.mark.usefixtures("login")
async def test_the_task_page_shows_each_model_call_and_the_totals(
    dashboard: Page,
    served: Served,
    acme: Account,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
) -> None:
    task_id = await submit_ok(acme)
    write_steps(
        settings,
        task_id,
        [
            record(1, 1, outcome="success"),
            record(2, 1, outcome="failed", llm_calls=[ANSWERED, REFUSED]),
        ],
    )
    outcome = tasks.Outcome("failed", error="nodes[1]: no valid answer", llm_usage=USAGE)
    assert await lifecycle.complete_task(db, sealer, uuid.UUID(task_id), outcome, public_url=settings.base_url)

    await sign_in(dashboard, served, acme.key)
    await dashboard.goto(f"{served.url}/tasks/{task_id}")

    summary = dashboard.locator("#task-facts")
    await expect(summary).to_contain_text("2 calls (1 failed), 1712 tokens in, 20 out")
    calls = dashboard.locator("tr.step-llm li")
    await expect(calls).to_have_count(2)
    await expect(calls.nth(0)).to_contain_text("openai:test-model")
    await expect(calls.nth(0)).to_contain_text("llm_query · 812 in / 20 out · 640 ms")
    await expect(calls.nth(0)).to_contain_text('→ {"greeting": "Dear ada"}')
    await expect(calls.nth(1)).to_contain_text("900 in / 0 out · 2100 ms, 3 attempts")
    await expect(calls.nth(1)).to_contain_text("no valid answer after 3 tries")
    await expect(calls.nth(1)).to_contain_text("openai:test-model (instead of anthropic:claude-sonnet-4-5)")
    await expect(calls.nth(0)).not_to_contain_text("instead of")
    # Only the step that asked has a line of calls.
    await expect(dashboard.locator("tr.step-llm")).to_have_count(1)
