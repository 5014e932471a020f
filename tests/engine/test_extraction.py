"""Extraction actions replayed on the fixture site: locator, state, network_call, screenshot and api_call."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rebrowse.demo.site import PENDING_POLLS, SiteServer
from tests.engine.conftest import ORIGIN, Replay, action, automation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A missing element fails the step at once. Only for clicks meant to fail: a click's timeout also covers the
# navigation it starts.
FAST = {"max_tries": 1, "max_timeout_seconds_per_try": 0.3}

# Node builders shared by the engine tests of extraction, control flow and whole runs.


def extract(kind: str, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An extraction node; `fields` go to the extraction_action (allow_none, unique_identifier)."""
    return action("extraction_action", {kind: payload, **fields})


def read_text(command: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """A locator extraction of `command` into `name` (or the default node{k}_output)."""
    payload: dict[str, Any] = {"command": command, "extraction_format": {name or "text": "str"}}
    if name is not None:
        payload["output_variable_name"] = name
    return extract("locator", payload, **fields)


def click(command: str, **fields: Any) -> dict[str, Any]:
    return action("interaction_action", {"click_element": {"command": command}, **fields})


def go_to(path: str) -> dict[str, Any]:
    return action("interaction_action", {"go_to_url": {"url": f"{ORIGIN}/{path}"}})


def remember(name: str, value: str) -> dict[str, Any]:
    """A set_variable node that also puts `value` (placeholders resolved) into the outputs."""
    payload = {"set_variable": {"name": name, "value": value, "output_variable_name": name}}
    return action("misc_action", payload)


def api_call(url: str, **fields: Any) -> dict[str, Any]:
    return extract("api_call", {"url": f"{ORIGIN}{url}", **fields})


def json_outputs(output_data: list[dict[str, Any]]) -> list[Any]:
    return [entry.get("json_data") for entry in output_data]


# ---------------------------------------------------------------------------------------------------------
# locator


async def test_locator_reads_the_first_match_into_the_named_variable(replay: Replay) -> None:
    nodes = [read_text('locator("#rows td.name")', "first_name"), remember("echo", "got {first_name[0]}")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"first_name": "Invoice 1"}, {"echo": "got Invoice 1"}]
    assert result.steps[0].locator is not None and "#rows td.name" in result.steps[0].locator


async def test_locator_reads_what_a_form_field_holds(replay: Replay) -> None:
    typed = {"input_text": {"command": 'get_by_label("Full name")', "input_text": "Ada L"}}
    chosen = {"select_option": {"command": 'locator("#region")', "select_values": ["eu-west"]}}
    nodes = [
        action("interaction_action", typed),
        action("interaction_action", chosen),
        read_text('get_by_label("Full name")', "name"),
        read_text('locator("#region")', "region"),
    ]
    result = await replay(automation("form.html", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"name": "Ada L"}, {"region": "eu-west"}]


async def test_locator_without_a_name_writes_node_k_output(replay: Replay) -> None:
    # k counts every node in document order: the extraction is the second node.
    nodes = [remember("first", "x"), read_text('locator("#detail-id")'), remember("echo", "id={node2_output[0]}")]
    result = await replay(automation("detail.html?id=7", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"first": "x"}, {"node2_output": "7"}, {"echo": "id=7"}]


async def test_locator_allow_none_stores_none_when_nothing_matches(replay: Replay) -> None:
    stored = {"set_variable": {"name": "stored", "expression": "missing == [None]", "output_variable_name": "x"}}
    nodes = [read_text('locator("#no-such-element")', "missing", allow_none=True), action("misc_action", stored)]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"missing": None}, {"stored": True}]


async def test_locator_without_allow_none_fails_naming_path_action_and_locator(replay: Replay) -> None:
    nodes = [read_text('locator("#no-such-element")', "missing"), remember("after", "ran")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (extract.locator on ")
    assert "#no-such-element" in result.error
    assert "no text could be read: no element matches" in result.error
    assert result.output_data == []  # the step after the failure never ran


async def test_extraction_after_a_search_waits_for_the_results_without_sleeps(replay: Replay) -> None:
    # #status exists at once ("Searching"); only the implicit settle before the extraction, which waits for
    # the fetch and the rendering that follows it, can make the extraction read the final text.
    search = action(
        "interaction_action",
        {"input_text": {"command": 'get_by_label("Search")', "input_text": "{query[0]}", "press_enter": True}},
    )
    nodes = [
        search,
        read_text('locator("#status")', "status"),
        read_text('locator("#results a.result-title")', "first_title"),
    ]
    data = automation("search.html", nodes, parameters={"input_parameters": {"query": ["invoice"]}})
    result = await replay(data)
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [
        {"status": "6 results"},
        {"first_title": "Invoice 1042 - Acme Robotics"},
    ]
    assert all(step.action != "sleep" for step in result.steps)


# A page that keeps working through a chain of zero-delay timers (setTimeout without a delay), touching
# the DOM only at the end.
TIMER_CHAIN_PAGE = (
    "data:text/html,<p id=status>working</p><script>let n = 0;"
    "setTimeout(function next() { n += 1; if (n < 60) setTimeout(next);"
    " else document.getElementById('status').textContent = 'done after ' + n; });</script>"
)


async def test_extraction_waits_for_timers_set_without_a_delay(replay: Replay) -> None:
    data = automation("table.html", [read_text('locator("#status")', "status")])
    data["url"] = TIMER_CHAIN_PAGE
    result = await replay(data)
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"status": "done after 60"}]


