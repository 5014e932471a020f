"""GET /api/v1/tasks/{id}/steps and its screenshot files: the engine's step records, account-scoped."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from rebrowse.engine.artifacts import StepRecord
from rebrowse.llm.client import LlmCall
from rebrowse.settings import ServerSettings
from tests.api.conftest import BASE_URL, Account, submit_ok

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def write_steps(settings: ServerSettings, task_id: str, records: list[StepRecord], *, torn_tail: bool = False) -> Path:
    """The task's artifacts as the engine leaves them: steps.jsonl and the screenshots its records name."""
    out_dir = settings.artifacts / task_id
    (out_dir / "screenshots").mkdir(parents=True)
    lines = [json.dumps(asdict(record)) for record in records]
    for record in records:
        if record.screenshot:
            (out_dir / record.screenshot).write_bytes(PNG)
    (out_dir / "steps.jsonl").write_text("\n".join(lines) + "\n" + ('{"index": 9, "att' if torn_tail else ""))
    return out_dir


def record(index: int, attempt: int, **fields: Any) -> StepRecord:
    return StepRecord(index=index, attempt=attempt, path=f"nodes[{index - 1}]", action="click_element", **fields)


@pytest.mark.usefixtures("login")
async def test_steps_list_every_attempt_with_timing_outcome_and_screenshot(
    acme: Account, settings: ServerSettings
) -> None:
    task_id = await submit_ok(acme)
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}/steps")).json()["steps"] == []
    started = time.time()
    write_steps(
        settings,
        task_id,
        [
            record(
                1,
                1,
                locator='get_by_role("button")',
                started_at=started,
                duration_ms=12.5,
                outcome="failed",
                error="nodes[0] (click_element): not found",
                screenshot="screenshots/step_1_0001.png",
            ),
            record(1, 2, started_at=started + 1, duration_ms=3.0, outcome="success"),
        ],
        torn_tail=True,
    )
    response = await acme.client.get(f"/api/v1/tasks/{task_id}/steps")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task_id"] == task_id and body["status"] == "queued"
    first, second = body["steps"]
    assert (first["attempt"], first["path"], first["action"], first["locator"]) == (
        1,
        "nodes[0]",
        "click_element",
        'get_by_role("button")',
    )
    assert (first["outcome"], first["error"], first["duration_ms"]) == (
        "failed",
        "nodes[0] (click_element): not found",
        12.5,
    )
    assert first["started_at"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(started)))
    assert first["screenshot"] == f"{BASE_URL}/api/v1/tasks/{task_id}/steps/screenshots/step_1_0001.png"
    assert (second["attempt"], second["outcome"], second["screenshot"]) == (2, "success", None)

    shot = await acme.client.get(first["screenshot"].removeprefix(BASE_URL))
    assert (shot.status_code, shot.headers["content-type"], shot.content) == (200, "image/png", PNG)


@pytest.mark.usefixtures("login")
async def test_step_screenshots_are_served_to_their_account_only_and_by_recorded_name(
    acme: Account, other: Account, settings: ServerSettings
) -> None:
    task_id = await submit_ok(acme)
    out_dir = write_steps(settings, task_id, [record(1, 1, screenshot="screenshots/step_1_0001.png")])
    (out_dir / "screenshots" / "unlisted.png").write_bytes(PNG)
    (out_dir / "secret.txt").write_text("not for you")
    base = f"/api/v1/tasks/{task_id}/steps"
    assert (await other.client.get(base)).status_code == 404
    assert (await other.client.get(f"{base}/screenshots/step_1_0001.png")).status_code == 404
    assert (await acme.client.get(f"/api/v1/tasks/{uuid.uuid4()}/steps")).status_code == 404
    for name in ("unlisted.png", "..%2Fsecret.txt", "%2E%2E%2Fsecret.txt"):
        assert (await acme.client.get(f"{base}/screenshots/{name}")).status_code == 404, name
    assert (await acme.client.get(f"{base}/screenshots/step_1_0001.png")).status_code == 200


@pytest.mark.usefixtures("login")
async def test_steps_show_the_model_calls_each_one_asked(acme: Account, settings: ServerSettings) -> None:
    task_id = await submit_ok(acme)
    answered = LlmCall(
        "llm_query", "openai:test-model", input_tokens=812, output_tokens=20, requests=1, latency_ms=640.5
    ).to_json() | {"decision": '{"answer": "3 invoices"}', "requested": None}
    # Answered by the deployment's model although the automation named another.
    refused = LlmCall(
        "llm_query", "openai:test-model", input_tokens=900, requests=3, latency_ms=2100.0, attempts=3
    ).to_json() | {"error": "no valid answer after 3 tries", "requested": "anthropic:claude-sonnet-4-5"}
    # A record written before steps had model calls has no such field: it reads as none.
    old = {name: value for name, value in asdict(record(2, 1)).items() if name != "llm_calls"}
    out_dir = write_steps(settings, task_id, [record(1, 1, llm_calls=[answered, refused])])
    with (out_dir / "steps.jsonl").open("a") as steps:
        steps.write(json.dumps(old) + "\n")

    response = await acme.client.get(f"/api/v1/tasks/{task_id}/steps")

    assert response.status_code == 200, response.text
    first, second = response.json()["steps"]
    assert first["llm_calls"] == [answered, refused]
    assert second["llm_calls"] == []
