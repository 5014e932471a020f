"""dynamic_form_mapping_action on a real form: the model (scripted, the only fake) reads the fields, a real HTTP
receiver on 127.0.0.1 maps them to values, and later steps type those values; every way the receiver can fail
fails the step with a clear error, and its key reaches no record."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from rebrowse.automation.loading import load_automation
from rebrowse.browser.egress import EgressPolicy, EgressProxy
from rebrowse.demo.automation import rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.errors import AutomationInvalid
from rebrowse.llm.config import MODEL_SETTING, LlmConfig
from rebrowse.secrets.resolver import SecretResolver
from rebrowse.ssrf import AllowList
from tests.engine.conftest import ORIGIN, Replay, action, automation
from tests.engine.test_extraction import read_text
from tests.engine.test_llm_extraction import Scripted, text_of
from tests.engine.test_security import FakeOnePassword, typed

API_KEY = "fm-key-7d41c9e2b8"
FIELDS = {"fields": ["Patient name", "Member ID", "Number of visits"]}
MAPPING = {"patient_name": "Ada Lovelace", "member_id": "M-1815", "visits": 3}
PNG_SIGNATURE = b"\x89PNG"


@dataclass
class Reply:
    status: int = 200
    body: bytes = json.dumps(MAPPING).encode()


@dataclass
class Receiver:
    """The automation owner's endpoint: records every request, answers `reply`, or holds it until released."""

    url: str
    reply: Reply = field(default_factory=Reply)
    requests: list[dict[str, Any]] = field(default_factory=list)
    hold: bool = False
    released: threading.Event = field(default_factory=threading.Event)


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
            if receiver.hold:
                receiver.released.wait(timeout=30)  # the test's end releases it; the bound keeps teardown finite
            self.send_response(receiver.reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(receiver.reply.body)))
            self.end_headers()
            self.wfile.write(receiver.reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = handler_for(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.released.set()
        server.shutdown()
        server.server_close()
        thread.join()


def form_mapping(url: str, **fields: Any) -> dict[str, Any]:
    callback = fields.pop("callback", {"url": url, "api_key": API_KEY})
    payload = {
        "extraction_instructions": "List the labels of the claim form's fields",
        "extraction_format": {"fields": "List[str]"},
        "callback_url": callback,
        **fields,
    }
    return action("dynamic_form_mapping_action", payload, before_sleep_time=0)


FILL_FORM = [
    typed('locator("#patient-name")', "{form_values[0].patient_name}"),
    typed('locator("#member-id")', "{form_values[0].member_id}"),
    typed('locator("#visits")', "{form_values[0].visits}"),
    read_text('locator("#status")', "status"),
]


def everything_written(result: RunResult) -> str:
    """The run's result and every step record on disk, as one text."""
    return json.dumps(result.to_json()) + (Path(result.out_dir) / "steps.jsonl").read_text()


def assert_failed_with(result: RunResult, *parts: str) -> None:
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (dynamic_form_mapping):"), result.error
    for part in parts:
        assert part in result.error
    assert API_KEY not in everything_written(result)


# ---------------------------------------------------------------------------------------------------------
# The mapping reaches later steps


async def test_the_receiver_maps_the_fields_and_later_steps_type_its_values(replay: Replay, receiver: Receiver) -> None:
    model = Scripted(FIELDS)
    nodes = [form_mapping(f"{receiver.url}/map?tenant=7"), *FILL_FORM]
    result = await replay(automation("form_mapping.html", nodes), llm=model.config())
    assert result.status == "success", result.error
    assert "Patient name" in text_of(model.prompts[0])  # the model read the page's snapshot
    (request,) = receiver.requests
    assert request["path"] == "/map?tenant=7"
    assert request["headers"]["x-api-key"] == API_KEY
    sent = request["body"]
    assert sent["extracted_fields"] == FIELDS
    assert base64.b64decode(sent["screenshot"]).startswith(PNG_SIGNATURE)  # include_screenshot defaults to true
    assert sent["axtree"] is None and sent["live_stream_url"] is None and sent["task_id"] is None
    mapping_output, status_output = (entry["json_data"] for entry in result.output_data)
    assert json.loads(mapping_output["form_values"]) == MAPPING  # Optexity's output: the mapping as JSON text
    assert status_output == {"status": "name=Ada Lovelace member=M-1815 visits=3"}
    assert result.steps[0].action == "dynamic_form_mapping"
    assert result.steps[0].detail == f"the callback {receiver.url}/map answered 3 value(s), stored in form_values"
    assert len(result.steps[0].llm_calls) == 1
    assert API_KEY not in everything_written(result)


async def test_a_secure_api_key_the_axtree_the_task_id_and_a_named_variable(replay: Replay, receiver: Receiver) -> None:
    secure = {"hook_key": [{"onepassword": {"vault_name": "Vault", "item_name": "hook", "field_name": "key"}}]}
    secrets = SecretResolver(onepassword=FakeOnePassword({"op://Vault/hook/key": API_KEY}))
    node = form_mapping(
        "",
        callback={"url": f"{receiver.url}/map", "api_key": "{hook_key[0]}"},
        include_screenshot=False,
        include_axtree=True,
        output_variable_name="claim",
        source=["axtree", "screenshot"],
    )
    typing = typed('locator("#patient-name")', "{claim[0].patient_name}")
    data = automation("form_mapping.html", [node, typing], parameters={"secure_parameters": secure})
    model = Scripted(FIELDS)
    result = await replay(data, secrets=secrets, llm=model.config(), task_id="task-42")
    assert result.status == "success", result.error
    (request,) = receiver.requests
    assert request["headers"]["x-api-key"] == API_KEY
    assert request["body"]["task_id"] == "task-42"  # the worker's task id
    assert request["body"]["screenshot"] is None
    assert 'textbox "Member ID"' in request["body"]["axtree"]
    assert any(not isinstance(part, str) for part in model.prompts[0])  # the screenshot source reached the model
    assert result.output_data[0]["unique_identifier"] == "claim"
    assert API_KEY not in everything_written(result)


async def test_basic_auth_credentials_are_sent_and_the_password_is_masked(replay: Replay, receiver: Receiver) -> None:
    password = "pw-3c7e91f0a2"
    callback = {"url": f"{receiver.url}/map", "username": "rebrowse", "password": password}
    # The step fails after the request (the receiver answers 500), so the password could show in its error.
    receiver.reply = Reply(status=500, body=json.dumps({"error": f"bad {password}"}).encode())
    result = await replay(
        automation("form_mapping.html", [form_mapping("", callback=callback)]), llm=Scripted(FIELDS).config()
    )
    assert_failed_with(result, f"the callback {receiver.url}/map answered HTTP 500")
    (request,) = receiver.requests
    expected = base64.b64encode(f"rebrowse:{password}".encode()).decode()
    assert request["headers"]["Authorization"] == f"Basic {expected}"
    assert "x-api-key" not in request["headers"]
    assert password not in everything_written(result)


# ---------------------------------------------------------------------------------------------------------
# Failures


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_receiver_that_is_down_fails_the_step_naming_it(replay: Replay) -> None:
    url = f"http://127.0.0.1:{closed_port()}/map"
    result = await replay(automation("form_mapping.html", [form_mapping(url)]), llm=Scripted(FIELDS).config())
    assert_failed_with(result, f"the callback {url} could not be reached")


async def test_a_receiver_slower_than_max_wait_time_fails_the_step(replay: Replay, receiver: Receiver) -> None:
    receiver.hold = True
    node = form_mapping(f"{receiver.url}/map", max_wait_time=0.5)
    result = await replay(automation("form_mapping.html", [node]), llm=Scripted(FIELDS).config())
    assert_failed_with(result, f"the callback {receiver.url}/map did not answer within max_wait_time (0.5 s)")
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply(status=500, body=b'{"error": "boom"}'), "answered HTTP 500"),
        (Reply(status=302), "answered HTTP 302: redirects are not followed"),
        (Reply(body=b"<html>mapped</html>"), "answered HTTP 200 with a body that is not JSON"),
        (Reply(body=b'["Ada"]'), "answered HTTP 200 with a JSON list; expected a JSON object of names to"),
        (Reply(body=b'{"patient_name": {"first": "Ada"}}'), "with 'patient_name' a object; expected"),
        (Reply(body=b'{"patient_name": null}'), "with 'patient_name' a null; expected"),
    ],
)
async def test_an_answer_that_is_not_a_mapping_fails_the_step_naming_url_and_status(
    replay: Replay, receiver: Receiver, reply: Reply, problem: str
) -> None:
    receiver.reply = reply
    node = form_mapping(f"{receiver.url}/map?token=query-secret-55")
    result = await replay(automation("form_mapping.html", [node, *FILL_FORM]), llm=Scripted(FIELDS).config())
    assert_failed_with(result, f"the callback {receiver.url}/map ", problem)
    assert "query-secret-55" not in str(result.error)  # a query string may carry a key: never shown
    assert len(result.steps) == 1 and result.output_data == []


