"""The one place that touches Playwright's private recorder API (what `playwright codegen` is built on).

`BrowserContext._start_recording` attaches the recorder to a context and reports every action a person performs,
with the locator the recorder chose for it; it is private, so Playwright is pinned to the minor version this was
checked against (pyproject.toml) and tests/recorder/test_playwright_recorder.py fails clearly if it goes away.
"""

from __future__ import annotations

from typing import Any, Protocol

from playwright.async_api import BrowserContext, Page

from rebrowse.errors import RebrowseError

# jsonl: every event's `code` is the action as JSON, with the locator JSON and the page's guid.
RECORDER_OPTIONS = {"language": "jsonl", "mode": "recording"}


class RecorderUnavailable(RebrowseError):
    """This Playwright has no recorder API of the shape rebrowse was built against."""


class RecorderSink(Protocol):
    """What the recorder calls, synchronously, on the event loop: `code` is the action's JSON."""

    def action_added(self, page: Any, data: dict[str, Any], code: str) -> None: ...
    def action_updated(self, page: Any, data: dict[str, Any], code: str) -> None: ...
    def signal_added(self, page: Any, data: dict[str, Any], code: str) -> None: ...


def _impl(context: BrowserContext) -> Any:
    impl = getattr(context, "_impl_obj", None)
    for method in ("_start_recording", "_stop_recording"):
        if not callable(getattr(impl, method, None)):
            raise RecorderUnavailable(
                f"this Playwright has no BrowserContext.{method} (rebrowse's recorder needs the version pinned in"
                " pyproject.toml)"
            )
    return impl


async def start_recording(context: BrowserContext, sink: RecorderSink) -> None:
    """Attach Playwright's recorder to the context: every action of a person on its pages goes to `sink`."""
    await _impl(context)._start_recording(RECORDER_OPTIONS, sink)


async def stop_recording(context: BrowserContext) -> None:
    await _impl(context)._stop_recording()


def public_page(context: BrowserContext, page: Any) -> Page | None:
    """The context's Page for the page object the recorder passes to its sink."""
    return next((candidate for candidate in context.pages if getattr(candidate, "_impl_obj", None) is page), None)
