"""A page of another origin embeds the live view the way Optexity's LiveStreamViewer sample (seed 004) does: it asks
the API for the stream URL with its key, loads the noVNC client from the API, and watches the task's browser."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.async_api import Page, expect

from rebrowse.browser.display import live_view_available
from rebrowse.demo.site import SiteServer
from tests.dashboard.conftest import Served
from tests.dashboard.test_pages import automation, put, submit
from tests.serving import ADMIN_KEY, serve
from tests.waiting import eventually

# The sample's logic without React: fetch the stream URL with the key, hand it to noVNC's RFB, view only.
VIEWER = """<!doctype html>
<html><body><div id="screen" style="width:640px;height:360px"></div><p id="state">loading</p>
<script type="module">
const params = new URLSearchParams(location.search);
const api = params.get("api"), state = document.getElementById("state");
try {
  const { default: RFB } = await import(`${api}/static/novnc/core/rfb.js`);
  const res = await fetch(`${api}/api/v1/tasks/${params.get("task")}/stream`,
                          { headers: { "x-api-key": params.get("key") } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const { stream_url } = await res.json();
  const rfb = new RFB(document.getElementById("screen"), stream_url, { wsProtocols: ["binary"], credentials: {} });
  rfb.viewOnly = true;
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => { state.textContent = "connected"; });
  rfb.addEventListener("disconnect", () => { state.textContent = "disconnected"; });
} catch (error) {
  state.textContent = `error: ${error}`;
}
</script></body></html>"""


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    """Another origin (another port of 127.0.0.1) serving the viewer page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = VIEWER.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(origin: str) -> Iterator[Served]:
    if (missing := live_view_available()) is not None:
        pytest.skip(f"live view is not available: {missing}")
    env = {"REBROWSE_SCREEN": "1280x720", "REBROWSE_CORS_ORIGINS": origin}
    with serve(env=env) as running, running.client() as client:
        yield Served(running.url, client)


async def painted(page: Page) -> bool:
    """The viewer's canvas shows the task's (white) page."""
    return bool(
        await page.evaluate(
            """() => {
                const canvas = document.querySelector("#screen canvas");
                if (!canvas || canvas.width < 100) return false;
                const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
                let sum = 0;
                for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
                return sum / (data.length / 4) > 200;
            }"""
        )
    )


async def running_task(served: Served, site: SiteServer) -> str:
    put(served, "cors-live", automation(site, pause_s=60))
    task_id = submit(served, "cors-live", "cors")
    running = lambda: served.api.get(f"/api/v1/tasks/{task_id}").json()["status"] == "running"  # noqa: E731
    await eventually(running, timeout_s=60, what="the task runs")
    return task_id


async def test_a_page_of_an_allowed_origin_watches_the_live_view(
    dashboard: Page, served: Served, site: SiteServer, origin: str
) -> None:
    task_id = await running_task(served, site)
    try:
        query = urlencode({"api": served.url, "key": ADMIN_KEY, "task": task_id})
        await dashboard.goto(f"{origin}/viewer.html?{query}")
        await expect(dashboard.locator("#state")).to_have_text("connected", timeout=30_000)
        await eventually(lambda: painted(dashboard), what="the canvas shows the task's page")
    finally:
        served.api.post(f"/api/v1/tasks/{task_id}/cancel")


async def test_a_page_of_another_origin_is_refused(dashboard: Page, served: Served, origin: str) -> None:
    other = origin.replace("127.0.0.1", "localhost")  # the same server under a name that is not allowed
    query = urlencode({"api": served.url, "key": ADMIN_KEY, "task": "00000000-0000-0000-0000-000000000000"})
    await dashboard.goto(f"{other}/viewer.html?{query}")
    # The browser refuses the module script (no CORS header for this origin) before any request with the key.
    await expect(dashboard.locator("#state")).to_have_text(re.compile(r"^error: TypeError"))


def test_preflight_names_the_allowed_origin_and_the_key_header(served: Served, origin: str) -> None:
    headers = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key,content-type",
    }
    allowed = served.api.options("/api/v1/inference", headers=headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    refused = served.api.options("/api/v1/inference", headers={**headers, "origin": "http://evil.example"})
    assert "access-control-allow-origin" not in refused.headers
