"""Warm sessions and proxies end to end: `rebrowse serve` with its worker, the fixture site, and an upstream proxy
of the tests that checks credentials and records what passed through it.

A login-checking automation opens the portal's dashboard, signs in only when it says "Not signed in", then reads
who is signed in: the site's login counter shows whether a run signed in."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import httpx
import pytest

from rebrowse.demo.site import SiteServer
from tests.egress_sites import Site, running_site
from tests.serving import Served, serve, stop_group
from tests.upstream_proxy import PROXY_PASSWORD, UpstreamProxyServer, running_upstream_proxy

TERMINAL = ("success", "failed", "killed", "cancelled")
TASK_DEADLINE_S = 90.0


def node(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "action_node", kind: payload}


def read(command: str, name: str) -> dict[str, Any]:
    return node(
        "extraction_action",
        {"locator": {"command": command, "output_variable_name": name, "extraction_format": {name: "str"}}},
    )


def portal(site: SiteServer) -> dict[str, Any]:
    """Signs in only when the dashboard says the browser is not signed in."""
    sign_in = [
        node("interaction_action", {"go_to_url": {"url": f"{site.url}/login.html"}}),
        node("interaction_action", {"input_text": {"command": 'get_by_label("Username")', "input_text": "ada"}}),
        node("interaction_action", {"input_text": {"command": 'get_by_label("Password")', "input_text": "lovelace"}}),
        node("interaction_action", {"click_element": {"command": 'get_by_role("button", name="Sign in")'}}),
    ]
    return {
        "url": f"{site.url}/dashboard.html",
        "parameters": {"input_parameters": {"login": ["nobody"]}},
        "nodes": [
            read('locator("#status.checked")', "before"),
            {"type": "if_else_node", "condition": 'before[0] == "Not signed in"', "if_nodes": sign_in},
            read('locator("#status.checked")', "after"),
        ],
        "take_final_screenshot": False,
    }


def warm_page(site: SiteServer) -> dict[str, Any]:
    """Writes {value[0]} to every storage (unless empty), reads them back, then fails when {fail[0]} is yes."""
    return {
        "url": f"{site.url}/warm.html",
        "parameters": {"input_parameters": {"login": ["x"], "value": [""], "fail": ["no"]}},
        "nodes": [
            node("interaction_action", {"go_to_url": {"url": f"{site.url}/warm.html?write={{value[0]}}"}}),
            read('locator("#status.read")', "status"),
            {
                "type": "if_else_node",
                "condition": '{fail[0]} == "yes"',
                "if_nodes": [node("fail_state_action", {"failure_message": "the portal refused"})],
            },
        ],
        "take_final_screenshot": False,
        "max_retries": 0,
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamProxyServer]:
    with running_upstream_proxy() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def internal() -> Iterator[Site]:
    with running_site() as site:
        yield site


@dataclass
class Logged:
    """Everything the server writes, read as it comes (a pipe nobody reads would block it once full)."""

    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def follow(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(process.stdout,), name="server-log", daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):  # the pipe closed when the server was stopped
            self.lines.extend(stream)


@pytest.fixture(scope="module")
def logged() -> Logged:
    return Logged()


@pytest.fixture(scope="module")
def served(site: SiteServer, upstream: UpstreamProxyServer, internal: Site, logged: Logged) -> Iterator[Served]:
    env = {
        # The fixture site, and the other site its api_calls reach (the API's own address stays denied).
        "REBROWSE_BROWSER_ALLOW_HOSTS": f"{site.url.removeprefix('http://')},{internal.host_port}",
        "REBROWSE_LIVE_VIEW": "0",
        "REBROWSE_PROXY_URL": upstream.url("user-session-{session_id}"),
        "REBROWSE_LOG_LEVEL": "debug",
    }
    with serve("--demo", env=env) as running:
        logged.follow(running.process)
        yield running


@pytest.fixture(scope="module")
def client(served: Served, site: SiteServer) -> Iterator[httpx.Client]:
    with served.client() as api:
        for name, automation in (("portal", portal(site)), ("warm", warm_page(site))):
            assert api.put(f"/api/v1/automations/{name}", json={"automation": automation}).status_code == 200
        yield api


def run(client: httpx.Client, name: str, **request: Any) -> dict[str, Any]:
    """Submit a task and wait for its end; the task as the API shows it."""
    submitted = client.post("/api/v1/inference", json={"endpoint_name": name, **request})
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    deadline = time.monotonic() + TASK_DEADLINE_S
    while True:
        task: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}").json()
        if task["status"] in TERMINAL:
            return task
        assert time.monotonic() < deadline, f"task {task_id} did not end: {task}"
        time.sleep(0.1)  # polling a condition with a deadline


def login_run(client: httpx.Client, login: str, **request: Any) -> dict[str, Any]:
    return run(
        client,
        "portal",
        input_parameters={"login": [login]},
        unique_parameter_names=["login"],
        reuse_session=True,
        **request,
    )


def outputs(task: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in task["output_data"] or []:
        merged.update(entry.get("json_data") or {})
    return merged


def signed_in(task: dict[str, Any]) -> bool:
    assert task["status"] == "success", task["error"]
    return bool(outputs(task)["after"] == "Signed in as ada")


def session_of(client: httpx.Client, login: str) -> dict[str, Any] | None:
    found = client.get("/api/v1/sessions").json()["sessions"]
    return next((s for s in found if s["unique_parameters"] == {"login": [login]}), None)


def test_the_second_run_of_a_login_reuses_its_state_and_skips_the_login(client: httpx.Client, site: SiteServer) -> None:
    login, other = f"acct-{uuid.uuid4().hex[:8]}", f"acct-{uuid.uuid4().hex[:8]}"
    before = site.state.logins
    first = login_run(client, login)
    assert signed_in(first) and outputs(first)["before"] == "Not signed in"
    assert (first["reuse_session"], first["session_reused"]) == (True, False)
    assert site.state.logins == before + 1

    second = login_run(client, login)
    assert signed_in(second) and outputs(second)["before"] == "Signed in as ada"
    assert second["session_reused"] is True
    assert site.state.logins == before + 1  # no second sign-in

    different = login_run(client, other)  # another login never gets this one's state
    assert signed_in(different) and different["session_reused"] is False
    assert site.state.logins == before + 2

    kept = session_of(client, login)
    assert kept is not None and kept["endpoint_name"] == "portal" and kept["task_id"] == second["task_id"]
    assert "state" not in kept and "cookies" not in json.dumps(kept)

    assert client.delete(f"/api/v1/sessions/{kept['session_id']}").status_code == 204
    assert session_of(client, login) is None
    after_delete = login_run(client, login)
    assert signed_in(after_delete) and after_delete["session_reused"] is False
    assert site.state.logins == before + 3


def test_without_reuse_session_nothing_is_kept_or_used(client: httpx.Client, site: SiteServer) -> None:
    login = f"acct-{uuid.uuid4().hex[:8]}"
    run(client, "portal", input_parameters={"login": [login]}, unique_parameter_names=["login"])
    assert session_of(client, login) is None
    before = site.state.logins
    task = login_run(client, login)
    assert signed_in(task) and task["session_reused"] is False and site.state.logins == before + 1


def test_the_automation_setting_is_the_default_and_a_request_overrides_it(
    client: httpx.Client, site: SiteServer
) -> None:
    settings = {"reuse_session": True}
    put = client.put("/api/v1/automations/portal_warm", json={"automation": portal(site), "settings": settings})
    assert put.status_code == 200 and put.json()["settings"]["reuse_session"] is True
    login = f"acct-{uuid.uuid4().hex[:8]}"
    request = {"input_parameters": {"login": [login]}, "unique_parameter_names": ["login"]}
    assert run(client, "portal_warm", **request)["reuse_session"] is True
    assert run(client, "portal_warm", **request)["session_reused"] is True
    refused = run(client, "portal_warm", **request, reuse_session=False)
    assert (refused["reuse_session"], refused["session_reused"]) == (False, False)
    dropped = client.delete("/api/v1/sessions", params={"endpoint_name": "portal_warm"})
    assert dropped.status_code == 200 and dropped.json() == {"deleted": 1}
    assert session_of(client, login) is None
    bad = client.delete("/api/v1/sessions", params={"endpoint_name": "bad name"})
    assert bad.status_code == 400 and "endpoint_name" in bad.text


def test_a_failed_run_does_not_replace_the_kept_state(client: httpx.Client) -> None:
    login, good = f"acct-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:10]
    common = {"unique_parameter_names": ["login"], "reuse_session": True}
    kept = run(client, "warm", input_parameters={"login": [login], "value": [good]}, **common)
    assert kept["status"] == "success", kept["error"]
    failed = run(client, "warm", input_parameters={"login": [login], "value": ["bad"], "fail": ["yes"]}, **common)
    assert failed["status"] == "failed" and failed["session_reused"] is True
    read_back = run(client, "warm", input_parameters={"login": [login]}, **common)
    assert read_back["session_reused"] is True
    assert outputs(read_back)["status"] == f"cookie={good} local={good} session={good} idb={good}"


def test_another_accounts_sessions_are_404_and_never_used(
    served: Served, client: httpx.Client, site: SiteServer
) -> None:
    login = f"acct-{uuid.uuid4().hex[:8]}"
    assert signed_in(login_run(client, login))
    kept = session_of(client, login)
    assert kept is not None
    created = client.post("/api/v1/accounts", json={"name": f"other-{uuid.uuid4().hex[:6]}"})
    assert created.status_code == 201, created.text
    with served.client(created.json()["key"]["api_key"]) as other:
        assert other.get("/api/v1/sessions").json() == {"sessions": []}
        missing = other.delete(f"/api/v1/sessions/{kept['session_id']}")
        assert missing.status_code == 404 and "session_id" in missing.json()["detail"]
        assert other.put("/api/v1/automations/portal", json={"automation": portal(site)}).status_code == 200
        before = site.state.logins
        theirs = login_run(other, login)  # the same endpoint name and login values, in another account
        assert signed_in(theirs) and theirs["session_reused"] is False and site.state.logins == before + 1
    assert session_of(client, login) is not None
    assert client.delete(f"/api/v1/sessions/{uuid.uuid4()}").status_code == 404
    assert client.delete("/api/v1/sessions/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/inference", {"endpoint_name": "portal", "reuse_session": "yes"}, "reuse_session"),
        ("/api/v1/inference", {"endpoint_name": "portal", "use_proxy": "yes"}, "use_proxy"),
        ("/api/v1/inference", {"endpoint_name": "portal", "proxy_session_id": "a b"}, "proxy_session_id"),
        ("/api/v1/proxies/p1", {"url": "socks5://u:hunter2@h:1"}, "url"),
        ("/api/v1/proxies/p1", {"url": "http://u:hunter2@h:1", "bypass": ["bad host"]}, "bypass"),
    ],
)
def test_bad_fields_are_400_naming_them(client: httpx.Client, path: str, body: dict[str, Any], field: str) -> None:
    answer = client.post(path, json=body) if path.endswith("inference") else client.put(path, json=body)
    assert answer.status_code == 400, answer.text
    assert field in {error["path"] for error in answer.json()["errors"]}
    assert "hunter2" not in answer.text


def test_automation_settings_must_name_a_proxy_of_the_account(client: httpx.Client, site: SiteServer) -> None:
    body = {"automation": portal(site), "settings": {"use_proxy": True, "proxy": "nowhere"}}
    answer = client.put("/api/v1/automations/portal_p", json=body)
    assert answer.status_code == 400
    assert [error["path"] for error in answer.json()["errors"]] == ["settings.proxy"]


def proxied(site: SiteServer, target: str) -> dict[str, Any]:
    """Opens a page of the site, then calls `target` with api_call."""
    return {
        "url": f"{site.url}/detail.html?id=5",
        "parameters": {},
        "nodes": [
            read('locator("#detail-name")', "name"),
            node("extraction_action", {"api_call": {"url": target, "output_variable_names": ["answer"]}}),
        ],
        "take_final_screenshot": False,
    }


def test_use_proxy_sends_the_browser_and_api_calls_through_the_upstream_proxy(
    served: Served, client: httpx.Client, site: SiteServer, upstream: UpstreamProxyServer, internal: Site
) -> None:
    automation = proxied(site, f"{internal.url}/called")
    assert client.put("/api/v1/automations/proxied", json={"automation": automation}).status_code == 200
    seen = len(upstream.passed())
    task = run(client, "proxied", use_proxy=True, proxy_session_id="stick1")
    assert task["status"] == "success", task["error"]
    assert task["use_proxy"] is True and task["proxy_session_id"] == "stick1"
    assert outputs(task)["name"] == "Invoice 5"
    assert outputs(task)["answer"]["status_code"] == 200 and internal.requests[-1] == "/called"
    site_target = f"127.0.0.1:{site.url.rsplit(':', 1)[1]}"
    passages = upstream.passed()[seen:]
    # The browser's requests to the site and the api_call's to the other site, all with the sticky session.
    assert {p.target for p in passages} == {site_target, internal.host_port}
    assert {(p.method, p.user, p.allowed) for p in passages} == {("CONNECT", "user-session-stick1", True)}

    seen = len(upstream.passed())
    default_id = run(client, "proxied", use_proxy=True)
    assert default_id["status"] == "success", default_id["error"]
    hex_id = uuid.UUID(default_id["task_id"]).hex
    assert {p.user for p in upstream.passed()[seen:]} == {f"user-session-{hex_id}"}

    seen = len(upstream.passed())
    direct = run(client, "proxied")
    assert direct["status"] == "success" and direct["use_proxy"] is False
    assert upstream.passed()[seen:] == []

    # With a proxy, the egress policy still decides first: the API's own /metrics is never asked for.
    api_target = served.url.removeprefix("http://")
    forbidden = proxied(site, f"{served.url}/metrics")
    assert client.put("/api/v1/automations/forbidden", json={"automation": forbidden}).status_code == 200
    seen = len(upstream.passed())
    refused = run(client, "forbidden", use_proxy=True)
    assert refused["status"] == "failed" and "egress policy denies" in (refused["error"] or "")
    assert "rebrowse_" not in json.dumps(refused["output_data"])
    assert api_target not in {p.target for p in upstream.passed()[seen:]}


def test_an_accounts_named_proxy_with_wrong_credentials_fails_without_showing_them(
    served: Served, client: httpx.Client, site: SiteServer, upstream: UpstreamProxyServer
) -> None:
    wrong = "wr0ng-pa55word"
    put = client.put(
        "/api/v1/proxies/badcreds", json={"url": f"http://someone:{wrong}@{upstream.address}", "bypass": ["a.b"]}
    )
    assert put.status_code == 200, put.text
    assert put.json()["url"] == f"http://someone@{upstream.address}" and wrong not in put.text
    listed = client.get("/api/v1/proxies").json()["proxies"]
    assert [p["name"] for p in listed if p["name"] == "badcreds"] and wrong not in json.dumps(listed)
    settings = {"use_proxy": True, "proxy": "badcreds"}
    automation = proxied(site, f"{site.url}/api/recent")
    assert client.put("/api/v1/automations/badproxy", json={"automation": automation, "settings": settings})
    seen = len(upstream.passed())
    task = run(client, "badproxy")
    assert task["status"] == "failed" and task["use_proxy"] is True
    assert upstream.passed()[seen:] and not any(p.allowed for p in upstream.passed()[seen:])
    steps = client.get(f"/api/v1/tasks/{task['task_id']}/steps").text
    for shown in (json.dumps(task), steps):
        assert wrong not in shown and PROXY_PASSWORD not in shown
    assert client.delete("/api/v1/proxies/badcreds").status_code == 204
    assert client.delete("/api/v1/proxies/badcreds").status_code == 404
    gone = run(client, "badproxy")
    assert gone["status"] == "failed" and "'badcreds'" in (gone["error"] or "")


def test_an_expired_state_is_not_used(site: SiteServer) -> None:
    env = {"REBROWSE_BROWSER_ALLOW_HOSTS": site.url.removeprefix("http://"), "REBROWSE_LIVE_VIEW": "0"}
    with serve("--demo", env={**env, "REBROWSE_SESSION_TTL": "1"}) as short, short.client() as api:
        assert api.put("/api/v1/automations/portal", json={"automation": portal(site)}).status_code == 200
        login = f"acct-{uuid.uuid4().hex[:8]}"
        assert signed_in(login_run(api, login))
        kept = session_of(api, login)
        assert kept is not None and kept["expires_at"] > kept["updated_at"]
        deadline = time.monotonic() + 30
        while session_of(api, login) is not None:  # listing drops it once its second is over
            assert time.monotonic() < deadline, "the kept state did not expire"
            time.sleep(0.2)  # polling a condition with a deadline
        before = site.state.logins
        again = login_run(api, login)
        assert signed_in(again) and again["session_reused"] is False and site.state.logins == before + 1


def test_proxy_credentials_never_reach_the_logs(served: Served, client: httpx.Client, logged: Logged) -> None:
    """Last in the module: it stops the server to have everything it logged."""
    assert run(client, "proxied", use_proxy=True)["status"] == "success"
    stop_group(served.process)
    assert logged.reader is not None
    logged.reader.join(30)
    text = "".join(logged.lines)
    assert "task ended" in text and "egress proxy" in text  # debug records of the proxy's connections too
    assert PROXY_PASSWORD not in text
