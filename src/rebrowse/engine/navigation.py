"""Actions on the browser itself: going to URLs, going back, tabs and scrolling."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from rebrowse.automation.actions import (
    CloseAllButLastTabAction,
    CloseCurrentTabAction,
    CloseTabsUntilAction,
    GoBackAction,
    GoToUrlAction,
    InteractionAction,
    ScrollAction,
    SwitchTabAction,
)
from rebrowse.engine.egress import navigate
from rebrowse.engine.state import Step
from rebrowse.engine.waits import settle
from rebrowse.errors import StepFailed

MAX_SCROLLS = 50  # scrolling "to the end" of an infinite page stops after this many screens
SCROLL_SETTLE_S = 2.0
SCROLL_MOVE_S = 1.0  # how long a wheel may take to move the page
NEXT_FRAME = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
READ_SCROLL = "() => [window.scrollY, document.documentElement.scrollHeight]"


def check_web_url(url: str, what: str) -> None:
    """Refuse file:, chrome: and the like, which read the worker's machine (http(s), data: and about:blank pass)."""
    if urlsplit(url).scheme.lower() not in ("http", "https", "data") and url != "about:blank":
        raise StepFailed(f"{what} only opens http(s) URLs, got {url!r}")


async def go_to_url(step: Step, action: GoToUrlAction, wrapper: InteractionAction) -> None:
    """Load an http(s) URL in the current tab, or in a new tab when new_tab is set; a failed load fails the step."""
    url = step.sub(action.url)
    check_web_url(url, "go_to_url")
    if action.new_tab:
        step.state.page = await step.state.context.new_page()
        step.state.known_pages = len(step.state.context.pages)
    response = await navigate(step.state, step.page, url, step.state.options.navigation_timeout_s)
    step.record.detail = f"HTTP {response.status}" if response else None


async def go_back(step: Step, action: GoBackAction, wrapper: InteractionAction) -> None:
    """Go back one entry in the tab's history; a tab with nothing before the current page fails the step."""
    before = step.page.url
    response = await step.page.go_back(timeout=step.state.options.navigation_timeout_s * 1000)
    # Playwright answers None both for a same-document step back and when there is no history; only the
    # URL tells them apart. The blank page a tab starts on does not count as a page to go back to.
    if response is None and step.page.url in (before, "about:blank"):
        raise StepFailed("there is no page to go back to")


async def switch_tab(step: Step, action: SwitchTabAction, wrapper: InteractionAction) -> None:
    """Make tab `tab_index` the current one."""
    pages = step.state.context.pages
    if not -len(pages) <= action.tab_index < len(pages):
        raise StepFailed(f"tab_index {action.tab_index} is out of range: {len(pages)} tab(s) open")
    step.state.page = pages[action.tab_index]
    await step.page.bring_to_front()


async def close_current_tab(step: Step, action: CloseCurrentTabAction, wrapper: InteractionAction) -> None:
    """Close the current tab and continue in the last remaining one."""
    pages = step.state.context.pages
    if len(pages) < 2:
        raise StepFailed("cannot close the only open tab")
    await step.page.close()
    await focus_last_tab(step)


async def close_tabs_until(step: Step, action: CloseTabsUntilAction, wrapper: InteractionAction) -> None:
    """Close the last tab until the last one matches the URL substring, or until tab_index is the last."""
    matching = step.sub(action.matching_url) if action.matching_url is not None else None
    count = len(step.state.context.pages)
    if action.tab_index is not None and not 0 <= action.tab_index < count:
        raise StepFailed(f"tab_index {action.tab_index} is out of range: {count} tab(s) open")
    while True:
        pages = step.state.context.pages
        if matching is not None and matching in pages[-1].url:
            break
        if action.tab_index is not None and len(pages) <= action.tab_index + 1:
            break
        if len(pages) == 1:
            raise StepFailed(f"no open tab matches {matching!r}")
        await pages[-1].close()
    await focus_last_tab(step)


async def close_all_but_last_tab(step: Step, action: CloseAllButLastTabAction, wrapper: InteractionAction) -> None:
    """Close every tab except the last one."""
    for page in step.state.context.pages[:-1]:
        await page.close()
    await focus_last_tab(step)


async def focus_last_tab(step: Step) -> None:
    pages = step.state.context.pages
    step.state.page = pages[-1]
    step.state.known_pages = len(pages)
    await step.page.bring_to_front()


async def scroll_events_fired(page: Page) -> None:
    """Wait for the next frame: a page learns of a scroll by its scroll event, fired on the frame after it, so
    the work its handlers start (loading the next batch of a feed) is only then there to wait for."""
    with contextlib.suppress(PlaywrightError, TimeoutError):
        await asyncio.wait_for(page.evaluate(NEXT_FRAME), SCROLL_MOVE_S)


async def scroll(step: Step, action: ScrollAction, wrapper: InteractionAction) -> None:
    """Scroll by `amount` pixels, or (-1) until the page stops growing."""
    sign = 1 if action.down else -1
    if action.amount != -1:
        before = await step.page.evaluate("() => window.scrollY")
        await step.page.mouse.wheel(0, sign * action.amount)
        # The wheel scrolls on a later frame; the page's scroll handlers run only then, so settling earlier
        # would miss the work they start. At the top or bottom nothing moves: the wait is bounded.
        with contextlib.suppress(PlaywrightError):
            await step.page.wait_for_function("y => window.scrollY !== y", arg=before, timeout=SCROLL_MOVE_S * 1000)
        await settle(step.page, SCROLL_SETTLE_S)
        return
    previous: list[int] = []
    for _ in range(MAX_SCROLLS):
        target_y = "document.documentElement.scrollHeight" if action.down else "0"
        await step.page.evaluate(f"() => window.scrollTo(0, {target_y})")
        await scroll_events_fired(step.page)
        await settle(step.page, SCROLL_SETTLE_S)
        position: list[int] = await step.page.evaluate(READ_SCROLL)
        if position == previous:
            return
        previous = position
