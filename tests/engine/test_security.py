"""The security promises: values are never code, secrets never reach disk or logs, scripts only where allowed."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pyotp
import pytest
from moto.server import ThreadedMotoServer
from playwright.async_api import Browser

from rebrowse.automation.loading import load_automation
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.errors import AutomationInvalid
from rebrowse.secrets.resolver import SecretResolver
from tests.engine.conftest import ORIGIN, Replay, action, automation

REGION = "eu-west-1"
FAST = {"max_tries": 1, "max_timeout_seconds_per_try": 0.5}


def injection(marker: Path) -> str:
    """A value that runs a shell command wherever it is pasted into Python source that is then evaluated."""
    return f'") or __import__("os").system("touch {marker}") or ("'


def typed(command: str, text: str, **fields: Any) -> dict[str, Any]:
    return action("interaction_action", {"input_text": {"command": command, "input_text": text, **fields}})


def click(command: str, **fields: Any) -> dict[str, Any]:
    return action("interaction_action", {"click_element": {"command": command}, **fields})


def set_variable(name: str, expression: str) -> dict[str, Any]:
    payload = {"set_variable": {"name": name, "expression": expression, "output_variable_name": name}}
    return action("misc_action", payload)


def read_text(command: str, name: str) -> dict[str, Any]:
    payload = {"locator": {"command": command, "output_variable_name": name, "extraction_format": {name: "str"}}}
    return action("extraction_action", payload)


def outputs(result: RunResult) -> dict[str, Any]:
    """Every output of a run merged into one dict."""
    merged: dict[str, Any] = {}
    for entry in result.output_data:
        merged.update(entry.get("json_data") or {})
    return merged


def submission_with(site: SiteServer, field: str, value: str) -> dict[str, Any]:
    """The fields of the one submission whose `field` holds `value`."""
    found = [s for s in site.submissions() if s["fields"].get(field) == value]
    assert len(found) == 1, f"expected one submission with {field}={value!r}, got {len(found)}"
    fields: dict[str, Any] = found[0]["fields"]
    return fields


# ---------------------------------------------------------------------------------------------------------
# 1. An input value is data everywhere: typed text, locator argument, condition, expression


async def test_injection_value_is_typed_matched_and_compared_literally(
    replay: Replay, site: SiteServer, tmp_path: Path
) -> None:
    marker = tmp_path / "MARKER"
    value = injection(marker)
    email = f"{uuid.uuid4().hex}@example.com"
    nodes = [
        typed('locator("#full-name")', "{name[0]}"),
        typed('locator("#notes")', "{name[0]}", fill_or_type="type"),
        typed('locator("#email")', "{email[0]}"),
        set_variable("echoed", '"{name[0]}" + "|" + name[0]'),
        {
            "type": "if_else_node",
            "condition": '{name[0]} == "{name[0]}" and "__import__" in name[0]',
            "if_nodes": [set_variable("branch", '"if"')],
            "else_nodes": [set_variable("branch", '"else"')],
        },
        click('locator("#submit")'),
        read_text('locator("#fields").get_by_text("{name[0]}").first', "by_text_literal"),
        read_text("get_by_text({name[0]}, exact=True).last", "by_text_placeholder"),
    ]
    declared = {"input_parameters": {"name": ["plain"], "email": ["x@example.com"]}}
    data = automation("form.html", nodes, parameters=declared)

    result = await replay(data, inputs={"name": [value], "email": [email]})

    assert result.status == "success", result.error
    received = submission_with(site, "email", email)
    assert received["full_name"] == received["notes"] == value
    found = outputs(result)
    assert found["echoed"] == f"{value}|{value}"
    assert found["branch"] == "if"
    assert found["by_text_literal"] == found["by_text_placeholder"] == value
    assert not marker.exists()


async def test_injection_value_as_a_selector_fails_the_step_cleanly(replay: Replay, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    nodes = [click('locator("{name[0]}")', **FAST), set_variable("after", '"reached"')]
    data = automation("form.html", nodes, parameters={"input_parameters": {"name": [injection(marker)]}})

    result = await replay(data)

    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("nodes[0] (click_element on locator(")
    assert [step.outcome for step in result.steps] == ["failed"]
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------
# 2. Secrets from every source are typed into the page and never written anywhere


class FakeOnePassword:
    """Stands in for 1Password's cloud (unreachable here): answers references from a dict."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields

    async def resolve(self, reference: str) -> str:
        return self.fields[reference]


