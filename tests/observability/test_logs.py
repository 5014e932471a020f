"""Structured logs: a real `rebrowse worker` process running a task with a secret, and the formats themselves."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from typer.testing import CliRunner

from rebrowse.cli import app as cli
from rebrowse.demo.site import SiteServer
from rebrowse.observability.logs import JsonFormatter, TextFormatter, configure_logging, log_handler, task_logging
from rebrowse.secrets.redaction import Redactor
from rebrowse.settings import ServerSettings
from rebrowse.store.sealing import Sealer
from tests.waiting import eventually
from tests.worker.conftest import Tenant, automation_json

REPO = Path(__file__).parent.parent.parent
SECRET = "correct-horse-battery-staple"


@dataclass
class WorkerProcess:
    """A `rebrowse worker` process and the file its stderr goes to."""

    process: subprocess.Popen[bytes]
    stderr: Path

    def lines(self) -> list[str]:
        return self.stderr.read_text().splitlines()


@pytest.fixture
def start_worker(database_url: str, sealer_key: bytes, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts `rebrowse worker ARGS...` on the test's database; stops every one afterwards, killing stragglers."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> WorkerProcess:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REBROWSE_LOG_")},
            "DATABASE_URL": database_url,
            "REBROWSE_SECRET_KEY": sealer_key.decode(),
            "REBROWSE_DATA_DIR": str(tmp_path),
            "REBROWSE_WORKER_NAME": f"logs-{len(started)}",
            "REBROWSE_SCREENSHOTS": "never",
            "REBROWSE_BROWSER_ALLOW_HOSTS": "127.0.0.1",  # the fixture site, which the egress policy denies otherwise
        }
        stderr = tmp_path / f"worker-{len(started)}.stderr"
        with stderr.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "rebrowse.cli", "worker", *args],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )
        started.append(process)
        return WorkerProcess(process, stderr)

    try:
        yield start
    finally:
        for process in started:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)  # whatever is left of its group: the Playwright driver, Chromium
            process.wait()


def with_secret(site: SiteServer) -> dict[str, Any]:
    """The worker tests' small automation, plus a step that uses the secure parameter `code`."""
    data = automation_json(site)
    data["parameters"]["secure_parameters"] = {"code": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}]}
    data["nodes"].append(
        {
            "type": "action_node",
            "misc_action": {"set_variable": {"name": "said", "value": "code={code[0]}", "output_variable_name": "s"}},
        }
    )
    return data


def logged(worker: WorkerProcess, task_id: uuid.UUID, event: str) -> Callable[[], bool]:
    return lambda: any(str(task_id) in line and event in line for line in worker.lines())


async def test_a_task_logs_json_lines_with_its_id_and_never_its_secret(
    tenant: Tenant, start_worker: Callable[..., WorkerProcess], site: SiteServer, sealer: Sealer
) -> None:
    await tenant.put("secret", with_secret(site))
    seed = pyotp.random_base32()
    sealed = sealer.seal_json({"code": [{"totp": {"totp_secret": seed, "digits": 8}}]})
    worker = start_worker("--log-level", "debug")

    task = await tenant.submit("secret", sealed_secure=sealed)
    done = await tenant.wait_terminal(task.id)
    await eventually(logged(worker, task.id, "task ended"), timeout_s=30, what="the task's last log line")

    assert done.status == "success", done.error
    lines = worker.lines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "event"} <= entry.keys() for entry in entries)
    # The process's own start line is the only one logged outside the task.
    assert [entry["event"] for entry in entries if "task_id" not in entry] == ["worker started"]
    assert all(entry["task_id"] == str(task.id) for entry in entries if "task_id" in entry)
    runner = [entry for entry in entries if entry["logger"] == "rebrowse.worker.runner"]
    events = [entry["event"] for entry in runner]
    assert events[0] == "task started" and events[-1] == "task ended: success"
    assert "attempt 1 started" in events
    steps = [entry for entry in runner if entry.get("node")]
    assert [entry["node"] for entry in steps] == ["nodes[0]", "nodes[1]", "nodes[2]"]
    assert all(entry["attempt"] == 1 and entry["outcome"] == "success" for entry in steps)
    text = "\n".join(lines)
    totp = pyotp.TOTP(seed, digits=8)
    codes = {totp.at(done.started_at or done.created_at, offset) for offset in (-1, 0, 1)}
    assert seed not in text
    assert not any(code in text for code in codes)


