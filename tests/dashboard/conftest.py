"""Dashboard fixtures: the API's in-process fixtures (session and steps tests), and for the pages a real
`rebrowse serve` (embedded PostgreSQL, a live-view worker), a callback receiver and a 1280x800 browser page."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from rebrowse.browser.display import live_view_available
from tests.api.conftest import acme, anonymous, app, login, other, queue, settings
from tests.serving import serve

__all__ = ["acme", "anonymous", "app", "login", "other", "queue", "settings"]

VIEWPORT = {"width": 1280, "height": 800}


@dataclass
class Served:
    """`rebrowse serve` on 127.0.0.1 and an httpx client holding its admin key."""

    url: str
    api: httpx.Client


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The whole stack as a user starts it, with live view on and a screenshot after every step."""
    if (missing := live_view_available()) is not None:
        pytest.skip(f"live view is not available: {missing}")
    env = {
        "REBROWSE_SCREEN": "1280x720",
        "REBROWSE_SCREENSHOTS": "every_step",
        "REBROWSE_CALLBACK_ALLOW_HOSTS": "127.0.0.1",
    }
    with serve(env=env) as running, running.client() as client:
        yield Served(running.url, client)


@dataclass
class Receiver:
    """A callback receiver on 127.0.0.1 that answers 200 and keeps every body it was sent."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            found.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/callback"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
async def dashboard(browser: Browser) -> AsyncIterator[Page]:
    """A page at 1280x800 in its own browser context (its own cookies); fails the test on any script error."""
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
    finally:
        await context.close()
    assert errors == [], f"uncaught errors in the dashboard's scripts: {errors}"
