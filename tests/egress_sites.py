"""Sites for the egress tests: an allowed site (a page that reaches for another address, a redirect) and an
"internal" server standing for /metrics or the cloud metadata service, which records every request it gets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET = "internal-secret-4711"  # what the internal server answers: it must reach no output
# A page that fetch()es, loads an image from and opens a WebSocket to ?target=, then shows how each ended.
REACHING_PAGE = """<!doctype html><title>reaching</title><div id="done"></div><script>
const target = new URLSearchParams(location.search).get("target");
const fetched = fetch(target + "/fetched").then(r => r.text(), () => "fetch error");
const image = new Promise(done => {
  const img = new Image(); img.onload = () => done("image loaded"); img.onerror = () => done("image error");
  img.src = target + "/image.png";
});
const socket = new Promise(done => {
  const ws = new WebSocket(target.replace("http", "ws") + "/socket");
  ws.onopen = () => done("socket open"); ws.onerror = () => done("socket error");
});
Promise.all([fetched, image, socket]).then(r => { document.getElementById("done").textContent = r.join(", "); });
</script>"""


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/redirect":
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/page":
            self.answer(REACHING_PAGE, "text/html")
        else:
            self.answer(SECRET, "text/plain")

    def answer(self, text: str, content_type: str) -> None:
        body = text.encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[str] = []

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"


@contextmanager
def running_site() -> Iterator[Site]:
    """A site on a free port of 127.0.0.1, stopped on exit."""
    site = Site()
    thread = threading.Thread(target=site.serve_forever, name="egress-test-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()
        thread.join(timeout=10)
