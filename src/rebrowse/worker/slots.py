"""Slots: where a worker's tasks run, at most one per slot, all in one shared Chromium kept between tasks.

Every task gets fresh contexts. With live view, Chromium runs headed on an Xvfb display that has a tile per slot,
each shown by its own view-only VNC server. While a slot is idle, it opens the context its next task will most
likely ask for (see worker.prepared).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

from rebrowse.browser.display import LiveDisplay, LiveViewUnavailable
from rebrowse.browser.egress import EgressProxy
from rebrowse.browser.launch import launch_chromium
from rebrowse.browser.windows import ScreenArea
from rebrowse.engine.contexts import ContextSource, ContextSpec
from rebrowse.errors import RebrowseError
from rebrowse.live.vnc_auth import vnc_password
from rebrowse.store.sealing import Sealer
from rebrowse.store.worker_slots import VncAddress
from rebrowse.worker.prepared import PreparedContext, SlotContexts

logger = logging.getLogger(__name__)

LAUNCH_ATTEMPTS = 2
ScreenSize = tuple[int, int]


@dataclass(frozen=True)
class LiveView:
    """How the slots of a worker with live view run: headed on a tile of the display each, watchable over VNC."""

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
    """Starts the slots' Chromium: headless, or headed on the display given."""

    def __call__(self, display: LiveDisplay | None = None) -> Awaitable[Browser]: ...


class BrowserUnavailable(RebrowseError):
    """Chromium could not be started for this task."""


