"""The browser an automation's `browser_channel` asks for: Google Chrome for `chrome` where one is installed (the run
launches it for itself and closes it after), else the Chromium given, with a note in the run's result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError

from rebrowse.automation.schema import Automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.engine.contexts import BrowserContexts, ContextSource
from rebrowse.engine.options import RunOptions
from rebrowse.errors import RebrowseError, first_line

NO_CHROME = (
    "browser_channel chrome: Google Chrome is not installed here (REBROWSE_CHROME_PATH, or google-chrome on PATH),"
    " so the run used Chromium"
)


@dataclass(frozen=True)
class Channel:
    """Where a run's contexts come from, the browser it runs on (chrome or chromium), and why, when not asked for."""

    contexts: ContextSource
    browser: str
    note: str | None = None
    own_browser: bool = False  # launched for this run alone (headless, not on the slot's display)


@asynccontextmanager
async def channel_for(
    automation: Automation, given: ContextSource, options: RunOptions, proxy: str | None
) -> AsyncIterator[Channel]:
    """The browser of the automation's channel for the whole run (all its attempts), through `proxy` if given."""
    if automation.browser_channel != "chrome":
        yield Channel(given, "chromium")
        return
    if options.chrome is None:
        yield Channel(given, "chromium", NO_CHROME)
        return
    try:
        chrome = await launch_chromium(given.browser.browser_type, executable=options.chrome, proxy=proxy)
    except (PlaywrightError, RebrowseError) as exc:
        # Chrome is a preference of the recording, not a requirement: the run goes on in Chromium.
        note = f"browser_channel chrome: {options.chrome} did not start ({first_line(exc)}), so the run used Chromium"
        yield Channel(given, "chromium", note)
        return
    try:
        yield Channel(BrowserContexts(chrome), "chrome", own_browser=True)
    finally:
        await chrome.close()
