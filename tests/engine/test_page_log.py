"""Each step's record lists what its pages logged to the console and the requests that failed, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

from rebrowse.engine.run import RunResult
from rebrowse.secrets.resolver import SecretResolver
from tests.engine.conftest import Replay, action, automation
from tests.engine.test_extraction import click
from tests.engine.test_security import FakeOnePassword


def type_and_log(text: str) -> list[dict[str, object]]:
    """Type `text` into console.html's message, log it and fetch the missing file, then wait for the answer."""
    typed = {"input_text": {"command": 'get_by_label("Message")', "input_text": text}}
    return [
        action("interaction_action", typed),
        click('locator("#log")'),
        click('get_by_text("fetched 404")'),  # waits for the failed fetch's answer
    ]


def logged(result: RunResult) -> tuple[list[str], list[str]]:
    console = [line for step in result.steps for line in step.console]
    failed = [line for step in result.steps for line in step.failed_requests]
    return console, failed


async def test_a_step_records_console_messages_and_failed_requests(replay: Replay) -> None:
    result = await replay(automation("console.html", type_and_log("hello there")))

    assert result.status == "success", result.error
    console, failed = logged(result)
    assert "log: typed: hello there" in console and "error: could not load the data" in console
    missing = [line for line in failed if line.endswith("/missing-data.json (404)")]
    assert len(missing) == 1 and missing[0].startswith("GET http://127.0.0.1:")
    clicked = result.steps[1]
    assert clicked.console, "the click's own record holds what the click logged"
    steps_file = (Path(result.out_dir) / "steps.jsonl").read_text()
    assert "typed: hello there" in steps_file and "missing-data.json (404)" in steps_file


async def test_a_secret_in_a_console_message_is_masked(replay: Replay) -> None:
    secret = "Console5ecretValue"
    resolver = SecretResolver(onepassword=FakeOnePassword({"op://Vault/site/message": secret}))
    secure = {"message": [{"onepassword": {"vault_name": "Vault", "item_name": "site", "field_name": "message"}}]}
    data = automation("console.html", type_and_log("{message[0]}"), parameters={"secure_parameters": secure})

    result = await replay(data, secrets=resolver)

    assert result.status == "success", result.error
    console, _ = logged(result)
    assert "log: typed: ***" in console
    assert secret not in json.dumps([step.console for step in result.steps])
    assert secret not in (Path(result.out_dir) / "steps.jsonl").read_text()
