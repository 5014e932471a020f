"""complete_task: the terminal status and the callback event are written together, once."""

from __future__ import annotations

import asyncio
import base64

import psycopg
import pytest

from rebrowse import lifecycle
from rebrowse.store import callbacks, tasks
from rebrowse.store.callbacks import CHANNEL
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import PUBLIC_URL, Receiver, finished_task, running_sender, submitted_task
from tests.waiting import eventually

HOOK = "https://hooks.example.com/rebrowse"
HEALED = {"path": "nodes[1]", "failed_command": 'locator("#q")', "error": "Timeout", "command": 'get_by_label("Query")'}


async def events_of(db: Database, task: tasks.Task) -> list[callbacks.EventHistory]:
    async with db.connection() as conn:
        return await callbacks.list_for_task(conn, task.account_id, task.id)


SCREENSHOT = b"\x89PNG fake image bytes"


async def test_payload_has_the_optexity_fields_and_event_identity(db: Database, sealer: Sealer) -> None:
    outcome = tasks.Outcome(
        "success",
        output_data=[{"unique_identifier": "row", "json_data": {"price": 3}}],
        downloads=[
            {"filename": "report 1.pdf", "size": 10, "metadata": {"kind": "report"}},
            {"filename": "b.csv", "size": 3, "metadata": None},
        ],
        final_screenshot="final_screenshot.png",
        llm_usage={"calls": 3, "failed_calls": 1, "input_tokens": 1500, "output_tokens": 90, "requests": 4},
        healed=[HEALED],
        cached_automation="cached_automation.json",
    )
    task = await finished_task(db, sealer, HOOK, outcome, final_screenshot=SCREENSHOT)
    [history] = await events_of(db, task)
    event = history.event
    assert event.state == "pending" and event.url == HOOK and history.attempts == []
    assert (event.give_up_at - event.created_at).total_seconds() == 24 * 3600
    base = f"{PUBLIC_URL}/api/v1/tasks/{task.id}/downloads"
    assert event.payload == {
        "event_id": str(event.id),
        "created_at": event.created_at.isoformat(),
        "task_id": str(task.id),
        "recording_id": "lookup:3",
        "endpoint_name": "lookup",
        "status": "success",
        "error": None,
        "output_data": [{"unique_identifier": "row", "json_data": {"price": 3}}],
        "downloads": [
            {"url": f"{base}/report%201.pdf", "filename": "report 1.pdf"},
            {"url": f"{base}/b.csv", "filename": "b.csv"},
        ],
        "downloads_with_metadata": [
            {"url": f"{base}/report%201.pdf", "filename": "report 1.pdf", "metadata": {"kind": "report"}},
            {"url": f"{base}/b.csv", "filename": "b.csv", "metadata": None},
        ],
        # A link by default: the bytes may show what was typed into the page.
        "final_screenshot": None,
        "final_screenshot_url": f"{PUBLIC_URL}/api/v1/tasks/{task.id}/screenshot",
        "input_parameters": {"user": ["ada"], "query": ["x"]},
        "unique_parameter_names": ["user"],
        # rebrowse's addition: what the task's LLM calls cost.
        "llm_usage": {"calls": 3, "failed_calls": 1, "input_tokens": 1500, "output_tokens": 90, "requests": 4},
        # rebrowse's addition: the steps whose failed command the model replaced.
        "healed": [HEALED],
        # rebrowse's addition: the automation with the model's steps made deterministic.
        "cached_automation_url": f"{PUBLIC_URL}/api/v1/tasks/{task.id}/cached_automation",
    }


@pytest.mark.parametrize("include", [False, True])
async def test_a_receiver_gets_the_screenshots_link_and_its_bytes_only_when_the_submission_asked(
    db: Database, sealer: Sealer, receiver: Receiver, include: bool
) -> None:
    outcome = tasks.Outcome("success", final_screenshot="final_screenshot.png")
    async with running_sender(db, sealer):
        task = await finished_task(
            db, sealer, receiver.url, outcome, final_screenshot=SCREENSHOT, callback_include_screenshot=include
        )
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")
    payload = receiver.received[0].payload
    assert payload["final_screenshot"] == (base64.b64encode(SCREENSHOT).decode() if include else None)
    assert payload["final_screenshot_url"] == f"{PUBLIC_URL}/api/v1/tasks/{task.id}/screenshot"


async def test_without_metadata_or_screenshot_those_fields_are_plain(db: Database, sealer: Sealer) -> None:
    outcome = tasks.Outcome(
        "failed",
        error="node 2: element not found",
        downloads=[{"filename": "a.txt", "size": 1, "metadata": None}],
        final_screenshot="final_screenshot.png",  # the worker handed over no bytes (it had none)
    )
    task = await finished_task(db, sealer, HOOK, outcome)
    [history] = await events_of(db, task)
    payload = history.event.payload
    assert "downloads_with_metadata" not in payload
    assert payload["final_screenshot"] is None and payload["output_data"] is None
    assert (payload["status"], payload["error"]) == ("failed", "node 2: element not found")
    # A run that asked no model: zeros, so receivers can always add the figures up.
    assert payload["llm_usage"] == {"calls": 0, "failed_calls": 0, "input_tokens": 0, "output_tokens": 0, "requests": 0}


async def test_the_first_ending_wins_and_queues_one_event(db: Database, sealer: Sealer) -> None:
    task = await submitted_task(db, sealer, HOOK, api_key="receiver-key")
    cancelled = tasks.Outcome("cancelled", error="Task cancelled by user")
    done = await lifecycle.complete_task(db, sealer, task.id, cancelled, public_url=PUBLIC_URL)
    assert done is not None and done.status == "cancelled" and done.completed_at is not None
    late = await lifecycle.complete_task(db, sealer, task.id, tasks.Outcome("success"), public_url=PUBLIC_URL)
    assert late is None
    [history] = await events_of(db, task)
    assert history.event.payload["status"] == "cancelled"
    # The callback key travels sealed: the outbox holds ciphertext that opens to the key.
    assert history.event.api_key is not None and b"receiver-key" not in history.event.api_key
    assert sealer.open_json(history.event.api_key) == "receiver-key"


async def test_a_task_without_callback_url_queues_nothing(db: Database, sealer: Sealer) -> None:
    task = await finished_task(db, sealer, None)
    assert task.status == "success"
    assert await events_of(db, task) == []


async def test_senders_are_notified_when_the_transaction_commits(db: Database, sealer: Sealer) -> None:
    task = await submitted_task(db, sealer, HOOK)
    async with await psycopg.AsyncConnection.connect(db.url, autocommit=True) as listener:
        await listener.execute(f"LISTEN {CHANNEL}")
        await lifecycle.complete_task(db, sealer, task.id, tasks.Outcome("killed"), public_url=PUBLIC_URL)
        received = [n.channel async for n in listener.notifies(timeout=10, stop_after=1)]
    assert received == [CHANNEL]


async def test_concurrent_endings_queue_exactly_one_event(db: Database, sealer: Sealer) -> None:
    task = await submitted_task(db, sealer, HOOK)
    outcomes = [tasks.Outcome("success"), tasks.Outcome("failed", error="x"), tasks.Outcome("cancelled")]
    results = await asyncio.gather(
        *(lifecycle.complete_task(db, sealer, task.id, o, public_url=PUBLIC_URL) for o in outcomes)
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    [history] = await events_of(db, task)
    assert history.event.payload["status"] == winners[0].status
