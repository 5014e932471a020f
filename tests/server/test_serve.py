"""`rebrowse serve` as a user runs it: a real process with its embedded PostgreSQL, driven by the CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.waiting import free_port

ADMIN_KEY = "rb_test_admin_key_0123456789abcdefghijklmnop"
START_DEADLINE_S = 90.0
STOP_DEADLINE_S = 60.0


@dataclass
class Served:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    env: dict[str, str]

    def cli(self, *args: str, key: str = ADMIN_KEY) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "REBROWSE_URL": self.url, "REBROWSE_API_KEY": key}
        return subprocess.run(
            [sys.executable, "-m", "rebrowse.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )


def wait_until_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"rebrowse serve exited with {process.returncode}"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling a condition with a deadline
    raise AssertionError("rebrowse serve did not become healthy in time")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    data_dir = Path(tempfile.mkdtemp(prefix="rebrowse-serve-test-"))
    port = free_port()
    env = {**os.environ, "REBROWSE_API_KEY": ADMIN_KEY, "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "rebrowse.cli", "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        yield Served(url, data_dir, process, env)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_first_start_takes_the_admin_key_from_the_environment_and_stores_only_its_hash(served: Served) -> None:
    assert httpx.get(f"{served.url}/api/v1/automations", headers={"x-api-key": ADMIN_KEY}).status_code == 200
    assert httpx.get(f"{served.url}/api/v1/automations", headers={"x-api-key": "rb_wrong"}).status_code == 401
    stored = b"".join(p.read_bytes() for p in (served.data_dir / "postgres").rglob("*") if p.is_file())
    assert ADMIN_KEY.encode() not in stored


def test_the_demo_automation_runs_from_the_cli(served: Served) -> None:
    listed = served.cli("automations", "list")
    assert listed.returncode == 0, listed.stderr
    assert "demo_portal_search" in listed.stdout
    run = served.cli("submit", "demo_portal_search", "-p", "query=invoice", "--wait")
    assert run.returncode == 0, run.stdout + run.stderr
    task_id = run.stdout.splitlines()[0].strip()
    result = json.loads(run.stdout[run.stdout.index("{") :])
    assert result["status"] == "success"
    assert {"record_title": "Invoice 1042 - Acme Robotics"} in [o["json_data"] for o in result["output_data"]]
    status = served.cli("status", task_id)
    assert json.loads(status.stdout)["status"] == "success"
    table = served.cli("tasks", "--status", "success")
    assert task_id[:8] in table.stdout


def test_automations_and_keys_from_the_cli(served: Served, tmp_path: Path) -> None:
    automation = tmp_path / "noop.json"
    automation.write_text(json.dumps({"url": "about:blank", "parameters": {}, "nodes": []}))
    pushed = served.cli("automations", "push", "noop", str(automation), "--description", "does nothing")
    assert pushed.returncode == 0, pushed.stderr
    assert "noop version 1" in pushed.stdout
    shown = served.cli("automations", "show", "noop")
    assert json.loads(shown.stdout)["description"] == "does nothing"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"url": "about:blank", "parameters": {}, "nodes": [], "max_retrys": 1}))
    refused = served.cli("automations", "push", "bad", str(bad))
    assert refused.returncode == 2 and "max_retrys" in refused.stderr and "Traceback" not in refused.stderr

    created = served.cli("keys", "create", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key_id, value = created.stdout.split()[1], created.stdout.split(": ")[1].split()[0]
    assert served.cli("automations", "list", key=value).returncode == 0
    assert served.cli("keys", "revoke", key_id).returncode == 0
    denied = served.cli("automations", "list", key=value)
    assert denied.returncode == 1
    assert "api key" in denied.stderr.lower() and "Traceback" not in denied.stderr


def test_sigterm_stops_everything(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=STOP_DEADLINE_S) == 0
    output = served.process.stdout.read() if served.process.stdout else ""
    assert "Traceback" not in output
    assert ADMIN_KEY not in output  # a key the operator chose is not echoed
    leftovers = subprocess.run(["pgrep", "-f", str(served.data_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
