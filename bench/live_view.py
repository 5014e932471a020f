"""Live-view benchmark: how fast a viewer sees a task, how many frames it gets, and what watching costs the slot.

Everything runs in this process on 127.0.0.1 with a temporary data directory (removed at the end): an embedded
PostgreSQL, the API under uvicorn, and one slot as a worker runs it (Xvfb + view-only x11vnc + headed Chromium,
1920x1080 by default) showing a page that animates. The task is recorded as running in that slot, as a worker
records it. The viewer is rebrowse.live.rfb over the API's WebSocket bridge, raw encoding. Measured:

1. stream request → first framebuffer update: GET /api/v1/tasks/{id}/stream, WebSocket connect, RFB
   handshake, a full framebuffer update read (p50 over --samples connections). Baseline: a viewer connected
   straight to the slot's VNC server, measured alternately.
2. frames per second: incremental updates received in --seconds while the page animates (same baseline).
3. CPU of the slot (Xvfb, x11vnc, Chromium and its children) in --seconds watched; baseline: unwatched.

Usage: python -m bench.live_view [--samples N] [--seconds S] [--width W] [--height H]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import uvicorn
from playwright.async_api import Browser, async_playwright
from rich.console import Console
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from bench.api import scratch_dir
from bench.report import Measure, run_alone
from rebrowse.api.app import create_app
from rebrowse.browser.display import LiveDisplay, free_port
from rebrowse.engine.contexts import ContextSpec, open_context
from rebrowse.live import rfb
from rebrowse.live.vnc_auth import vnc_password
from rebrowse.server import Runtime, runtime
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts, automations, tasks, worker_slots
from rebrowse.store.sealing import Sealer
from rebrowse.store.tasks import NewTask
from rebrowse.worker.slots import launch_slot_browser

ANIMATED_PAGE = (
    "data:text/html,<style>html,body{margin:0;height:100%}"
    "@keyframes shift{from{background:rgb(30,144,255)}to{background:rgb(255,140,0)}}"
    "body{animation:shift 1s linear infinite alternate}</style>"
)
BINARY = Subprotocol("binary")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes (and their reaped children) have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICKS_PER_S


async def chromium_pids(browser: Browser) -> list[int]:
    session = await browser.new_browser_cdp_session()
    try:
        info = await session.send("SystemInfo.getProcessInfo")
    finally:
        await session.detach()
    return [int(process["id"]) for process in info["processInfo"]]


@asynccontextmanager
async def serving(rt: Runtime) -> AsyncIterator[str]:
    """The API under uvicorn on a free port; yields its http:// base."""
    port = free_port()
    app = create_app(rt.settings, rt.db, rt.queue, rt.sealer)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                raise RuntimeError("the API did not start")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def running_task(rt: Runtime, vnc: worker_slots.VncAddress) -> tuple[uuid.UUID, str]:
    """An account's task recorded as running in a live slot; returns its id and the account's API key."""
    async with rt.db.transaction() as conn:
        account = await accounts.create_account(conn, rt.sealer, "bench")
        _, key = await accounts.create_key(conn, account.id, "bench")
        stored = await automations.put_automation(conn, rt.sealer, account.id, "watched", {"url": "about:blank"}, None)
        task = await tasks.create_task(
            conn, NewTask(account.id, "watched", stored.version, {}, None, [], None, 10.0, None, None)
        )
        await tasks.mark_allocated(conn, task.id, "bench-worker")
        await tasks.mark_running(conn, task.id, 0)
        await worker_slots.publish(conn, "bench-worker", 0, task.id, vnc)
    return task.id, key


async def stream_url(api: str, task_id: uuid.UUID, key: str) -> str:
    async with httpx.AsyncClient(base_url=api, headers={"x-api-key": key}) as client:
        response = await client.get(f"/api/v1/tasks/{task_id}/stream")
    response.raise_for_status()
    url: str = response.json()["stream_url"]
    return url


Viewer = Callable[[], AbstractAsyncContextManager[tuple[rfb.ByteStream, rfb.Framebuffer]]]


def through_api(api: str, task_id: uuid.UUID, key: str) -> Viewer:
    """A viewer as users get one: the stream URL from the API, then its WebSocket bridge."""

    @asynccontextmanager
    async def viewer() -> AsyncIterator[tuple[rfb.ByteStream, rfb.Framebuffer]]:
        async with connect(await stream_url(api, task_id, key), subprotocols=[BINARY], max_size=None) as connection:
            stream = rfb.WebSocketStream(connection)
            yield stream, await rfb.handshake(stream)

    return viewer


