"""Waiting in tests: poll a condition with a deadline (never a bare sleep), and free ports on 127.0.0.1."""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.02


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, timeout_s: float = 30.0, what: str = "condition"
) -> None:
    """Poll `check` (sync or async) until it holds; fail the test when the deadline passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = check()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_S)


def until(check: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "condition") -> None:
    """`eventually` for synchronous tests."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S * 5)


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
