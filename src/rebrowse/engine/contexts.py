"""Where a run's browser contexts come from, and what each one is opened with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from playwright.async_api import Browser, BrowserContext, Page

from rebrowse.automation.schema import Automation
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
    # In a headed browser, pages take the window's size (the live view shows them whole) instead of Playwright's
    # default viewport, which would overflow or underfill a window the size of the display.
    fills_window: bool = False


def context_spec(automation: Automation | None, options: RunOptions) -> ContextSpec:
    """The context a run of `automation` asks for (None: one that emulates no OS)."""
    os_emulation = automation.os_emulation if automation is not None else None
    return ContextSpec(EMULATED_USER_AGENTS.get(os_emulation or ""), options.fills_window)


async def open_context(browser: Browser, spec: ContextSpec) -> BrowserContext:
    """A new context of `browser` as `spec` describes it, downloads accepted."""
    return await browser.new_context(accept_downloads=True, user_agent=spec.user_agent, no_viewport=spec.fills_window)


async def first_page(context: BrowserContext) -> Page:
    """The page a run starts in: the context's blank page when it came with one, else a new one."""
    return context.pages[0] if context.pages else await context.new_page()


class ContextSource(Protocol):
    """Gives a run fresh contexts: a browser, or a worker slot that may have one open already."""

    async def new_run_context(self, spec: ContextSpec) -> BrowserContext:
        """A context nothing else has used, opened as `spec` says; it may already have one blank page."""
        ...


class BrowserContexts:
    """A browser as a context source: every context opened on demand."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser

    async def new_run_context(self, spec: ContextSpec) -> BrowserContext:
        return await open_context(self.browser, spec)