async def launch_slot_browser(
    playwright: Playwright, executable: str | None, display: LiveDisplay | None = None, *, proxy: str | None = None
) -> Browser:
    """The one place the slots' Chromium is launched: headed on their display when they have one, its new windows
    parked where no viewer sees them until they are placed on their slot's tile; through the egress `proxy` (the
    slots' contexts each go through their own)."""
    if display is None:
        return await launch_chromium(playwright, executable=executable, headless=True, proxy=proxy)
    return await launch_chromium(
        playwright,
        executable=executable,
        headless=False,
        display=display.display,
        xauthority=display.xauthority,
        new_windows=display.parking,
        proxy=proxy,
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


class SharedBrowser:
    """The worker's Chromium, shared by its slots: each task has contexts of its own, so it is as isolated as in a
    browser of its own, and an extra task costs a renderer rather than a whole browser.

    With live view, Chromium runs headed on one display that has a tile per slot, each shown by its own VNC server.
    A browser that crashed (or never started) is launched again for the next task. One that grew past its memory
    limit is retired: new tasks get a new browser at once, and the old one is closed when its last task ends.
    """

    def __init__(self, launch: Launcher, *, tiles: int, max_memory_bytes: int, live: LiveView | None) -> None:
        self.display: LiveDisplay | None = None
        self.launches = 0
        self._launch = launch
        self._tiles = tiles
        self._max_memory = max_memory_bytes
        self._live = live
        self._current: Browser | None = None
        self._leases: dict[Browser, int] = {}  # tasks running in each browser, the current one and retired ones
        self._lock = asyncio.Lock()

    @property
    def current(self) -> Browser | None:
        """The browser new tasks go to, when it runs."""
        return self._current if self._current is not None and self._current.is_connected() else None

    def window(self, tile: int) -> ScreenArea | None:
        """The area of the display slot `tile`'s windows go to; None when the slots run headless."""
        return self.display.tiles[tile] if self.display is not None else None

    def vnc(self, tile: int) -> VncAddress | None:
        """Where slot `tile` can be watched; None when the slots run headless."""
        port = self.display.vnc_ports[tile] if self.display is not None else 0
        return self._live.address(port) if self._live is not None and port else None

    async def running(self) -> Browser:
        """The current browser, launched (on a running display, with live view) when there is none."""
        async with self._lock:
            if self.display is not None and not self.display.running:
                await self._mend_display(self.display)
            if self._live is not None and self.display is None:
                await self._start_display(self._live)
            if self.current is None:
                await self._launch_new("it is not running" if self._current is not None else "")
            assert self._current is not None
            return self._current

    async def lease(self) -> Browser:
        """The current browser for one task, which gives it back with release()."""
        browser = await self.running()
        self._leases[browser] = self._leases.get(browser, 0) + 1
        return browser

    async def release(self, browser: Browser) -> None:
        """A task is done with `browser`: a retired browser closes once no task uses it."""
        if browser not in self._leases:
            return  # closed with the pool
        self._leases[browser] -= 1
        if self._leases[browser] == 0 and browser is not self._current:
            del self._leases[browser]
            await close_browser(browser)

    async def check_memory(self) -> None:
        """Retire the current browser when it uses more memory than its limit."""
        browser = self.current
        if browser is None:
            return
        used = await browser_memory(browser)
        if used > self._max_memory:
            logger.info("retiring Chromium: it uses %d MB (limit %d MB)", used // 2**20, self._max_memory // 2**20)
            async with self._lock:
                if browser is self._current:
                    await self._retire()

    async def _launch_new(self, reason: str) -> None:
        """Launch the browser new tasks go to; BrowserUnavailable when that keeps failing."""
        if reason:
            logger.info("restarting Chromium because %s", reason)
        await self._retire()
        error: Exception | None = None
        for _ in range(LAUNCH_ATTEMPTS):
            try:
                self._current = await self._launch(self.display)
            except Exception as exc:  # a launch can fail for many reasons; the next attempt may succeed
                error = exc
                continue
            self.launches += 1
            return
        raise BrowserUnavailable(f"Chromium could not be started: {error}") from error

    async def _retire(self) -> None:
        """New tasks no longer go to the current browser; it is closed now when no task uses it, else by release()."""
        browser, self._current = self._current, None
        if browser is not None and not self._leases.get(browser):
            self._leases.pop(browser, None)
            await close_browser(browser)

    async def _start_display(self, live: LiveView) -> None:
        display = LiveDisplay(*live.screen, password=live.password, listen=live.listen, tiles=self._tiles)
        try:
            await display.start()
        except LiveViewUnavailable as exc:
            # The slots still run tasks, headless; the stream endpoint says there is no live view.
            logger.warning("slots run headless: %s", exc)
            self._live = None
            return
        self.display = display

    async def _mend_display(self, display: LiveDisplay) -> None:
        """Start again the VNC servers that stopped; when the screen itself stopped, drop it and the browser."""
        if display.screen_running:
            logger.warning("a slot's VNC server stopped; starting it again")
            with contextlib.suppress(LiveViewUnavailable):  # tried again before the next task
                await display.restart_stopped_vncs()
            return
        logger.warning("the slots' display stopped; starting a new one and a new Chromium on it")
        await self._stop_display()
        await self._retire()

    async def _stop_display(self) -> None:
        display, self.display = self.display, None
        if display is not None:
            await display.stop()

    async def close(self) -> None:
        """Close every browser, then stop the display and its VNC servers."""
        async with self._lock:
            browsers = {*self._leases, *([self._current] if self._current is not None else [])}
            self._current = None
            self._leases.clear()
            await asyncio.gather(*(close_browser(browser) for browser in browsers))
            await self._stop_display()


async def close_browser(browser: Browser) -> None:
    with contextlib.suppress(PlaywrightError):
        await browser.close()


class Slot:
    """Where one task runs at a time: contexts of its own in the shared browser, and its own tile of the display."""

    def __init__(self, index: int, shared: SharedBrowser, egress: EgressProxy | None = None) -> None:
        self.index = index
        self.egress = egress  # the slot's own egress proxy: its denials are those of the task in the slot
        self.browser: Browser | None = None  # the browser of the task running in the slot
        self._shared = shared
        self._prepared = PreparedContext()
        self._contexts: SlotContexts | None = None

    @property
    def vnc(self) -> VncAddress | None:
        """Where the slot's live view can be watched; None when the slot runs headless."""
        return self._shared.vnc(self.index)

    @property
    def window(self) -> ScreenArea | None:
        """The area of the display the slot's windows go to; None when the slot runs headless."""
        return self._shared.window(self.index)

    async def for_task(self) -> ContextSource:
        """Where the running task's contexts come from: its browser, the context prepared for it first."""
        if self._contexts is None:
            raise BrowserUnavailable("the slot runs no task")
        return self._contexts

    def prepare(self, browser: Browser) -> None:
        """While the slot is idle, open the context and page of its next task (one that emulates no OS)."""
        proxy = self.egress.proxy_url if self.egress is not None else None
        self._prepared.start(browser, ContextSpec(window=self.window, proxy=proxy))

    async def begin(self) -> None:
        """Lease the shared browser for a task."""
        self.browser = await self._shared.lease()
        self._contexts = SlotContexts(self.browser, self._prepared)

    async def end(self) -> None:
        """After a task: close the contexts it opened and give the browser back."""
        contexts, self._contexts = self._contexts, None
        browser, self.browser = self.browser, None
        if contexts is not None:
            await contexts.close_all()
        if browser is not None:
            await self._shared.release(browser)

    async def shutdown(self) -> None:
        """Close the context prepared for a next task."""
        await self._prepared.discard()


class SlotPool:
    """N slots sharing the worker's browser; a task takes a free one for its whole run."""

    def __init__(
        self,
        launch: Launcher,
        count: int,
        *,
        max_memory_mb: float,
        live: LiveView | None = None,
        egress: Sequence[EgressProxy] = (),
    ) -> None:
        """With live view, each slot has a tile of the display, watchable over VNC. The browser is retired when it
        uses more than `max_memory_mb` per slot. With `egress` (a proxy per slot), each slot's contexts go through
        its own proxy."""
        limit = int(max_memory_mb * 2**20) * count
        self.browsers = SharedBrowser(launch, tiles=count, max_memory_bytes=limit, live=live)
        self.slots = [Slot(index, self.browsers, egress[index] if egress else None) for index in range(count)]
        self._reported_restarts = 0
        self._free: asyncio.Queue[Slot] = asyncio.Queue()
        for slot in self.slots:
            self._free.put_nowait(slot)

    async def start(self) -> None:
        """Launch the browser and open every slot's first context, so the first tasks wait for neither."""
        browser = await self.browsers.running()
        for slot in self.slots:
            slot.prepare(browser)

    @contextlib.asynccontextmanager
    async def take_slot(self) -> AsyncIterator[Slot]:
        """A free slot, the browser ready, for one task; afterwards what the task left open is closed."""
        slot = await self._free.get()
        try:
            await slot.begin()
            yield slot
        finally:
            try:
                await slot.end()
                await self._prepare_idle()
            finally:
                self._free.put_nowait(slot)

    async def _prepare_idle(self) -> None:
        """Retire a bloated browser, then have every idle slot's next context opened in the current one."""
        try:
            await self.browsers.check_memory()
            browser = await self.browsers.running()
        except (RebrowseError, PlaywrightError) as exc:
            # The next task tries again; the slot must go back to the pool either way.
            logger.warning("could not prepare Chromium for the next tasks: %s", exc)
            return
        for slot in self.slots:
            if slot.browser is None:
                slot.prepare(browser)

    def restarts_to_report(self) -> int:
        """Browser restarts (every launch after the first) not yet marked reported."""
        return max(0, self.browsers.launches - 1) - self._reported_restarts

    def mark_restarts_reported(self, count: int) -> None:
        """`count` restarts have been added to the durable counter."""
        self._reported_restarts += count

    async def close(self) -> None:
        """Close every slot's prepared context and the browser, and stop the display."""
        await asyncio.gather(*(slot.shutdown() for slot in self.slots))
        await self.browsers.close()
