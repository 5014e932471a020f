"""Awkward secrets travel through URLs, fields, forms, fetches and API calls of a real run, and no form of any of
them reaches an artifact, the task's row, its callback or the worker's log.

The reported leak: a value with a space and one of @!$'()*,;: put into a go_to_url URL was written by Chromium
as `p@ss%20w0rd!Xy9`, a form the redactor did not know, and showed in every output of the task.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rebrowse.demo.site import SiteServer
from rebrowse.observability.logs import log_handler
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import running_sender, serving_receiver
from tests.engine.test_security import aws_endpoint
from tests.secrets.corpus import CORPUS, leaked
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers

__all__ = ["aws_endpoint"]  # the moto fixture, used by the test below

REGION = "eu-west-1"
ARTIFACTS = ("steps.jsonl", "result.json", "output_data.json", "downloads.json")
ONE_TRY = {"max_tries": 1, "max_timeout_seconds_per_try": 2}


def refs(separator: str) -> str:
    """Every secure parameter's placeholder, joined by `separator`."""
    return separator.join(f"{{s{i}[0]}}" for i in range(len(CORPUS)))


def interaction(name: str, payload: dict[str, Any], **wrapper: Any) -> dict[str, Any]:
    return {"type": "action_node", "interaction_action": {name: payload, **wrapper}}


def extraction(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "action_node", "extraction_action": {name: payload}}


def leaky_automation(site: SiteServer, secret_name: str) -> dict[str, Any]:
    """Puts every secret in a URL's path, query and fragment, a field, a GET form, two fetch bodies, API calls,
    an output variable, and last a failing navigation whose error carries the URL."""
    query = "&".join(f"s{i}={{s{i}[0]}}" for i in range(len(CORPUS)))
    source = {"secret_name": secret_name, "region_name": REGION}
    secure = {f"s{i}": [{"amazon_secrets_manager": {**source, "key": f"s{i}"}}] for i in range(len(CORPUS))}
    nodes = [
        interaction("go_to_url", {"url": f"{site.url}/leak/{refs('/')}"}),
        interaction("go_to_url", {"url": f"{site.url}/leak.html?{query}#{refs('|')}"}),
        interaction("input_text", {"command": 'locator("#leak-field")', "input_text": refs(" ")}),
        interaction("click_element", {"command": 'locator("#leak-fetch")'}),
        extraction("network_call", {"url_pattern": "/api/submit", "extract_from": "request"}),
        interaction("click_element", {"command": 'locator("#leak-submit")'}),
        extraction("locator", {"command": 'locator("body")', "extraction_format": {"page": "str"}}),
        extraction("api_call", {"url": f"{site.url}/api/search", "query_params": {"q": refs(" ")}}),
        extraction(
            "api_call",
            {
                "url": f"{site.url}/api/submit",
                "method": "POST",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
                "body": f"a={refs('&b=')}",
                "output_variable_names": ["posted"],
            },
        ),
        {
            "type": "action_node",
            "misc_action": {"set_variable": {"name": "said", "value": refs(" "), "output_variable_name": "said"}},
        },
        # Port 9 on 127.0.0.1 refuses: Chromium's error names the URL as it encoded it.
        interaction("go_to_url", {"url": f"http://127.0.0.1:9/leak/{refs('/')}?{query}"}, **ONE_TRY),
    ]
    return {
        "url": f"{site.url}/leak.html",
        "parameters": {"input_parameters": {}, "secure_parameters": secure},
        "nodes": nodes,
        "take_final_screenshot": True,
        "max_retries": 0,
    }


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, through the handler a worker's entry point installs."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root, ours = logging.getLogger(), logging.getLogger("rebrowse")
    previous_level = ours.level
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        ours.setLevel(previous_level)


async def row_text(db: Database, table: str, key: str, task_id: uuid.UUID) -> str:
    """Every column of the rows, as the database renders them."""
    async with db.connection() as conn:
        rows = await (
            await conn.execute(f"SELECT row_to_json(t)::text AS row FROM {table} t WHERE {key} = %s", (task_id,))
        ).fetchall()
    assert rows, f"no {table} row for {task_id}"
    return "\n".join(str(row["row"]) for row in rows)


async def test_no_form_of_any_secret_leaves_a_real_run(
    tenant: Tenant,
    workers: Workers,
    site: SiteServer,
    db: Database,
    sealer: Sealer,
    aws_endpoint: str,
    captured_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)  # the worker's boto3 finds moto through it
    secret_name = f"rebrowse/leak/{uuid.uuid4().hex}"
    document = {f"s{i}": value for i, value in enumerate(CORPUS)}
    boto3.client("secretsmanager", region_name=REGION, endpoint_url=aws_endpoint).create_secret(
        Name=secret_name, SecretString=json.dumps(document)
    )
    await tenant.put("leaky", leaky_automation(site, secret_name))

    async with serving_receiver() as receiver, running_sender(db, sealer):
        worker = await workers.start("w1")
        task = await tenant.submit("leaky", callback_url=receiver.url, timeout_minutes=3)
        ended = await tenant.wait_terminal(task.id, timeout_s=180)
        await eventually(lambda: len(receiver.received) >= 1, timeout_s=30, what="the callback")

    # The run went the whole way: the secrets reached the site, and the failing step is the one that failed.
    assert ended.status == "failed" and ended.error is not None, ended
    assert ended.error.startswith("nodes[10]"), ended.error
    assert any(CORPUS[0] in json.dumps(entry["fields"], ensure_ascii=False) for entry in site.submissions())
    outputs = json.dumps(ended.output_data)
    assert outputs.count("***") >= len(CORPUS), outputs

    run_dir = worker.settings.artifacts / str(task.id)
    texts = {name: (run_dir / name).read_text() for name in ARTIFACTS}
    texts["task row"] = await row_text(db, "tasks", "id", task.id)
    texts["callback outbox"] = await row_text(db, "callback_events", "task_id", task.id)
    texts["callback body"] = receiver.received[0].body.decode()
    texts["worker log"] = captured_log.getvalue()
    texts["task.error"] = ended.error
    assert "task started" in texts["worker log"]
    for where, text in texts.items():
        assert leaked(text, CORPUS) == [], where

    # The callback links the final screenshot instead of carrying its bytes.
    payload = receiver.received[0].payload
    assert payload["final_screenshot"] is None
    assert payload["final_screenshot_url"].endswith(f"/api/v1/tasks/{task.id}/screenshot")
