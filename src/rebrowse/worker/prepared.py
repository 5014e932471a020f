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
        self._spec: ContextSpec | None = None
        self._opening: asyncio.Task[BrowserContext] | None = None

    def start(self, browser: Browser, spec: ContextSpec) -> None:
        """Begin opening a context as `spec` says, with its page (unless one is already there)."""
        if self._opening is None:
            self._spec = spec
            self._opening = asyncio.create_task(open_with_page(browser, spec), name="prepare-context")

    async def take(self, spec: ContextSpec) -> BrowserContext | None:
        """The prepared context, now the caller's, when it was opened as `spec` says and could open; else None."""
        if self._spec != spec:
            await self.discard()
            return None
        opening, self._opening = self._opening, None
        if opening is None:
            return None
        try:
            return await opening
        except Exception:  # whatever kept it from opening, the task opens its own context
            return None

    async def discard(self) -> None:
        """Stop opening, or close, the context no task took."""
        opening, self._opening = self._opening, None
        if opening is None:
            return
        if not opening.done():
            opening.cancel()
        await asyncio.wait([opening])
        if not opening.cancelled() and opening.exception() is None:
            await close_quietly(opening.result())


class SlotContexts:
    """A slot's browser as its task's context source: the prepared context first, when it fits."""

    def __init__(self, browser: Browser, prepared: PreparedContext) -> None:
        self._browser = browser
        self._prepared = prepared

    async def new_run_context(self, spec: ContextSpec) -> BrowserContext:
        return await self._prepared.take(spec) or await open_context(self._browser, spec)
