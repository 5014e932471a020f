"""Slots: each keeps one Chromium running between tasks; every task gets a fresh context in it.

A browser that crashed (or never started) is launched again before the next task, and one that grew past
the memory limit is restarted between tasks, so a long-lived worker does not drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

from rebrowse.browser.launch import launch_chromium
from rebrowse.errors import RebrowseError

logger = logging.getLogger(__name__)

LAUNCH_ATTEMPTS = 2
Launcher = Callable[[], Awaitable[Browser]]


class BrowserUnavailable(RebrowseError):
    """Chromium could not be started for this task."""


async def launch_slot_browser(playwright: Playwright, executable: str | None) -> Browser:
    """The one place a slot's Chromium is launched (headless for now; live view will make it headed)."""
    return await launch_chromium(playwright, executable=executable, headless=True)


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

    def __init__(self, index: int, launch: Launcher, max_memory_bytes: int) -> None:
        self.index = index
        self.browser: Browser | None = None
        self.launches = 0
        self._launch = launch
        self._max_memory = max_memory_bytes

    async def ready(self) -> Browser:
        """A connected browser: the running one, or a new one when it crashed or never started."""
        if self.browser is None or not self.browser.is_connected():
            await self.restart("it is not running")
        assert self.browser is not None
        return self.browser

    async def restart(self, reason: str) -> None:
        """Close the browser (if any) and launch a new one; BrowserUnavailable when that keeps failing."""
        if self.browser is not None:
            logger.info("slot %d: restarting Chromium because %s", self.index, reason)
            await self.close()
        error: Exception | None = None
        for _ in range(LAUNCH_ATTEMPTS):
            try:
                self.browser = await self._launch()
            except Exception as exc:  # a launch can fail for many reasons; the next attempt may succeed
                error = exc
                continue
            self.launches += 1
            return
        raise BrowserUnavailable(f"Chromium could not be started: {error}") from error

    async def recycle(self) -> None:
        """After a task: close what it left open; restart a crashed or bloated browser for the next one."""
        browser = self.browser
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

    async def close(self) -> None:
        """Close the browser; the next ready() launches a new one."""
        browser, self.browser = self.browser, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError):
                await browser.close()


class SlotPool:
    """N slots; a task takes a free one for its whole run."""

    def __init__(self, launch: Launcher, count: int, *, max_memory_mb: float) -> None:
        self.slots = [Slot(index, launch, int(max_memory_mb * 2**20)) for index in range(count)]
        self._free: asyncio.Queue[Slot] = asyncio.Queue()
        for slot in self.slots:
            self._free.put_nowait(slot)

    async def start(self) -> None:
        """Launch every slot's browser, so the first tasks do not wait for a launch."""
        await asyncio.gather(*(slot.ready() for slot in self.slots))

    @contextlib.asynccontextmanager
    async def take(self) -> AsyncIterator[Browser]:
        """A free slot's browser for one task; afterwards its leftovers are closed and the slot is freed."""
        slot = await self._free.get()
        try:
            yield await slot.ready()
        finally:
            try:
                await slot.recycle()
            finally:
                self._free.put_nowait(slot)

    async def close(self) -> None:
        """Close every slot's browser."""
        await asyncio.gather(*(slot.close() for slot in self.slots))
