"""The private Playwright API the recorder is built on: a Playwright upgrade that removes it fails here, by name."""

from __future__ import annotations

import inspect

import pytest
from playwright.async_api import Browser, BrowserContext

from rebrowse.recorder import playwright_recorder
from rebrowse.recorder.playwright_recorder import RecorderUnavailable


async def test_this_playwright_has_the_recorder_api_rebrowse_uses(context: BrowserContext) -> None:
    impl = context._impl_obj
    for method in ("_start_recording", "_stop_recording"):
        assert callable(getattr(impl, method, None)), f"Playwright no longer has BrowserContext.{method}"
    assert list(inspect.signature(impl._start_recording).parameters)[:2] == ["params", "event_sink"]


async def test_recording_starts_reports_a_navigation_and_stops(browser: Browser) -> None:
    events: list[str] = []

    class Sink:
        def action_added(self, page: object, data: dict[str, object], code: str) -> None:
            events.append(str(data["name"]))

    context = await browser.new_context()
    try:
        await playwright_recorder.start_recording(context, Sink())  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto("data:text/html,<title>x</title>")
        await page.wait_for_load_state()
        await playwright_recorder.stop_recording(context)
    finally:
        await context.close()
    assert events[0] == "openPage"


async def test_a_context_without_the_api_is_a_clear_error() -> None:
    class NotAContext:
        _impl_obj = object()

    with pytest.raises(RecorderUnavailable, match=r"no BrowserContext\._start_recording"):
        await playwright_recorder.start_recording(NotAContext(), None)  # type: ignore[arg-type]