def direct(port: int, password: str) -> Viewer:
    """The baseline: a viewer connected straight to the slot's VNC server, with its password."""

    @asynccontextmanager
    async def viewer() -> AsyncIterator[tuple[rfb.ByteStream, rfb.Framebuffer]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stream = rfb.TcpStream(reader, writer)
        try:
            yield stream, await rfb.handshake(stream, password)
        finally:
            writer.close()

    return viewer


async def time_to_first_frame(viewer: Viewer) -> float:
    started = time.perf_counter()
    async with viewer() as (stream, framebuffer):
        await rfb.request_update(stream, framebuffer)
        await rfb.read_update(stream, framebuffer)
        return time.perf_counter() - started


async def watch(viewer: Viewer, seconds: float) -> float:
    """Incremental updates received per second over `seconds`."""
    async with viewer() as (stream, framebuffer):
        await rfb.request_update(stream, framebuffer)
        await rfb.read_update(stream, framebuffer)
        frames = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await rfb.request_update(stream, framebuffer, incremental=True)
            await rfb.read_update(stream, framebuffer)
            frames += 1
        return frames / seconds


async def slot_cpu(pids: list[int], seconds: float, during: Awaitable[object] | None = None) -> float:
    """CPU cores the slot used on average over `seconds` (or while `during` runs)."""
    before = cpu_seconds(pids)
    started = time.perf_counter()
    if during is None:
        await asyncio.sleep(seconds)
    else:
        await during
    return (cpu_seconds(pids) - before) / (time.perf_counter() - started)


def vnc_password_at(sealer: Sealer, port: int) -> str:
    return vnc_password(sealer, worker_slots.VncAddress("127.0.0.1", port))


@dataclass
class Figures:
    bridged_first: list[float]
    direct_first: list[float]
    bridged_fps: float
    direct_fps: float
    unwatched_cpu: float
    watched_cpu: float


async def measure(args: argparse.Namespace, data_dir: Path) -> Figures:
    settings = ServerSettings(data_dir=data_dir)
    async with (
        runtime(settings, migrate_schema=True) as rt,
        serving(rt) as api,
        LiveDisplay(args.width, args.height, password=partial(vnc_password_at, rt.sealer)) as display,
        async_playwright() as playwright,
    ):
        browser = await launch_slot_browser(playwright, None, display)
        try:
            # As in a worker's slot: the window opens on the parking tile and is placed on the slot's tile.
            page = await (await open_context(browser, ContextSpec(window=display.tiles[0]))).new_page()
            await page.goto(ANIMATED_PAGE)
            task_id, key = await running_task(rt, worker_slots.VncAddress("127.0.0.1", display.vnc_ports[0]))
            bridged = through_api(api, task_id, key)
            baseline = direct(display.vnc_ports[0], vnc_password_at(rt.sealer, display.vnc_ports[0]))
            bridged_first, direct_first = [], []
            for _ in range(args.samples):  # alternately, so that both see the same machine
                bridged_first.append(await time_to_first_frame(bridged))
                direct_first.append(await time_to_first_frame(baseline))
            direct_fps = await watch(baseline, args.seconds)
            pids = [*display.pids, *await chromium_pids(browser)]
            unwatched = await slot_cpu(pids, args.seconds)
            watching = asyncio.ensure_future(watch(bridged, args.seconds))
            watched = await slot_cpu(pids, args.seconds, watching)
        finally:
            await browser.close()
    return Figures(bridged_first, direct_first, watching.result(), direct_fps, unwatched, watched)


def measures(figures: Figures, args: argparse.Namespace) -> list[Measure]:
    """The viewer's experience through the API against a viewer on the VNC server itself, and watching's cost."""
    bridged, plain = statistics.median(figures.bridged_first), statistics.median(figures.direct_first)
    return [
        Measure(
            f"live view {args.width}x{args.height}: stream request → first frame, p50",
            "—",
            f"{bridged:.3f} s",
            f"straight to VNC: {plain:.3f} s",
            bridged / plain,
        ),
        Measure(
            "live view: frames/s of an animating page",
            "—",
            f"{figures.bridged_fps:.1f}",
            f"straight to VNC: {figures.direct_fps:.1f}",
            figures.bridged_fps / figures.direct_fps,
        ),
        Measure(
            "live view: slot CPU while watched (cores)",
            "—",
            f"{figures.watched_cpu:.2f}",
            f"unwatched: {figures.unwatched_cpu:.2f}",
            figures.watched_cpu / figures.unwatched_cpu if figures.unwatched_cpu else None,
        ),
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    return parser.parse_args(argv)


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark and return its measures."""
    args = parse_args(argv)
    console.print("measuring the live view…", style="dim")
    with scratch_dir("rebrowse-bench-live-") as data_dir:
        return measures(asyncio.run(measure(args, data_dir)), args)


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; 1 when something failed (a missed target is reported, not an error)."""
    return run_alone("Live view over the API's WebSocket bridge", collect, argv, ())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
