"""`rebrowse serve` as a user runs it: a real process with its embedded PostgreSQL, driven by the CLI."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from rebrowse.cli import app as cli
from rebrowse.cli.server import demo_portal, server_settings
from rebrowse.store.embedded import embedded_running
from tests.serving import ADMIN_KEY, STOP_DEADLINE_S, Served, serve
from tests.waiting import until


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve("--demo") as running:
        yield running


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
    status = served.cli("status", task_id, "--json")
    assert json.loads(status.stdout)["status"] == "success"
    readable = served.cli("status", task_id)
    assert "status: success" in readable.stdout and "Invoice 1042 - Acme Robotics" in readable.stdout
    table = served.cli("tasks", "--status", "success", env={"COLUMNS": "60"})
    assert task_id in table.stdout  # whole, even on a narrow terminal
    listed = served.cli("tasks", "--json")
    assert task_id in [t["task_id"] for t in json.loads(listed.stdout)]


def test_cancel_and_version_from_the_cli(served: Served) -> None:
    version = served.cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("rebrowse ")
    queued = served.cli("submit", "demo_portal_search", "-p", "query=cancelled-from-cli")
    task_id = queued.stdout.strip()
    cancelled = served.cli("cancel", task_id)
    assert cancelled.returncode == 0 and task_id in cancelled.stdout, cancelled.stderr
    with served.client() as client:
        until(lambda: client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "cancelled", what="the cancel")
    again = served.cli("cancel", "00000000-0000-0000-0000-000000000000")
    assert again.returncode == 2 and "not found" in again.stderr.lower()


def test_submit_passes_session_and_proxy_choices_to_the_api(served: Served) -> None:
    queued = served.cli(
        "submit",
        "demo_portal_search",
        "-p",
        "query=sticky",
        "--reuse-session",
        "--no-use-proxy",
        "--proxy-session-id",
        "sticky-7",
    )
    assert queued.returncode == 0, queued.stderr
    with served.client() as client:
        task = client.get(f"/api/v1/tasks/{queued.stdout.strip()}").json()
    assert (task["reuse_session"], task["use_proxy"], task["proxy_session_id"]) == (True, False, "sticky-7")


def test_submit_says_what_the_api_refuses_in_its_proxy_choices(served: Served) -> None:
    # The test server has no upstream proxy: asking for one is refused, naming the field.
    refused = served.cli("submit", "demo_portal_search", "--use-proxy")
    assert refused.returncode == 2
    assert "use_proxy" in refused.stderr and "no proxy is configured" in refused.stderr
    bad_id = served.cli("submit", "demo_portal_search", "--proxy-session-id", "has space")
    assert bad_id.returncode == 2 and "proxy_session_id" in bad_id.stderr


def test_submit_suggests_the_input_it_looks_like(served: Served) -> None:
    typo = served.cli("submit", "demo_portal_search", "-p", "qurey=invoice")
    assert typo.returncode == 2
    assert typo.stderr.splitlines() == [
        "error: input_parameters.qurey: not declared by the automation (did you mean `query`?)"
    ]


def test_an_unreachable_api_is_named(served: Served) -> None:
    missed = served.cli("tasks", env={"REBROWSE_URL": "http://127.0.0.1:9"})
    assert missed.returncode == 1
    assert "cannot reach the API at http://127.0.0.1:9" in missed.stderr and "Traceback" not in missed.stderr


def test_automations_and_keys_from_the_cli(served: Served, tmp_path: Path) -> None:
    automation = tmp_path / "noop.json"
    automation.write_text(json.dumps({"url": "about:blank", "parameters": {}, "nodes": []}))
    pushed = served.cli("automations", "push", "noop", str(automation), "--description", "does nothing")
    assert pushed.returncode == 0, pushed.stderr
    assert "noop version 1" in pushed.stdout
    shown = served.cli("automations", "show", "noop")
    assert json.loads(shown.stdout)["description"] == "does nothing"
    listed = served.cli("automations", "list", "--json")
    assert "noop" in [a["endpoint_name"] for a in json.loads(listed.stdout)]
    assert served.cli("automations", "delete", "noop").returncode == 0
    assert "noop" not in served.cli("automations", "list").stdout
    missing = served.cli("automations", "delete", "noop")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
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


def test_keys_create_admin_makes_an_admin_key_in_the_servers_database(served: Served) -> None:
    env = {**served.env, "REBROWSE_API_KEY": "", "REBROWSE_URL": "http://127.0.0.1:1"}  # neither is used
    command = [sys.executable, "-m", "rebrowse.cli", "keys", "create", "--admin", "--name", "recovery"]
    made = subprocess.run(
        [*command, "--data-dir", str(served.data_dir)], env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stdout + made.stderr
    value = made.stdout.split(": ")[1].split()[0]
    with served.client(value) as client:
        assert client.post("/api/v1/accounts", json={"name": "globex"}).status_code == 201
        keys = client.get("/api/v1/keys").json()["keys"]
        assert {key["name"]: key["role"] for key in keys if key["revoked_at"] is None}["recovery"] == "admin"
        first = next(key["id"] for key in keys if key["name"] == "admin")
        assert client.delete(f"/api/v1/keys/{first}").status_code == 204
    assert httpx.get(f"{served.url}/api/v1/keys", headers={"x-api-key": ADMIN_KEY}).status_code == 401
    refused = subprocess.run([*command, "--account", "x"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--admin" in refused.stderr


def test_sigterm_stops_everything(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=STOP_DEADLINE_S) == 0
    output = served.process.stdout.read() if served.process.stdout else ""
    assert "Traceback" not in output
    assert ADMIN_KEY not in output  # a key the operator chose is not echoed
    leftovers = subprocess.run(["pgrep", "-f", str(served.data_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


@pytest.mark.parametrize("command", ["worker", "inference"])
def test_a_worker_refuses_a_database_of_its_own(command: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": "", "REBROWSE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, [command], env=env)
    assert result.exit_code == 2
    assert "needs the database the API uses: set DATABASE_URL" in result.output
    assert not (tmp_path / "postgres").exists()  # nothing was started


def test_a_running_serve_in_the_data_dir_is_a_database_to_share(tmp_path: Path) -> None:
    assert not embedded_running(tmp_path)
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "postmaster.pid").write_text(f"{os.getpid()}\n/data\n")
    assert embedded_running(tmp_path)


def test_serve_on_a_busy_port_says_so_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"DATABASE_URL": "", "REBROWSE_DATA_DIR": str(tmp_path)}
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.output and "--port" in result.output
    assert "API key" not in result.output and not (tmp_path / "postgres").exists()


def test_the_demo_portal_keeps_its_port_across_restarts(tmp_path: Path) -> None:
    with demo_portal(tmp_path) as first:
        port = urlsplit(first.url).port
    with demo_portal(tmp_path) as second:
        assert urlsplit(second.url).port == port
        with demo_portal(tmp_path) as third:  # the remembered port is busy: another one, remembered next
            other = urlsplit(third.url).port
            assert other != port
    assert (tmp_path / "demo-portal-port").read_text() == str(other)


def test_logs_are_text_on_a_terminal_unless_asked_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("REBROWSE_LOG_FORMAT", raising=False)
    assert server_settings().log_format == "json"  # pytest's stderr is no terminal
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert server_settings().log_format == "text"
    assert server_settings(log_format="json").log_format == "json"
    monkeypatch.setenv("REBROWSE_LOG_FORMAT", "json")
    assert server_settings().log_format == "json"
