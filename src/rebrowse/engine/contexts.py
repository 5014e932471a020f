"""Where a run's browser contexts come from, and what each one is opened with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from playwright.async_api import Browser, BrowserContext, Page

from rebrowse.automation.schema import Automation
from rebrowse.browser.windows import ScreenArea, place_window
from rebrowse.engine.options import RunOptions

EMULATED_USER_AGENTS = {
    "windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "linux": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
}


@dataclass(frozen=True)
class ContextSpec:
    """What a run's context is opened with."""

    user_agent: str | None = None  # None: Chromium's own
    # Headed: every window of the context is placed on this area of the display, and its pages take the window's
    # size (the live view shows them whole) instead of Playwright's default viewport, which would not fit it.
    window: ScreenArea | None = None
    proxy: str | None = None  # the egress proxy every request of the context goes through (None: direct)


def context_spec(automation: Automation | None, options: RunOptions, proxy: str | None = None) -> ContextSpec:
    """The context a run of `automation` asks for (None: one that emulates no OS), through `proxy` if given."""
    os_emulation = automation.os_emulation if automation is not None else None
    return ContextSpec(EMULATED_USER_AGENTS.get(os_emulation or ""), options.window, proxy)


async def open_context(browser: Browser, spec: ContextSpec) -> BrowserContext:
    """A new context of `browser` as `spec` describes it, downloads accepted, its windows placed on its area."""
    filled = spec.window is not None
    context = await browser.new_context(
        accept_downloads=True,
        user_agent=spec.user_agent,
        no_viewport=filled,
        proxy={"server": spec.proxy} if spec.proxy else None,
    )
    if spec.window is not None:
        area = spec.window
        context.on("page", lambda page: place_window(page, area))
    return context


async def first_page(context: BrowserContext) -> Page:
    """The page a run starts in: the context's blank page when it came with one, else a new one."""
    return context.pages[0] if context.pages else await context.new_page()


class ContextSource(Protocol):
    """Gives a run fresh contexts: a browser, or a worker slot that may have one open already."""

    @property
    def browser(self) -> Browser:
        """The browser the contexts are opened in."""
        ...

    async def new_run_context(self, spec: ContextSpec) -> BrowserContext:
        """A context nothing else has used, opened as `spec` says; it may already have one blank page."""
        ...


class BrowserContexts:
    """A browser as a context source: every context opened on demand."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    @property
    def browser(self) -> Browser:
        return self._browser

    async def new_run_context(self, spec: ContextSpec) -> BrowserContext:
        return await open_context(self._browser, spec)