async def test_without_a_model_the_step_fails_naming_the_setting(replay: Replay, receiver: Receiver) -> None:
    result = await replay(automation("form_mapping.html", [form_mapping(f"{receiver.url}/map")]), llm=LlmConfig())
    assert_failed_with(result, MODEL_SETTING)
    assert receiver.requests == []


async def test_a_callback_the_egress_policy_denies_fails_before_the_model_is_asked(
    browser: Browser, site: SiteServer, receiver: Receiver, tmp_path: Path
) -> None:
    egress = EgressProxy(EgressPolicy(AllowList.parse([site.url.removeprefix("http://")])))
    await egress.start()
    model = Scripted(FIELDS)
    data = rebase_urls(automation("form_mapping.html", [form_mapping(f"{receiver.url}/map")]), ORIGIN, site.url)
    options = RunOptions(out_dir=tmp_path / "run", retry_backoff_s=0.0, llm=model.config())
    try:
        result = await run_automation(browser, load_automation(data), options=options, egress=egress)
    finally:
        await egress.close()
    host_port = receiver.url.removeprefix("http://")
    assert_failed_with(result, f"the egress policy denies {host_port} (loopback address)")
    assert receiver.requests == [] and model.prompts == []


def test_an_unreadable_extraction_format_is_refused_at_load() -> None:
    node = form_mapping("http://example.test/map", extraction_format={"fields": "List[Widget]"})
    with pytest.raises(AutomationInvalid) as raised:
        load_automation(automation("form_mapping.html", [node]))
    (problem,) = raised.value.errors
    assert problem.path == "nodes[0].dynamic_form_mapping_action.extraction_format.fields"