async def test_text_format_is_one_readable_line_per_record(
    tenant: Tenant, start_worker: Callable[..., WorkerProcess], site: SiteServer
) -> None:
    await tenant.put("plain", automation_json(site))
    worker = start_worker("--log-format", "text")

    task = await tenant.submit("plain", {"who": ["ada"]})
    await tenant.wait_terminal(task.id)
    await eventually(logged(worker, task.id, "task ended"), timeout_s=30, what="the task's last log line")

    started = [line for line in worker.lines() if "task started" in line]
    assert len(started) == 1
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO rebrowse\.worker\.runner: task started \[(.*)\]"
    match = re.fullmatch(pattern, started[0])
    assert match is not None, started[0]
    assert f"task_id={task.id}" in match.group(1)
    with pytest.raises(json.JSONDecodeError):
        json.loads(started[0])


@pytest.fixture
def redactor() -> Redactor:
    redactor = Redactor()
    redactor.add(SECRET)
    return redactor


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = log_handler("json", stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"rebrowse.tests.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.propagate = False
    return logger, stream, handler


def test_a_record_in_a_task_carries_its_fields_and_loses_its_secrets(redactor: Redactor) -> None:
    logger, stream, _ = capture(JsonFormatter())
    task_id = uuid.uuid4()

    with task_logging(task_id, redactor) as task_log:
        task_log.attempt = 2
        logger.warning("typed %s into the form", SECRET, extra={"node": "nodes[1]", "detail": f"value {SECRET}"})
        try:
            raise ValueError(f"the site refused {SECRET}")
        except ValueError:
            logger.exception("step failed")
    logger.info("after the task")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # the traceback stays inside its record's line
    assert SECRET not in stream.getvalue()
    typed, failed, after = (json.loads(line) for line in lines)
    assert typed["event"] == "typed *** into the form" and typed["level"] == "warning"
    assert (typed["task_id"], typed["attempt"], typed["node"], typed["detail"]) == (
        str(task_id),
        2,
        "nodes[1]",
        "value ***",
    )
    assert failed["task_id"] == str(task_id)
    assert "ValueError: the site refused ***" in failed["exc"] and "Traceback" in failed["exc"]
    assert "task_id" not in after and "attempt" not in after


def test_text_lines_put_the_fields_after_the_message(redactor: Redactor) -> None:
    logger, stream, _ = capture(TextFormatter())
    task_id = uuid.uuid4()

    with task_logging(task_id, redactor):
        logger.info("signed in as %s", SECRET, extra={"node": "nodes[0]"})

    line = stream.getvalue().rstrip("\n")
    assert line.endswith(f"INFO {logger.name}: signed in as *** [task_id={task_id} node=nodes[0]]"), line


def test_configure_logging_sends_everything_to_one_stderr_handler(capsys: pytest.CaptureFixture[str]) -> None:
    root, ours = logging.getLogger(), logging.getLogger("rebrowse")
    saved = (list(root.handlers), root.level, ours.level)
    try:
        configure_logging("json", "debug")
        logging.getLogger("rebrowse.tests").debug("from rebrowse")
        logging.getLogger("some.library").info("quiet below warning")
        logging.getLogger("some.library").warning("from a library")
        lines = capsys.readouterr().err.splitlines()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        ours.setLevel(saved[2])
    assert [json.loads(line)["event"] for line in lines] == ["from rebrowse", "from a library"]


@pytest.mark.parametrize("command", ["serve", "api", "worker", "inference"])
def test_the_server_commands_take_the_log_options_and_refuse_unknown_values(command: str) -> None:
    runner = CliRunner()
    help_text = runner.invoke(cli, [command, "--help"], env={"COLUMNS": "200"}).output
    assert "--log-format" in help_text and "--log-level" in help_text
    refused = runner.invoke(cli, [command, "--log-format", "xml"])
    assert refused.exit_code == 2
    refused = runner.invoke(cli, [command, "--log-level", "loud"])
    assert refused.exit_code == 2


def test_the_settings_come_from_the_environment_and_name_a_bad_variable() -> None:
    settings = ServerSettings.from_env(
        {"REBROWSE_LOG_FORMAT": "TEXT", "REBROWSE_LOG_LEVEL": "debug", "REBROWSE_METRICS_TOKEN": "t0ken"}
    )
    assert (settings.log_format, settings.log_level, settings.metrics_token) == ("text", "debug", "t0ken")
    defaults = ServerSettings.from_env({})
    assert (defaults.log_format, defaults.log_level, defaults.metrics_token) == ("json", "info", None)
    assert ServerSettings.from_env({"REBROWSE_LOG_FORMAT": "text"}, log_format="json").log_format == "json"
    with pytest.raises(ValueError, match="REBROWSE_LOG_LEVEL"):
        ServerSettings.from_env({"REBROWSE_LOG_LEVEL": "loud"})
