"""The live view end to end: noVNC (shipped in the package) in Chromium watches a task that `rebrowse serve` runs."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, Page

from rebrowse.browser.display import live_view_available
from tests.browser.test_display import DODGER_BLUE, SOLID_PAGE
from tests.serving import Served, serve
from tests.waiting import eventually

pytestmark = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")

WAIT_S = 120.0  # the task runs this long unless cancelled: the test cancels it once it has seen the stream
SCREEN = "1280x720"
# Seed 004's client, as a dashboard would use it: the noVNC module the API serves, the stream URL, view only.
VIEWER = """<!doctype html>
<style>html,body{margin:0;background:#000}#screen{width:640px;height:360px}</style>
<div id="screen"></div>
<script type="module">
import RFB from "/static/novnc/core/rfb.js";
const rfb = new RFB(document.getElementById("screen"), STREAM_URL, {wsProtocols: ["binary"], credentials: {}});
rfb.viewOnly = true;
rfb.scaleViewport = true;
rfb.addEventListener("connect", () => { document.body.dataset.state = "connected"; });
rfb.addEventListener("disconnect", (e) => { document.body.dataset.state = e.detail.clean ? "ended" : "failed"; });
</script>
"""
# Decodes a PNG in the page and returns the share of its pixels near a colour (no image library needed here).
COLOUR_SHARE = """async ([png, [r, g, b]]) => {
  const bitmap = await createImageBitmap(await (await fetch("data:image/png;base64," + png)).blob());
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  let hits = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (Math.abs(pixels[i] - r) <= 8 && Math.abs(pixels[i + 1] - g) <= 8 && Math.abs(pixels[i + 2] - b) <= 8) hits++;
  }
  return hits / (pixels.length / 4);
}"""


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve(env={"REBROWSE_SCREEN": SCREEN}) as running:
        yield running


def running_task(api: httpx.Client) -> str:
    """A task showing a solid-colour page, running (and staying so) in a live-view slot."""
    automation = {
        "url": SOLID_PAGE,
        "parameters": {},
        "nodes": [{"type": "action_node", "sleep_action": {"sleep_time": WAIT_S}}],
        "take_final_screenshot": False,
    }
    assert api.put("/api/v1/automations/solid", json={"automation": automation}).status_code in (200, 201)
    submitted = api.post("/api/v1/inference", json={"endpoint_name": "solid", "input_parameters": {}})
    assert submitted.status_code == 202, submitted.text
    task_id: str = submitted.json()["task_id"]
    deadline = time.monotonic() + 60
    while api.get("/api/v1/task_status", params={"task_id": task_id}).json()["status"] != "running":
        assert time.monotonic() < deadline, "the task did not start running in time"
        time.sleep(0.1)  # polling a condition with a deadline
    return task_id


async def open_viewer(page: Page, base_url: str, stream_url: str) -> None:
    """Put the viewer in a page of the API's origin, as a dashboard would be, and let it connect."""
    # A page the API really served: Chromium then knows it comes from this machine and lets it open the
    # WebSocket to 127.0.0.1 (a response made up by the test would count as a public page and be blocked).
    await page.goto(base_url + "/api/v1/health")
    await page.set_content(VIEWER.replace("STREAM_URL", json.dumps(stream_url)))


async def canvas_share(page: Page) -> float:
    """The share of the noVNC canvas, as a screenshot shows it, in the task page's colour."""
    png = await page.locator("#screen canvas").screenshot()
    share: float = await page.evaluate(COLOUR_SHARE, [base64.b64encode(png).decode(), list(DODGER_BLUE)])
    return share


async def test_novnc_shows_the_running_task_and_ends_cleanly_with_it(served: Served, browser: Browser) -> None:
    with served.client() as api:
        task_id = running_task(api)
        response = api.get(f"/api/v1/tasks/{task_id}/stream")
        assert response.status_code == 200, response.text
        stream_url = response.json()["stream_url"]
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await open_viewer(page, served.url, stream_url)
            await page.wait_for_selector("body[data-state=connected]", timeout=30_000)

            async def task_page_visible() -> bool:
                # The task's page fills its window; the browser's tab strip and address bar take the top.
                return await canvas_share(page) > 0.7

            await eventually(task_page_visible, timeout_s=30, what="the task's page on the noVNC canvas")

            assert api.post(f"/api/v1/tasks/{task_id}/cancel").status_code == 200
            await page.wait_for_selector("body[data-state=ended]", timeout=30_000)
        finally:
            await context.close()