@pytest.fixture
def aws_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """moto's Secrets Manager on 127.0.0.1, reached with dummy credentials and no config of the machine."""
    empty = tmp_path / "aws-empty"
    empty.touch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def encoded(value: str) -> set[str]:
    """The forms a leaked value could take: raw, JSON-escaped, URL-encoded."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    return forms | {quote(value, safe=""), quote_plus(value, safe="")}


@dataclass
class SecretRun:
    """A run that typed secrets from every source, and what a leak of them would look like."""

    result: RunResult
    out_dir: Path
    received: dict[str, Any]
    aws_password: str
    secrets: set[str]
    # Part of every made-up secret: found in any escaping, however many times a library escapes it.
    token: str

    def leaks_in(self, text: str) -> list[str]:
        """The secrets that `text` reveals."""
        found = sorted(s for s in self.secrets if any(form in text for form in encoded(s)))
        return found + ([f"token {self.token}"] if self.token in text else [])

    def files_with_secrets(self) -> list[str]:
        """Every file of the run that reveals a secret (read as bytes: screenshots and downloads too)."""
        return [
            f"{path.relative_to(self.out_dir)}: {found}"
            for path in sorted(p for p in self.out_dir.rglob("*") if p.is_file())
            if (found := self.leaks_in(path.read_bytes().decode("latin-1")))
        ]


def totp_codes_around_now(seed: str, digits: int) -> set[str]:
    """The codes of the seed for the windows around the run (a run may straddle a 30 s boundary)."""
    otp = pyotp.TOTP(seed, digits=digits)
    now = time.time()
    return {otp.at(int(now) + offset) for offset in (-60, -30, 0, 30)}


def strings_in(data: object) -> Iterator[str]:
    """Every string of JSON-like data, keys included, as the program holds it (not escaped)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings_in(key)
            yield from strings_in(value)
    elif isinstance(data, list | tuple):
        for item in data:
            yield from strings_in(item)


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


async def replay_secret_form(
    replay: Replay, site: SiteServer, aws_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, level: int
) -> SecretRun:
    """Type a secret from each source into form.html, submit it, then fail on a locator naming a secret."""
    token = uuid.uuid4().hex[:12]
    aws_password = f'aws "Pa55/w0rd" & {token}'
    op_email = f"op.user+{token}@example.com"
    seed = pyotp.random_base32()
    secret_name = f"rebrowse/test/{uuid.uuid4().hex}"
    client = boto3.session.Session().client("secretsmanager", region_name=REGION, endpoint_url=aws_endpoint)
    client.create_secret(Name=secret_name, SecretString=json.dumps({"username": "ada", "password": aws_password}))
    aws = {"secret_name": secret_name, "region_name": REGION, "key": "password"}
    secure = {
        "password": [{"amazon_secrets_manager": aws}],
        "email": [{"onepassword": {"vault_name": "Work", "item_name": "Portal", "field_name": "email"}}],
        "otp": [{"totp": {"totp_secret": seed, "digits": 8}}],
    }
    nodes = [
        typed('locator("#full-name")', "{password[0]}"),
        typed('locator("#email")', "{email[0]}"),
        typed('locator("#notes")', "{otp[0]}"),
        click('locator("#submit")'),
        click('get_by_role("button", name="{password[0]}")', **FAST),
    ]
    data = automation("form.html", nodes, parameters={"secure_parameters": secure})
    onepassword = FakeOnePassword({"op://Work/Portal/email": op_email})
    resolver = SecretResolver(aws_endpoint_url=aws_endpoint, onepassword=onepassword)
    out_dir = tmp_path / "run"
    # Set only now: the test's own CreateSecret call above is not the run's to log.
    caplog.set_level(level)

    result = await replay(data, secrets=resolver, screenshots="every_step", trace="never", out_dir=out_dir)

    received = submission_with(site, "email", op_email)
    secrets = {aws_password, op_email, seed, received["notes"], *totp_codes_around_now(seed, 8)}
    return SecretRun(result, out_dir, received, aws_password, secrets, token)


