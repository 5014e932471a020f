"""A context opened for a slot's next task while the slot is idle.

A new context's first page costs Chromium a new renderer process: hundreds of milliseconds on a busy machine,
most of the time between a submission and the task's first browser action. An idle slot opens that context and
its blank page ahead of time, as the next task most likely asks for it (emulating no OS); a task that asks for
another kind gets a context opened on demand. The prepared context was never used before, so a task's isolation
is that of a context opened on demand.
"""

from __future__ import annotations

import asyncio
import contextlib

from playwright.async_api import Browser, BrowserContext
from playwright.async_api import Error as PlaywrightError

from rebrowse.engine.contexts import ContextSpec, open_context


async def open_with_page(browser: Browser, spec: ContextSpec) -> BrowserContext:
    """A fresh context with one blank page."""
    context = await open_context(browser, spec)
    try:
        await context.new_page()
    except BaseException:
        await close_quietly(context)
        raise
    return context


async def close_quietly(context: BrowserContext) -> None:
    with contextlib.suppress(PlaywrightError):
        await context.close()


class PreparedContext:
    """The context being opened for the next task, until a task takes it or it is discarded."""

    def __init__(self) -> None:
        self._browser: Browser | None = None
        self._spec: ContextSpec | None = None
        self._opening: asyncio.Task[BrowserContext] | None = None
        self._closing: set[asyncio.Task[None]] = set()  # referenced until done, so that they are not collected

    def start(self, browser: Browser, spec: ContextSpec) -> None:
        """Begin opening a context of `browser` as `spec` says, with its page, unless one is being opened there."""
        if self._opening is not None and self._browser is browser and browser.is_connected():
            return
        self._set_aside()
        self._browser, self._spec = browser, spec
        self._opening = asyncio.create_task(open_with_page(browser, spec), name="prepare-context")

    async def take(self, browser: Browser, spec: ContextSpec) -> BrowserContext | None:
        """The prepared context, now the caller's, when it was opened in `browser` as `spec` says; else None."""
        if self._browser is not browser or self._spec != spec:
            await self.discard()
            return None
        opening, self._opening = self._opening, None
        if opening is None:
            return None
        try:
            context = await opening
        except Exception:  # whatever kept it from opening, the task opens its own context
            return None
        return context if browser.is_connected() else None

    async def discard(self) -> None:
        """Stop opening, or close, the context no task took (and those set aside before)."""
        opening, self._opening = self._opening, None
        if opening is not None:
            await close_opening(opening)
        if self._closing:
            await asyncio.wait(self._closing)

    def _set_aside(self) -> None:
        """Discard the context being opened without waiting: it belongs to a browser that is no longer used."""
        opening, self._opening = self._opening, None
        if opening is not None:
            closing = asyncio.create_task(close_opening(opening), name="discard-prepared-context")
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)


async def close_opening(opening: asyncio.Task[BrowserContext]) -> None:
    """Cancel a context still opening, or close it once opened."""
    if not opening.done():
        opening.cancel()
    await asyncio.wait([opening])
    if not opening.cancelled() and opening.exception() is None:
        await close_quietly(opening.result())


class SlotContexts:
    """A slot's browser as its task's context source: the prepared context first, when it fits.

    It remembers every context it gave, so the slot closes what its task left open, and nothing of other slots'.
    """

    def __init__(self, browser: Browser, prepared: PreparedContext) -> None:
        self._browser = browser
        self._prepared = prepared
        self.given: list[BrowserContext] = []

    @property
    def browser(self) -> Browser:
        return self._browser

    async def new_run_context(self, spec: ContextSpec) -> BrowserContext:
        context = await self._prepared.take(self._browser, spec) or await open_context(self._browser, spec)
        self.given.append(context)
        return context

    async def close_all(self) -> None:
        """Close every context given (those closed already are skipped)."""
        for context in self.given:
            await close_quietly(context)
        self.given.clear()
