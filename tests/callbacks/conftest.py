"""Callback fixtures: a real HTTP receiver on 127.0.0.1, a running sender, and finished tasks with callbacks."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from rebrowse import lifecycle
from rebrowse.callbacks.sender import run_sender
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.waiting import eventually

PUBLIC_URL = "http://rebrowse.test"


@asynccontextmanager
async def serve_asgi(app: ASGIApp, **options: Any) -> AsyncIterator[str]:
    """Serve the app with uvicorn on 127.0.0.1 in this event loop (options: uvicorn's); yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", **options))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or serving.done(), what="the HTTP server to start")
        scheme = "https" if options.get("ssl_certfile") else "http"
        yield f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """A callback receiver that answers the scripted statuses in order, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.received.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@asynccontextmanager
async def serving_receiver() -> AsyncIterator[Receiver]:
    """A Receiver served on 127.0.0.1 at `receiver.url`."""
    hook = Receiver()
    async with serve_asgi(Starlette(routes=[Route("/hook", hook.handle, methods=["POST"])])) as base:
        hook.url = f"{base}/hook"
        yield hook


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as hook:
        yield hook


@asynccontextmanager
async def running_sender(db: Database, sealer: Sealer, allow: tuple[str, ...] = ("127.0.0.1",)) -> AsyncIterator[None]:
    """The background sender, stopped (and awaited) when the block ends."""
    stop = asyncio.Event()
    settings = ServerSettings(callback_allow_hosts=allow)
    sending = asyncio.create_task(run_sender(db, sealer, settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(sending, 30)


async def submitted_task(
    db: Database, sealer: Sealer, callback_url: str | None, *, api_key: str | None = None, **changes: Any
) -> tasks.Task:
    """A queued task of a new account, with a callback to `callback_url`."""
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, f"acme-{uuid.uuid4().hex[:6]}")
        fields: dict[str, Any] = {
            "account_id": account.id,
            "endpoint_name": "lookup",
            "automation_version": 3,
            "input_parameters": {"user": ["ada"], "query": ["x"]},
            "secure_parameters": None,
            "unique_parameter_names": ["user"],
            "priority": None,
            "max_timeout_in_minutes": 10.0,
            "callback_url": callback_url,
            "callback_api_key": sealer.seal_json(api_key) if api_key is not None else None,
        }
        fields.update(changes)
        return await tasks.create_task(conn, tasks.NewTask(**fields))


async def finished_task(
    db: Database,
    sealer: Sealer,
    callback_url: str | None,
    outcome: tasks.Outcome | None = None,
    *,
    final_screenshot: bytes | None = None,
    **kwargs: Any,
) -> tasks.Task:
    """A task ended through the lifecycle (its callback event queued), with the final screenshot's bytes a worker
    would hand over."""
    task = await submitted_task(db, sealer, callback_url, **kwargs)
    done = await lifecycle.complete_task(
        db,
        sealer,
        task.id,
        outcome or tasks.Outcome("success", output_data=[{"n": 1}]),
        public_url=PUBLIC_URL,
        final_screenshot=final_screenshot,
    )
    assert done is not None
    return done
