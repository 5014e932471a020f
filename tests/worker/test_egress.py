"""The attack on a real deployment: an account's automation makes the worker reach the API's own /metrics
(loopback only, spans every account) and other internal addresses. `rebrowse serve` allows only the automation's
site (and its demo portal): the task fails naming what was denied, its outputs hold nothing of the answer, and
the step view lists what its pages were kept from. `rebrowse run` on a person's machine reaches localhost unless
asked not to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.egress_sites import SECRET, Site, running_site
from tests.serving import Served, serve

TERMINAL = ("success", "failed", "killed", "cancelled")
TASK_DEADLINE_S = 90.0


@pytest.fixture(scope="module")
def allowed() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.fixture(scope="module")
def served(allowed: Site) -> Iterator[Served]:
    env = {"REBROWSE_BROWSER_ALLOW_HOSTS": allowed.host_port, "REBROWSE_LIVE_VIEW": "0"}
    with serve("--demo", env=env) as running:
        yield running


def wait_terminal(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TASK_DEADLINE_S
    while True:
        task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in TERMINAL:
            return task
        assert time.monotonic() < deadline, f"task {task_id} did not end: {task}"
        time.sleep(0.1)  # polling a condition with a deadline


def run_task(served: Served, name: str, automation: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Push the automation, run it once; the ended task and its step records as the API shows them."""
    with served.client() as client:
        pushed = client.put(f"/api/v1/automations/{name}", json={"automation": automation})
        assert pushed.status_code == 200, pushed.text
        submitted = client.post("/api/v1/inference", json={"endpoint_name": name})
        assert submitted.status_code == 202, submitted.text
        task = wait_terminal(client, submitted.json()["task_id"])
        steps = client.get(f"/api/v1/tasks/{task['task_id']}/steps").json()["steps"]
    return task, steps


def test_a_task_cannot_read_the_apis_own_metrics(served: Served, allowed: Site) -> None:
    api = served.url.removeprefix("http://")
    automation = {
        "url": f"{allowed.url}/page?target={served.url}",
        "parameters": {},
        "take_final_screenshot": False,
        "nodes": [
            {
                "type": "action_node",
                "extraction_action": {
                    "locator": {
                        "command": 'locator("#done:not(:empty)")',
                        "extraction_format": {"done": "str"},
                        "output_variable_name": "done",
                    }
                },
            },
            {"type": "action_node", "extraction_action": {"api_call": {"url": f"{served.url}/metrics"}}},
        ],
    }
    task, steps = run_task(served, "egress_metrics", automation)
    assert task["status"] == "failed"
    assert f"(extract.api_call): the egress policy denies {api} (loopback address)" in task["error"]
    assert "REBROWSE_BROWSER_ALLOW_HOSTS" in task["error"]
    assert "# HELP" not in json.dumps(task)  # nothing of the metrics reached the task
    # The page's fetch, image and WebSocket to the API were blocked, and the step view lists them.
    assert [o["json_data"]["done"] for o in task["output_data"]] == ["fetch error, image error, socket error"]
    assert f"http://{api}/fetched (loopback address)" in steps[0]["blocked"]
    assert f"http://{api}/image.png (loopback address)" in steps[0]["blocked"]
    assert steps[1]["blocked"] == []


def test_the_demo_portal_stays_reachable(served: Served) -> None:
    run = served.cli("submit", "demo_portal_search", "-p", "query=invoice", "--wait")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout[run.stdout.index("{") :])["status"] == "success"


def rebrowse_run(automation: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rebrowse.cli", "run", str(automation), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=automation.parent,
    )


def test_rebrowse_run_reaches_localhost_unless_asked_not_to(tmp_path: Path) -> None:
    with running_site() as local:
        automation = tmp_path / "local.json"
        call = {"type": "action_node", "extraction_action": {"api_call": {"url": f"{local.url}/data"}}}
        automation.write_text(json.dumps({"url": f"{local.url}/start", "parameters": {}, "nodes": [call]}))
        reached = rebrowse_run(automation)
        assert reached.returncode == 0, reached.stdout + reached.stderr
        assert SECRET in reached.stdout and "/data" in local.requests
        before = len(local.requests)
        denied = rebrowse_run(automation, "--deny-internal")
        assert denied.returncode == 1
        result = json.loads(denied.stdout)
        assert result["error"].startswith(f"the automation's url: the egress policy denies {local.host_port}")
        assert len(local.requests) == before
        bad_entry = {**os.environ, "REBROWSE_BROWSER_ALLOW_HOSTS": "host:notaport"}
        bad = rebrowse_run(automation, "--deny-internal", env=bad_entry)
        assert bad.returncode == 2 and "REBROWSE_BROWSER_ALLOW_HOSTS" in bad.stderr and "Traceback" not in bad.stderr