# ---------------------------------------------------------------------------------------------------------
# state


async def test_state_reads_url_title_cookies_and_web_storage(replay: Replay, site: SiteServer) -> None:
    result = await replay(automation("storage.html", [extract("state", {}, unique_identifier="page_state")]))
    assert result.status == "success", result.error
    (entry,) = result.output_data
    assert entry["unique_identifier"] == "page_state"
    state = entry["json_data"]
    assert state["page_url"] == f"{site.url}/storage.html"
    assert state["page_title"] == "Fixture: storage"
    assert {(c["name"], c["value"]) for c in state["cookies"]} == {("fixture_cookie", "chocolate")}
    assert state["document_cookie"] == "fixture_cookie=chocolate"
    assert state["local_storage"] == {"fixture_local": "persisted"}
    assert state["session_storage"] == {"fixture_session": "ephemeral"}


# ---------------------------------------------------------------------------------------------------------
# network_call


def network_call(url_pattern: str, **payload: Any) -> dict[str, Any]:
    return extract("network_call", {"url_pattern": url_pattern, **payload})


async def test_network_call_returns_response_bodies_since_the_last_interaction(replay: Replay) -> None:
    nodes = [
        click('locator("#load-recent")'),
        read_text('locator("#status")', "loaded"),  # settles, so the first fetch is over
        click('locator("#load-recent")'),
        network_call("/api/recent"),
    ]
    result = await replay(automation("network.html", nodes))
    assert result.status == "success", result.error
    loaded, *calls = json_outputs(result.output_data)
    assert loaded == {"loaded": "5 items"}
    # Two fetches happened, but only the one after the last interaction counts.
    (call,) = calls
    assert [item["id"] for item in call["body"]["items"]] == [1, 2, 3, 4, 5]
    assert result.steps[-1].detail == "1 matching request(s)"


