"""Slots: each keeps one Chromium running between tasks; every task gets a fresh context in it.

With live view, a slot also owns an Xvfb display with a view-only VNC server: its Chromium runs headed there.
While a slot is idle, it opens the context its next task will most likely ask for (see worker.prepared).

A browser that crashed (or never started) is launched again before the next task, and one that grew past
the memory limit is restarted between tasks, so a long-lived worker does not drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

from rebrowse.browser.display import LiveDisplay, LiveViewUnavailable
from rebrowse.browser.launch import launch_chromium
from rebrowse.engine.contexts import ContextSource, ContextSpec
from rebrowse.errors import RebrowseError
from rebrowse.live.registry import VncAddress
from rebrowse.live.vnc_auth import vnc_password
from rebrowse.store.sealing import Sealer
from rebrowse.worker.prepared import PreparedContext, SlotContexts

logger = logging.getLogger(__name__)

LAUNCH_ATTEMPTS = 2
ScreenSize = tuple[int, int]


@dataclass(frozen=True)
class LiveView:
    """How the slots of a worker with live view run: headed on their own display, watchable over VNC."""

    screen: ScreenSize
    sealer: Sealer  # derives each VNC server's password
    listen: str = "127.0.0.1"  # the address each slot's VNC server binds
    advertise: str = "127.0.0.1"  # the host the API reaches those servers by

    def address(self, port: int) -> VncAddress:
        return VncAddress(self.advertise, port)

    def password(self, port: int) -> str:
        """The password of the VNC server on `port`."""
        return vnc_password(self.sealer, self.address(port))


class Launcher(Protocol):
    """Starts a slot's Chromium: headless, or headed on the display given."""

    def __call__(self, display: LiveDisplay | None = None) -> Awaitable[Browser]: ...


class BrowserUnavailable(RebrowseError):
    """Chromium could not be started for this task."""


async def launch_slot_browser(
    playwright: Playwright, executable: str | None, display: LiveDisplay | None = None
) -> Browser:
    """The one place a slot's Chromium is launched: headed, filling the slot's display when it has one."""
    if display is None:
        return await launch_chromium(playwright, executable=executable, headless=True)
    size = (display.width, display.height)
    return await launch_chromium(
        playwright, executable=executable, headless=False, display=display.display, window_size=size
    )


def process_memory(pid: int) -> int:
    """Bytes of memory a process accounts for: its proportional share (PSS), else its resident set."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return 0  # the process is gone


async def browser_memory(browser: Browser) -> int:
    """Bytes used by all of the browser's processes (browser, renderers, GPU, utilities)."""
    session = await browser.new_browser_cdp_session()
    try:
        info = await session.send("SystemInfo.getProcessInfo")
    finally:
        await session.detach()
    return sum(process_memory(int(process["id"])) for process in info["processInfo"])


