"""Where a headed Chromium's windows go on a display shared by several slots."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page


@dataclass(frozen=True)
class ScreenArea:
    """A rectangle of a display, in pixels from its top left corner."""

    left: int
    top: int
    width: int
    height: int

    def clip(self) -> str:
        """The area as X geometry (WxH+X+Y)."""
        return f"{self.width}x{self.height}+{self.left}+{self.top}"


async def place_window(page: Page, area: ScreenArea) -> None:
    """Move the page's window onto `area` and size it to fill it; nothing when the page closed meanwhile."""
    with contextlib.suppress(PlaywrightError):
        session = await page.context.new_cdp_session(page)
        try:
            window = await session.send("Browser.getWindowForTarget")
            bounds = {"left": area.left, "top": area.top, "width": area.width, "height": area.height}
            await session.send("Browser.setWindowBounds", {"windowId": window["windowId"], "bounds": bounds})
        finally:
            await session.detach()
