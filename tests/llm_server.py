"""An OpenAI-compatible chat-completions server on 127.0.0.1 whose answers a test scripts.

The real provider client (pydantic-ai's OpenAI model over the openai SDK) talks to it over HTTP, so a test sees
the requests as a provider would (messages, tools, response_format) and can answer with text, tool calls or errors.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Say:
    """Answer with assistant text."""

    content: str


@dataclass
class Call:
    """Answer with one tool call (pydantic-ai's structured output arrives as a call of `final_result`)."""

    name: str
    arguments: dict[str, Any]


@dataclass
class Fail:
    """Answer with an HTTP error, as a provider does when it is overloaded or refuses a key."""

    status: int
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)


Reply = Say | Call | Fail
Script = Callable[[dict[str, Any]], Reply]


def output_tool(request: dict[str, Any]) -> str:
    """The name of the tool pydantic-ai offers for the final answer."""
    names = [tool["function"]["name"] for tool in request.get("tools", [])]
    return next((n for n in names if n.startswith("final_result")), names[-1] if names else "final_result")


def snapshot_ref(text: str, role: str, name: str, after: str = "") -> str | None:
    """The reference of the first snapshot line `- role "name" ... [ref=X]` in `text` (past `after`, when given),
    read as a model would read it; None when there is none."""
    start = text.find(after) if after else 0
    line = rf'^\s*- {re.escape(role)} "{re.escape(name)}".*?\[ref=(\w+)\]'
    match = re.compile(line, re.MULTILINE).search(text, max(start, 0)) if start >= 0 else None
    return match[1] if match else None


def tokens_of(text: str) -> int:
    """A stand-in token count: whitespace-separated words (deterministic, roughly proportional)."""
    return len(text.split())


class ChatServer:
    """The server: replies come from `replies` in order, or from `script` when set; every request is kept."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.script: Script | None = None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.script is not None:
                return self.script(request)
            if not self.replies:
                return Fail(500, "the test scripted no more replies")
            return self.replies.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                reply = server.next_reply(request)
                if isinstance(reply, Fail):
                    self._send(reply.status, {"error": {"message": reply.message, "type": "scripted"}}, reply.headers)
                else:
                    self._send(200, completion(request, reply))

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def completion(request: dict[str, Any], reply: Say | Call) -> dict[str, Any]:
    """A chat.completion object with the reply and a usage count."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if isinstance(reply, Say):
        message["content"] = reply.content
        finish, out = "stop", reply.content
    else:
        arguments = json.dumps(reply.arguments)
        function = {"name": reply.name, "arguments": arguments}
        message["tool_calls"] = [{"id": f"call_{len(arguments)}", "type": "function", "function": function}]
        finish, out = "tool_calls", arguments
    prompt = json.dumps(request.get("messages", []))
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "test-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": tokens_of(prompt), "completion_tokens": tokens_of(out), "total_tokens": 0},
    }


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A running ChatServer, stopped after the test."""
    server = ChatServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