async def test_network_call_sees_nothing_from_before_the_last_interaction(replay: Replay) -> None:
    nodes = [click('locator("#load-recent")'), network_call("network.html")]
    result = await replay(automation("network.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[1] (extract.network_call)")
    assert "no request since the last interaction matches 'network.html'" in result.error


async def test_network_call_before_any_interaction_sees_the_page_load(replay: Replay) -> None:
    result = await replay(automation("network.html", [network_call("network.html")]))
    assert result.status == "success", result.error
    (call,) = json_outputs(result.output_data)
    assert '<button id="load-recent"' in call["body"]


async def test_network_call_reads_request_bodies(replay: Replay) -> None:
    def fill(selector: str, text: str) -> dict[str, Any]:
        return action("interaction_action", {"input_text": {"command": f'locator("{selector}")', "input_text": text}})

    nodes = [
        fill("#username", "ada"),
        fill("#password", "lovelace"),
        click('locator("#sign-in")'),
        network_call("/api/login", extract_from="request"),
    ]
    result = await replay(automation("login.html", nodes))
    assert result.status == "success", result.error
    (call,) = json_outputs(result.output_data)
    assert call == {"body": "username=ada&password=lovelace"}


async def test_network_call_download_filename_saves_the_body_as_a_download(replay: Replay) -> None:
    nodes = [click('locator("#load-recent")'), network_call("/api/recent", download_filename="recent.json")]
    result = await replay(automation("network.html", nodes))
    assert result.status == "success", result.error
    (download,) = result.downloads
    assert download.filename == "recent.json"
    saved = json.loads(Path(download.path).read_bytes())
    assert len(saved["items"]) == 5
    assert download.size == Path(download.path).stat().st_size
    listed = json.loads((Path(result.out_dir) / "downloads.json").read_text())
    assert [d["filename"] for d in listed] == ["recent.json"]


async def test_network_call_download_from_request_sends_the_request_again(replay: Replay, site: SiteServer) -> None:
    job = uuid.uuid4().hex
    nodes = [
        api_call("/api/job", query_params={"id": job}),  # poll 1
        go_to(f"api/job?id={job}"),  # poll 2, in the page
        network_call("/api/job", download_from="request", download_filename="job.json"),  # poll 3
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert site.state.job_polls[job] == PENDING_POLLS + 1
    _, seen = json_outputs(result.output_data)
    assert seen == {"body": {"id": job, "status": "pending"}}  # what the page received
    (download,) = result.downloads
    assert json.loads(Path(download.path).read_bytes()) == {"id": job, "status": "done"}  # the answer to the resend


async def test_network_call_without_a_match_fails(replay: Replay) -> None:
    nodes = [click('locator("#load-recent")'), network_call("/api/nothing-like-this")]
    result = await replay(automation("network.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert "nodes[1] (extract.network_call)" in result.error
    assert "'/api/nothing-like-this'" in result.error


# ---------------------------------------------------------------------------------------------------------
# screenshot


async def test_screenshot_is_saved_as_a_png_and_listed_by_filename(replay: Replay) -> None:
    nodes = [extract("screenshot", {"filename": "table.png"}, unique_identifier="shot")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    path = Path(result.out_dir) / "screenshots" / "table.png"
    assert path.read_bytes().startswith(PNG_MAGIC)
    # Outputs refer to the file by name; the base64 image stays out of them.
    assert result.output_data == [{"unique_identifier": "shot", "screenshot": {"filename": "table.png"}}]
    written = json.loads((Path(result.out_dir) / "output_data.json").read_text())
    assert written == result.output_data


# ---------------------------------------------------------------------------------------------------------
# api_call


async def test_api_call_polls_until_done_and_feeds_dot_paths_to_later_steps(replay: Replay, site: SiteServer) -> None:
    job = uuid.uuid4().hex
    nodes = [
        api_call(
            "/api/job",
            query_params={"id": job},
            poll_condition='api_result.body.status == "done"',
            poll_interval=0.01,
        ),
        remember("summary", "{api_result.body.id} is {api_result.body.status}"),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert site.state.job_polls[job] == PENDING_POLLS + 1
    call, summary = json_outputs(result.output_data)
    assert call["api_result"]["status_code"] == 200
    assert call["api_result"]["body"] == {"id": job, "status": "done"}
    assert summary == {"summary": f"{job} is done"}


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every POST with what it received: method, path, content type, one header and the body."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        answer = {
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "x_who": self.headers.get("X-Who"),
            "body": body.decode(),
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_api_call_sends_placeholders_as_values(replay: Replay, echo_url: str) -> None:
    who = 'ada", "admin": true, "x": "\\'
    call = {
        "url": f"{echo_url}/people?tag={{tag[0]}}",
        "method": "POST",
        "headers": {"X-Who": "{who[0]}"},
        "query_params": {"page": "{page[0]}"},
        "body": {"name": "{who[0]}", "tags": ["{tag[0]}", 3], "{tag[0]}_key": None},
    }
    params = {"input_parameters": {"who": [who], "tag": ["red"], "page": [2]}}
    result = await replay(automation("table.html", [extract("api_call", call)], parameters=params))
    assert result.status == "success", result.error
    (output,) = json_outputs(result.output_data)
    echoed = output["api_result"]["body"]
    assert echoed["path"] == "/people?tag=red&page=2"
    assert echoed["content_type"] == "application/json"
    assert echoed["x_who"] == who
    # The value with quotes stays one string: it adds no key to the body.
    assert json.loads(echoed["body"]) == {"name": who, "tags": ["red", 3], "red_key": None}


async def test_api_call_timeout_is_described_not_raised(replay: Replay) -> None:
    # /api/search answers after 150 ms, well past this timeout.
    nodes = [api_call("/api/search?q=invoice", timeout=0.02, output_variable_names=["slow"])]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    (call,) = json_outputs(result.output_data)
    assert call["slow"]["status_code"] is None
    assert call["slow"]["error"] == "timeout"
    assert call["slow"]["body"] is None


async def test_api_call_http_error_keeps_status_and_body(replay: Replay) -> None:
    nodes = [api_call("/api/job"), remember("code", "{api_result.status_code}")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    call, code = json_outputs(result.output_data)
    assert call["api_result"]["status_code"] == 400
    assert call["api_result"]["error"] == "http_error"
    assert call["api_result"]["message"] == "HTTP 400"
    assert call["api_result"]["body"] == {"error": "id is required"}
    assert code == {"code": "400"}


async def test_api_call_poll_exhaustion_fails_the_step(replay: Replay, site: SiteServer) -> None:
    job = uuid.uuid4().hex
    nodes = [
        api_call(
            "/api/job",
            query_params={"id": job},
            poll_condition='api_result.body.status == "never"',
            poll_interval=0,
            max_poll_attempts=3,
        )
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (extract.api_call)")
    assert "still false after 3 attempts" in result.error
    assert site.state.job_polls[job] == 3
