"""Keys Playwright's keyboard has not (F13-F24, browser, IME and launch keys), pressed through Chromium's DevTools
protocol on the focused element, with the browser's own response to the browser keys."""

from __future__ import annotations

from playwright.async_api import CDPSession, Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from rebrowse.automation.actions import DevToolsKey, DevToolsPress

# Input.dispatchKeyEvent's modifier bits.
MODIFIER_BITS = {"Alt": 1, "Control": 2, "Meta": 4, "Shift": 8}
# Keys Chromium itself answers with a navigation (checked in tests/engine/test_keys.py): the history entry they go
# to, relative to the current one (0: a reload), or None for the home page, which is always there.
NAVIGATING: dict[str, int | None] = {"BrowserBack": -1, "BrowserForward": 1, "BrowserRefresh": 0, "BrowserHome": None}


async def press_devtools_key(page: Page, press: DevToolsPress, timeout_ms: float) -> None:
    """Press the key on the page's focused element, its modifiers held, and wait for the navigation it makes."""
    for modifier in press.modifiers:
        await page.keyboard.down(modifier)
    session = await page.context.new_cdp_session(page)
    try:
        if await navigates(session, press.key):
            await dispatch_then_wait(page, session, press, timeout_ms)
        else:
            await dispatch(session, press)
        if press.key.key == "BrowserStop":
            # Chromium does not stop loading on the key event alone.
            await session.send("Page.stopLoading")
    finally:
        await session.detach()
        for modifier in reversed(press.modifiers):
            await page.keyboard.up(modifier)


async def navigates(session: CDPSession, key: DevToolsKey) -> bool:
    """Whether Chromium answers the key with a navigation: back and forward only when there is somewhere to go."""
    if key.key not in NAVIGATING:
        return False
    offset = NAVIGATING[key.key]
    if offset is None:
        return True
    history = await session.send("Page.getNavigationHistory")
    current: int = history["currentIndex"]
    return 0 <= current + offset < len(history["entries"])


async def dispatch_then_wait(page: Page, session: CDPSession, press: DevToolsPress, timeout_ms: float) -> None:
    """Dispatch a navigating key and wait until its navigation commits, so the next step sees the new page."""
    try:
        async with page.expect_navigation(wait_until="commit", timeout=timeout_ms):
            await dispatch(session, press)
    except PlaywrightTimeoutError:
        # The page kept the key for itself (preventDefault), as it may in a browser: nothing to wait for.
        return


async def dispatch(session: CDPSession, press: DevToolsPress) -> None:
    """The key's down and up events; a printable key goes down with its text, so it types it."""
    key = press.key
    event = {
        "key": key.key,
        "code": key.code,
        "windowsVirtualKeyCode": key.key_code,
        "nativeVirtualKeyCode": key.key_code,
        "modifiers": modifier_bits(press.modifiers),
    }
    down = {"type": "keyDown", "text": key.text} if key.text else {"type": "rawKeyDown"}
    await session.send("Input.dispatchKeyEvent", {**event, **down})
    await session.send("Input.dispatchKeyEvent", {**event, "type": "keyUp"})


def modifier_bits(modifiers: tuple[str, ...]) -> int:
    """The DevTools bitmask of held modifiers (`ControlLeft` counts as Control)."""
    return sum(bit for name, bit in MODIFIER_BITS.items() if any(held.startswith(name) for held in modifiers))
