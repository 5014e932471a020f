"""Chain automations with callbacks instead of polling.

Your server                                rebrowse
    │── submit (SDK) ───────────────────────▶│
    │                                        ├── runs the automation
    │◀──────────── POST /receive_callback ───┤   (signed, retried until delivered)
    └── use the result, submit the next ────▶│

A small FastAPI app receives rebrowse's callbacks, checks their signatures and wakes the workflow waiting
for that task. The workflow runs one automation per item, one after the other, each started only when the
previous one has reported back: nothing polls.

Run it against a rebrowse server (`rebrowse serve` prints its URL and key):

    pip install rebrowse          # brings httpx, fastapi and uvicorn
    REBROWSE_URL=http://127.0.0.1:8000 REBROWSE_API_KEY=rb_... python docs/examples/orchestration.py

Environment:
    REBROWSE_URL              the API (default http://127.0.0.1:8000)
    REBROWSE_API_KEY          an API key of your account (required)
    REBROWSE_SIGNING_SECRET   your account's signing secret in hex (default: asked from the API)
    RECEIVER_HOST, RECEIVER_PORT   where this script listens (default 127.0.0.1:4000)
    CALLBACK_URL              how rebrowse reaches this script (default http://RECEIVER_HOST:RECEIVER_PORT/receive_callback);
                              an internal address must be allowed on the server: REBROWSE_CALLBACK_ALLOW_HOSTS
    ENDPOINT_NAME             the automation to run (default demo_portal_search, the bundled demo)
    PARAMETER, ITEMS          the input parameter that changes and its values, comma-separated (default query,
                              "invoice,contract")
    UNIQUE                    comma-separated unique_parameter_names (default none)
    CALLBACK_TIMEOUT          seconds to wait for each callback (default 600)

It prints one JSON line per finished task and exits with 0 when every task succeeded.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request

import rebrowse

Payload = dict[str, Any]


@dataclass(frozen=True)
class Config:
    rebrowse_url: str
    api_key: str
    signing_secret: bytes | None
    host: str
    port: int
    callback_url: str
    endpoint: str
    parameter: str
    items: list[str]
    unique: list[str]
    callback_timeout: float

    @classmethod
    def from_env(cls) -> Config:
        host = os.environ.get("RECEIVER_HOST", "127.0.0.1")
        port = int(os.environ.get("RECEIVER_PORT", "4000"))
        secret = os.environ.get("REBROWSE_SIGNING_SECRET")
        return cls(
            rebrowse_url=os.environ.get("REBROWSE_URL", "http://127.0.0.1:8000"),
            api_key=os.environ["REBROWSE_API_KEY"],
            signing_secret=bytes.fromhex(secret) if secret else None,
            host=host,
            port=port,
            callback_url=os.environ.get("CALLBACK_URL", f"http://{host}:{port}/receive_callback"),
            endpoint=os.environ.get("ENDPOINT_NAME", "demo_portal_search"),
            parameter=os.environ.get("PARAMETER", "query"),
            items=comma_list(os.environ.get("ITEMS", "invoice,contract")),
            unique=comma_list(os.environ.get("UNIQUE", "")),
            callback_timeout=float(os.environ.get("CALLBACK_TIMEOUT", "600")),
        )


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class Callbacks:
    """Callbacks by task id. Either side may come first: a fast task can report back before `submit` returns."""

    def __init__(self) -> None:
        self._results: dict[str, asyncio.Future[Payload]] = {}
        self._seen_events: set[str] = set()

    def _future(self, task_id: str) -> asyncio.Future[Payload]:
        return self._results.setdefault(task_id, asyncio.get_running_loop().create_future())

    async def wait(self, task_id: str, timeout: float) -> Payload:
        try:
            return await asyncio.wait_for(self._future(task_id), timeout)
        finally:
            self._results.pop(task_id, None)

    def received(self, event_id: str, payload: Payload) -> None:
        # A callback is retried until it is acknowledged, so the same event may arrive twice.
        if event_id in self._seen_events:
            return
        self._seen_events.add(event_id)
        future = self._future(payload["task_id"])
        if not future.done():
            future.set_result(payload)


def receiver_app(secret: bytes, callbacks: Callbacks) -> FastAPI:
    """The endpoint rebrowse calls when a task ends."""
    app = FastAPI()

    @app.post("/receive_callback")
    async def receive_callback(request: Request) -> dict[str, bool]:
        body = await request.body()
        headers = request.headers
        if not rebrowse.verify_signature(
            secret, body, headers.get("x-rebrowse-timestamp"), headers.get("x-rebrowse-signature")
        ):
            raise HTTPException(status_code=401, detail="bad signature")
        callbacks.received(headers["x-rebrowse-event-id"], json.loads(body))
        return {"ok": True}

    return app


async def run_workflow(client: rebrowse.AsyncClient, config: Config, callbacks: Callbacks) -> list[Payload]:
    """One task per item, each submitted when the previous one has called back."""
    results = []
    for item in config.items:
        task_id = await client.submit(
            config.endpoint, {config.parameter: item}, unique=config.unique, callback_url=config.callback_url
        )
        result = await callbacks.wait(task_id, config.callback_timeout)
        line = {"item": item, "task_id": task_id, "status": result["status"], "error": result["error"]}
        print(json.dumps({**line, "output_data": result["output_data"]}), flush=True)
        results.append(result)
    return results


async def serve_until_done(config: Config) -> int:
    callbacks = Callbacks()
    async with rebrowse.AsyncClient(config.rebrowse_url, config.api_key) as client:
        secret = config.signing_secret or await client.signing_secret()
        app = receiver_app(secret, callbacks)
        server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # submit only once callbacks can be received
            if serving.done():
                return 2  # could not listen (the port is taken?)
            await asyncio.sleep(0.05)
        try:
            results = await run_workflow(client, config, callbacks)
        finally:
            server.should_exit = True
            await serving
    return 0 if all(result["status"] == "success" for result in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(serve_until_done(Config.from_env())))