class Slot:
    """One Chromium, reused across tasks."""

    def __init__(self, index: int, launch: Launcher, max_memory_bytes: int, live: LiveView | None = None) -> None:
        self.index = index
        self.browser: Browser | None = None
        self.display: LiveDisplay | None = None
        self.launches = 0
        self._launch = launch
        self._max_memory = max_memory_bytes
        self._live = live
        self._prepared = PreparedContext()

    @property
    def vnc(self) -> VncAddress | None:
        """Where the slot's live view can be watched; None when the slot runs headless."""
        return self._live.address(self.display.vnc_port) if self._live and self.display else None

    @property
    def headed(self) -> bool:
        """Whether the slot's Chromium runs headed on a display (its pages then fill its window)."""
        return self.display is not None

    async def ready(self) -> Browser:
        """A connected browser: the running one, or a new one when it crashed or never started."""
        if self.display is not None and not self.display.running:
            logger.warning("slot %d: its display stopped; starting a new one and a new Chromium on it", self.index)
            await self.shutdown()
        if self._live is not None and self.display is None:
            await self._start_display(self._live)
        if self.browser is None or not self.browser.is_connected():
            await self.restart("it is not running")
        assert self.browser is not None
        return self.browser

    async def for_task(self) -> ContextSource:
        """Where a task's contexts come from: ready()'s browser, the context prepared for it first."""
        return SlotContexts(await self.ready(), self._prepared)

    def prepare(self) -> None:
        """While the slot is idle, open the context and page of its next task (one that emulates no OS)."""
        if self.browser is not None and self.browser.is_connected():
            self._prepared.start(self.browser, ContextSpec(fills_window=self.headed))

    async def restart(self, reason: str) -> None:
        """Close the browser (if any) and launch a new one; BrowserUnavailable when that keeps failing."""
        if self.browser is not None:
            logger.info("slot %d: restarting Chromium because %s", self.index, reason)
            await self.close()
        error: Exception | None = None
        for _ in range(LAUNCH_ATTEMPTS):
            try:
                self.browser = await self._launch(self.display)
            except Exception as exc:  # a launch can fail for many reasons; the next attempt may succeed
                error = exc
                continue
            self.launches += 1
            return
        raise BrowserUnavailable(f"Chromium could not be started: {error}") from error

    async def recycle(self) -> None:
        """After a task: close what it left open; restart a crashed or bloated browser for the next one."""
        browser = self.browser
        await self._prepared.discard()
        try:
            if browser is None or not browser.is_connected():
                await self.restart("it crashed")
                return
            for context in browser.contexts:
                with contextlib.suppress(PlaywrightError):
                    await context.close()
            used = await browser_memory(browser)
            if used > self._max_memory:
                await self.restart(f"it uses {used // 2**20} MB (limit {self._max_memory // 2**20} MB)")
        except (RebrowseError, PlaywrightError) as exc:
            # The next task's ready() tries again; this slot must go back to the pool either way.
            logger.warning("slot %d: could not prepare Chromium for the next task: %s", self.index, exc)

    async def _start_display(self, live: LiveView) -> None:
        display = LiveDisplay(*live.screen, password=live.password, listen=live.listen)
        try:
            await display.start()
        except LiveViewUnavailable as exc:
            # The slot still runs tasks, headless; the stream endpoint says there is no live view.
            logger.warning("slot %d: running headless: %s", self.index, exc)
            self._live = None
            return
        self.display = display

    async def close(self) -> None:
        """Close the browser; the next ready() launches a new one."""
        await self._prepared.discard()
        browser, self.browser = self.browser, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError):
                await browser.close()

    async def shutdown(self) -> None:
        """Close the browser, then stop the slot's display and VNC server."""
        await self.close()
        display, self.display = self.display, None
        if display is not None:
            await display.stop()


class SlotPool:
    """N slots; a task takes a free one for its whole run."""

    def __init__(self, launch: Launcher, count: int, *, max_memory_mb: float, live: LiveView | None = None) -> None:
        """With live view, each slot runs headed on its own display, watchable over VNC."""
        self.slots = [Slot(index, launch, int(max_memory_mb * 2**20), live) for index in range(count)]
        self._reported_restarts = 0
        self._free: asyncio.Queue[Slot] = asyncio.Queue()
        for slot in self.slots:
            self._free.put_nowait(slot)

    async def start(self) -> None:
        """Launch every slot's browser, so the first tasks do not wait for a launch."""
        await asyncio.gather(*(slot.ready() for slot in self.slots))
        for slot in self.slots:
            slot.prepare()

    @contextlib.asynccontextmanager
    async def take_slot(self) -> AsyncIterator[Slot]:
        """A free slot, its browser ready, for one task; afterwards its leftovers are closed and it is freed."""
        slot = await self._free.get()
        try:
            await slot.ready()
            yield slot
        finally:
            try:
                await slot.recycle()
                slot.prepare()
            finally:
                self._free.put_nowait(slot)

    def restarts_to_report(self) -> int:
        """Browser restarts (every launch after a slot's first) not yet marked reported."""
        return sum(max(0, slot.launches - 1) for slot in self.slots) - self._reported_restarts

    def mark_restarts_reported(self, count: int) -> None:
        """`count` restarts have been added to the durable counter."""
        self._reported_restarts += count

    async def close(self) -> None:
        """Close every slot's browser and stop its display."""
        await asyncio.gather(*(slot.shutdown() for slot in self.slots))
