"""Servers for tests: `rebrowse serve` started as a user starts it, and an app on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.waiting import eventually, free_port

ADMIN_KEY = "rb_test_admin_key_0123456789abcdefghijklmnop"
START_DEADLINE_S = 90.0
STOP_DEADLINE_S = 60.0


@dataclass
class Served:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    env: dict[str, str]

    def cli(
        self, *args: str, key: str = ADMIN_KEY, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "REBROWSE_URL": self.url, "REBROWSE_API_KEY": key, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "rebrowse.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )

    def client(self, key: str = ADMIN_KEY) -> httpx.Client:
        """An HTTP client of the API with the key."""
        return httpx.Client(base_url=self.url, headers={"x-api-key": key}, timeout=30)


def wait_until_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"rebrowse serve exited with {process.returncode}"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling a condition with a deadline
    raise AssertionError("rebrowse serve did not become healthy in time")


def stop_group(process: subprocess.Popen[Any], deadline_s: float = 5.0) -> None:
    """Stop the process and everything in its session: SIGTERM first, so that each can clean up (x11vnc removes
    its shared memory segments, which SIGKILL would leak for good), then SIGKILL whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=deadline_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@contextlib.contextmanager
def serve(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`rebrowse serve ARGS` on a free port in a fresh data directory, stopped (its whole group) on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix="rebrowse-serve-test-"))
    port = free_port()
    environment = {
        **os.environ,
        "REBROWSE_API_KEY": ADMIN_KEY,
        "PYTHONUNBUFFERED": "1",
        "REBROWSE_BROWSER_ALLOW_HOSTS": "127.0.0.1",  # the fixture sites' host, which the egress policy denies
        **(env or {}),
    }
    environment.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "rebrowse.cli", "serve", *args, "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        yield Served(url, data_dir, process, environment)
    finally:
        stop_group(process)
        if process.stdout:
            process.stdout.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real port of 127.0.0.1 (WebSockets need a real server); yields its ws:// base."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or serving.done(), what="the API server to start")
        assert server.started
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