async def test_secrets_reach_the_site_but_never_disk_results_or_logs(
    replay: Replay, site: SiteServer, aws_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = await replay_secret_form(replay, site, aws_endpoint, tmp_path, caplog, logging.INFO)

    assert run.received["full_name"] == run.aws_password
    assert len(run.received["notes"]) == 8 and run.received["notes"] in run.secrets
    assert run.result.status == "failed"
    error = run.result.error or ""
    assert error.startswith('nodes[4] (click_element on get_by_role("button", name="***"))'), error
    assert len(list((run.out_dir / "screenshots").glob("*.png"))) == len(run.result.steps) == 5
    assert (run.out_dir / "steps.jsonl").read_text().count("\n") == 5
    assert run.files_with_secrets() == []
    assert run.leaks_in("\n".join(strings_in(run.result.to_json()))) == []
    assert run.leaks_in(logged_text(caplog)) == []


async def test_a_short_secret_in_a_locator_is_masked_where_text_redaction_cannot_reach(
    replay: Replay, site: SiteServer, tmp_path: Path
) -> None:
    # One character is too short to hunt for inside text, so the locator is described with it masked.
    pin = "0"
    secure = {"pin": [{"onepassword": {"vault_name": "V", "item_name": "I", "field_name": "pin"}}]}
    nodes = [
        typed('locator("#full-name").nth({pin[0]})', "used as an index"),
        click('get_by_role("button", name="{pin[0]}")', **FAST),
    ]
    data = automation("form.html", nodes, parameters={"secure_parameters": secure})
    resolver = SecretResolver(onepassword=FakeOnePassword({"op://V/I/pin": pin}))

    result = await replay(data, secrets=resolver)

    assert result.status == "failed"
    # Shown masked, a number's place could not render: the command is recorded as written instead.
    first, second = result.steps
    assert (first.outcome, first.locator) == ("success", 'locator("#full-name").nth({pin[0]})')
    assert second.locator == 'get_by_role("button", name="***")'
    assert result.error is not None
    assert result.error.startswith('nodes[1] (click_element on get_by_role("button", name="***")): ')
    written = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert [step["locator"] for step in written] == [first.locator, second.locator]


async def test_secrets_stay_out_of_debug_logs(
    replay: Replay, site: SiteServer, aws_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = await replay_secret_form(replay, site, aws_endpoint, tmp_path, caplog, logging.DEBUG)

    assert run.received["full_name"] == run.aws_password
    assert run.leaks_in(logged_text(caplog)) == []


# ---------------------------------------------------------------------------------------------------------
# 3. Python scripts run only where the deployment allows them

SCRIPT = """
async def code_fn(page):
    await page.evaluate("document.getElementById('status').textContent = 'script ran'")
"""


def script_automation() -> dict[str, Any]:
    nodes = [
        {"type": "action_node", "python_script_action": {"execution_code": SCRIPT}},
        read_text('locator("#status")', "status"),
    ]
    return automation("form.html", nodes)


async def test_python_script_is_refused_at_load_unless_allowed(replay: Replay) -> None:
    with pytest.raises(AutomationInvalid) as caught:
        await replay(script_automation())
    assert [e.path for e in caught.value.errors] == ["nodes[0].python_script_action"]
    assert "REBROWSE_ALLOW_PYTHON_SCRIPTS" in caught.value.errors[0].message


async def test_python_script_runs_when_allowed(replay: Replay) -> None:
    result = await replay(script_automation(), allow_python_scripts=True)
    assert result.status == "success", result.error
    assert outputs(result) == {"status": "script ran"}


async def test_engine_refuses_a_script_its_run_options_do_not_allow(
    browser: Browser, site: SiteServer, tmp_path: Path
) -> None:
    # Loaded where scripts were allowed, replayed where they are not: the engine checks again.
    data = script_automation()
    data["url"] = data["url"].replace(ORIGIN, site.url)
    loaded = load_automation(data, allow_python_scripts=True)
    options = RunOptions(out_dir=tmp_path / "run", allow_python_scripts=False)

    result = await run_automation(browser, loaded, options=options)

    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("nodes[0] (python_script)")
    assert "python scripts are disabled" in result.error
    assert outputs(result) == {}
