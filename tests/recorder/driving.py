"""Driving a headed Chromium with real X input events (xdotool), as a person would, for recorder tests and the bench.

A flow is what a person does on the fixture site: clicks on elements (found by CSS on the live page only to know
where to point), text typed and keys pressed. Playwright's recorder sees only the X events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from rebrowse.browser.display import LiveDisplay
from rebrowse.browser.launch import launch_chromium
from rebrowse.recorder.recording import Step
from rebrowse.recorder.session import RecordingSession
from tests.waiting import eventually

SCREEN = (1280, 900)
XDOTOOL_TIMEOUT_S = 20.0
TYPE_DELAY_MS = "15"
# The page's top left corner on the screen: the window's, past its borders and toolbars.
PAGE_ORIGIN = "() => [screenX + (outerWidth - innerWidth) / 2, screenY + outerHeight - innerHeight]"


@contextlib.asynccontextmanager
async def screen() -> AsyncIterator[LiveDisplay]:
    """A virtual X screen (Xvfb, with its VNC server), stopped on exit."""
    display = LiveDisplay(*SCREEN, password=lambda _: secrets.token_hex(8))
    await display.start()
    try:
        yield display
    finally:
        await display.stop()


async def headed_chromium(playwright: Playwright, display: LiveDisplay) -> Browser:
    return await launch_chromium(
        playwright, headless=False, display=display.display, xauthority=display.xauthority, new_windows=display.tiles[0]
    )


@dataclass(frozen=True)
class XInput:
    """xdotool on one X display."""

    display: str
    xauthority: Path | None

    def env(self) -> dict[str, str]:
        extra = {"XAUTHORITY": str(self.xauthority)} if self.xauthority else {}
        return {**os.environ, "DISPLAY": self.display, **extra}

    async def xdotool(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "xdotool", *args, env=self.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), XDOTOOL_TIMEOUT_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, f"xdotool {' '.join(args)}: {stderr.decode()}"
        return stdout.decode()

    async def click(self, page: Page, selector: str) -> None:
        """Move the pointer onto the element's centre and click there."""
        element = page.locator(selector)
        await element.scroll_into_view_if_needed()
        box = await element.bounding_box()
        assert box is not None, f"{selector} is not on screen"
        left, top = await page.evaluate(PAGE_ORIGIN)
        x, y = round(left + box["x"] + box["width"] / 2), round(top + box["y"] + box["height"] / 2)
        await self.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")

    async def type(self, text: str) -> None:
        await self.xdotool("type", "--delay", TYPE_DELAY_MS, text)

    async def key(self, *names: str) -> None:
        await self.xdotool("key", *names)


# What a person does: ("click", selector) on the current tab, ("type", text) or ("key", name).
Action = tuple[str, str]


def signup(query: str, user: str, password: str) -> tuple[Action, ...]:
    """signup.html: search a course, then sign up with a password, a level and the terms accepted."""
    return (
        ("click", "#course-search"),
        ("type", query),
        ("key", "Return"),
        ("click", "#user-name"),
        ("type", user),
        ("click", "#secret"),
        ("type", password),
        ("click", "#level"),
        ("key", "Down"),
        ("key", "Return"),
        ("click", "#terms"),
        ("click", "#join"),
    )


def registration(name: str, email: str) -> tuple[Action, ...]:
    """form.html: two fields, a region chosen from a select, a checkbox, a radio button, then submit."""
    return (
        ("click", "#full-name"),
        ("type", name),
        ("click", "#email"),
        ("type", email),
        ("click", "#region"),
        ("key", "Down"),
        ("key", "Down"),
        ("key", "Return"),
        ("click", "#newsletter"),
        ("click", "#plan-pro"),
        ("click", "#submit"),
    )


DOWNLOAD: tuple[Action, ...] = (("click", "#report"),)
NEW_TAB: tuple[Action, ...] = (("click", "#open"), ("click", "#home"))


def last_click_on(name: str) -> Callable[[list[Step]], bool]:
    """Whether the recorder has seen a click on the element named `name` last."""

    def seen(steps: list[Step]) -> bool:
        last = steps[-1] if steps else None
        return last is not None and last.kind == "click" and last.locator is not None and name in last.locator.label

    return seen


async def page_with(context: BrowserContext, selector: str) -> Page:
    """The newest tab showing the element (a person looks at the window that just opened)."""
    found: list[Page] = []

    async def shown() -> bool:
        for page in reversed(context.pages):
            with contextlib.suppress(PlaywrightError):
                if await page.locator(selector).is_visible():
                    found.append(page)
                    return True
        return False

    await eventually(shown, timeout_s=20, what=f"a tab showing {selector}")
    return found[0]


async def perform(xinput: XInput, context: BrowserContext, actions: tuple[Action, ...]) -> None:
    for kind, argument in actions:
        if kind == "click":
            await xinput.click(await page_with(context, argument), argument)
        elif kind == "type":
            await xinput.type(argument)
        else:
            await xinput.key(argument)


async def record_flow(
    browser: Browser,
    xinput: XInput,
    url: str,
    actions: tuple[Action, ...],
    done: Callable[[list[Step]], bool],
    on_change: Callable[[list[Step]], None] | None = None,
) -> tuple[dict[str, Any], list[Step]]:
    """Record `actions` done with X input from `url`: the draft automation and the steps."""
    context = await browser.new_context(no_viewport=True)
    try:
        session = await RecordingSession.start(context, on_change)
        page = await context.new_page()
        await page.goto(url)
        await perform(xinput, context, actions)
        await eventually(lambda: done(session.steps), timeout_s=20, what="the recorder to see the last action")
        steps = session.steps
        return await session.stop(), steps
    finally:
        await context.close()


def unique(prefix: str) -> str:
    """A value no other test types (the fixture site keeps every submission of the session)."""
    return f"{prefix}{secrets.token_hex(3)}"
