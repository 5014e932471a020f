"""A run through an egress proxy that allows only the automation's site: whatever reaches for an internal address
(another server on 127.0.0.1, standing for /metrics or the metadata service) fails its step with a clear error or
is blocked and listed on the step, and the internal server never sees a request."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from rebrowse.automation.loading import load_automation
from rebrowse.browser.egress import EgressPolicy, EgressProxy
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.ssrf import AllowList
from tests.egress_sites import SECRET, Site, running_site


@pytest.fixture
def allowed() -> Any:
    with running_site() as site:
        yield site


@pytest.fixture
def internal() -> Any:
    with running_site() as site:
        yield site


async def proxy_allowing(*entries: str) -> EgressProxy:
    proxy = EgressProxy(EgressPolicy(AllowList.parse(entries)))
    await proxy.start()
    return proxy


@pytest.fixture
async def egress(allowed: Site) -> AsyncIterator[EgressProxy]:
    proxy = await proxy_allowing(allowed.host_port)
    try:
        yield proxy
    finally:
        await proxy.close()


def action(kind: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "action_node", kind: {name: payload}}


def api_call(url: str) -> dict[str, Any]:
    return action("extraction_action", "api_call", {"url": url, "output_variable_names": ["answer"]})


def go_to(url: str) -> dict[str, Any]:
    return action("interaction_action", "go_to_url", {"url": url})


def wait_for_page() -> dict[str, Any]:
    """Read what the reaching page shows once its fetch, image and WebSocket have ended."""
    read = {
        "command": 'locator("#done:not(:empty)")',
        "extraction_format": {"done": "str"},
        "output_variable_name": "done",
    }
    return action("extraction_action", "locator", read)


async def replay(
    browser: Browser, tmp_path: Path, egress: EgressProxy, start: str, nodes: list[dict[str, Any]]
) -> RunResult:
    automation = load_automation({"url": start, "parameters": {}, "nodes": nodes, "take_final_screenshot": False})
    options = RunOptions(out_dir=tmp_path / "run", screenshots="never", retry_backoff_s=0.0, download_timeout_s=20)
    return await run_automation(browser, automation, options=options, egress=egress)


def assert_denied(result: RunResult, internal: Site, action: str) -> None:
    """The run failed at `action` naming the internal server, the setting, and nothing of its answer."""
    assert result.status == "failed"
    assert result.error is not None
    assert f"({action}): the egress policy denies {internal.host_port} (loopback address)" in result.error
    assert "REBROWSE_BROWSER_ALLOW_HOSTS can allow it" in result.error
    assert SECRET not in json.dumps(result.to_json())
    assert internal.requests == []


async def test_api_call_to_an_internal_server_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [api_call(f"{internal.url}/metrics")])
    assert_denied(result, internal, "extract.api_call")
    assert result.output_data == []


async def test_a_name_that_resolves_to_an_internal_server_is_denied(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    by_name = f"localhost:{internal.server_address[1]}"
    for node in (api_call(f"http://{by_name}/metrics"), go_to(f"http://{by_name}/metrics")):
        result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [node])
        assert result.error is not None
        assert f"the egress policy denies {by_name} (loopback address)" in result.error
    redirect = f"{allowed.url}/redirect?to=http://{by_name}/metrics"
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [api_call(redirect)])
    assert result.error is not None and f"the egress policy denies {by_name} (loopback address)" in result.error
    assert internal.requests == []


async def test_api_call_redirected_to_an_internal_server_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    redirect = f"{allowed.url}/redirect?to={internal.url}/metrics"
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [api_call(redirect)])
    assert_denied(result, internal, "extract.api_call")
    # The first hop was allowed, the second denied (the page may have asked for its favicon since).
    assert any("/redirect?to=" in path for path in allowed.requests)


async def test_go_to_url_to_an_internal_server_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [go_to(f"{internal.url}/metrics")])
    assert_denied(result, internal, "go_to_url")


async def test_go_to_url_redirected_to_an_internal_server_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    redirect = f"{allowed.url}/redirect?to={internal.url}/latest/meta-data"
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [go_to(redirect)])
    # The pre-check passes (the allowed site); the proxy refuses the redirect's hop.
    assert_denied(result, internal, "go_to_url")
    blocked = result.steps[0].blocked
    assert f"http://{internal.host_port}/latest/meta-data (loopback address)" in blocked
    # Chromium may also ask the refused page's host for its favicon before the step's record is closed.
    assert all(entry.startswith(f"http://{internal.host_port}/") for entry in blocked)


HTTPS_TO_INTERNAL = "https://{internal}/metrics"
REDIRECTED_TO_HTTPS = "{allowed}/redirect?to=https://{internal}/metrics"


@pytest.mark.parametrize(
    "node",
    [
        # Refused by the check before the action:
        api_call(HTTPS_TO_INTERNAL),
        go_to(HTTPS_TO_INTERNAL),
        action("interaction_action", "download_url_as_pdf", {"url": HTTPS_TO_INTERNAL}),
        # Refused by the proxy, at the redirect's tunnel (Chromium, httpx and Playwright's own client each say so
        # their way):
        go_to(REDIRECTED_TO_HTTPS),
        api_call(REDIRECTED_TO_HTTPS),
        action("interaction_action", "download_url_as_pdf", {"url": REDIRECTED_TO_HTTPS}),
    ],
)
async def test_https_to_an_internal_server_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy, node: dict[str, Any]
) -> None:
    text = json.dumps(node)
    filled = json.loads(text.replace("{internal}", internal.host_port).replace("{allowed}", allowed.url))
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [filled])
    assert_denied(result, internal, result.steps[0].action)
    tunnelled = [f"{internal.host_port} (loopback address)"] if "redirect" in text else []
    assert result.steps[0].blocked == tunnelled


async def test_a_start_url_of_an_internal_server_fails(
    browser: Browser, tmp_path: Path, internal: Site, egress: EgressProxy
) -> None:
    result = await replay(browser, tmp_path, egress, f"{internal.url}/metrics", [])
    assert result.error is not None
    assert result.error.startswith(f"the automation's url: the egress policy denies {internal.host_port}")
    assert internal.requests == []


@pytest.mark.parametrize("url", ["{internal}/metrics", "{allowed}/redirect?to={internal}/metrics"])
@pytest.mark.parametrize(("kind", "field"), [("download_url_as_pdf", "url"), ("download_file", "file_url")])
async def test_a_download_of_an_internal_server_fails(
    browser: Browser,
    tmp_path: Path,
    allowed: Site,
    internal: Site,
    egress: EgressProxy,
    url: str,
    kind: str,
    field: str,
) -> None:
    target = url.format(internal=internal.url, allowed=allowed.url)
    node = action("interaction_action", kind, {field: target})
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/start", [node])
    assert_denied(result, internal, kind)
    assert result.downloads == []


async def test_upload_file_url_of_an_internal_server_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    upload = {"command": 'locator("input")', "file_url": f"{internal.url}/secret.txt"}
    result = await replay(
        browser, tmp_path, egress, f"{allowed.url}/start", [action("interaction_action", "upload_file", upload)]
    )
    assert_denied(result, internal, "upload_file")


async def test_a_pages_fetch_image_and_websocket_to_an_internal_server_are_blocked_and_listed(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/page?target={internal.url}", [wait_for_page()])
    assert result.status == "success", result.error
    assert result.output_data[0]["json_data"]["done"] == "fetch error, image error, socket error"
    assert internal.requests == []
    blocked = result.steps[0].blocked
    assert f"http://{internal.host_port}/fetched (loopback address)" in blocked
    assert f"http://{internal.host_port}/image.png (loopback address)" in blocked
    # Chromium tunnels a WebSocket through the proxy: it is seen as host:port.
    assert f"{internal.host_port} (loopback address)" in blocked
    # The step's record on disk (what the API's step view reads) lists them too.
    on_disk = json.loads((tmp_path / "run" / "steps.jsonl").read_text().splitlines()[0])
    assert on_disk["blocked"] == blocked


async def test_network_call_sending_a_denied_request_again_fails(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site, egress: EgressProxy
) -> None:
    again = {"url_pattern": "/fetched", "download_filename": "again.txt", "download_from": "request"}
    nodes = [wait_for_page(), action("extraction_action", "network_call", again)]
    result = await replay(browser, tmp_path, egress, f"{allowed.url}/page?target={internal.url}", nodes)
    assert_denied(result, internal, "extract.network_call")
    assert result.downloads == []


async def test_the_allow_list_takes_hosts_with_ports_and_networks(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site
) -> None:
    for entries in ([allowed.host_port, internal.host_port], [allowed.host_port, "127.0.0.0/8"]):
        proxy = await proxy_allowing(*entries)
        try:
            result = await replay(browser, tmp_path, proxy, f"{allowed.url}/start", [api_call(f"{internal.url}/m")])
        finally:
            await proxy.close()
        assert result.status == "success", result.error
        assert result.output_data[0]["json_data"]["answer"]["body"] == SECRET
    assert internal.requests == ["/m", "/m"]


async def test_without_a_policy_a_run_reaches_loopback(
    browser: Browser, tmp_path: Path, allowed: Site, internal: Site
) -> None:
    automation = load_automation({"url": f"{allowed.url}/start", "parameters": {}, "nodes": [api_call(internal.url)]})
    options = RunOptions(out_dir=tmp_path / "run", screenshots="never")
    result = await run_automation(browser, automation, options=options)
    assert result.status == "success" and internal.requests == ["/"]


def click(command: str, **fields: Any) -> dict[str, Any]:
    return action("interaction_action", "click_element", {"command": command, **fields})


@pytest.mark.parametrize("attribute", ["download", ""])
async def test_a_download_from_an_internal_server_fails(
    browser: Browser, tmp_path: Path, egress: EgressProxy, internal: Site, attribute: str
) -> None:
    # With the attribute Chromium downloads at once; without it the link navigates to a file that would download.
    start = f'data:text/html,<a id="get" href="{internal.url}/report.pdf" {attribute}>get</a>'
    result = await replay(browser, tmp_path, egress, start, [click('locator("#get")', expect_download=True)])
    assert_denied(result, internal, 'click_element on locator("#get")')
    assert result.downloads == []


async def test_a_click_that_navigates_to_an_internal_server_fails(
    browser: Browser, tmp_path: Path, egress: EgressProxy, internal: Site
) -> None:
    start = f'data:text/html,<a id="go" href="{internal.url}/metrics">go</a>'
    result = await replay(browser, tmp_path, egress, start, [click('locator("#go")')])
    assert_denied(result, internal, 'click_element on locator("#go")')
