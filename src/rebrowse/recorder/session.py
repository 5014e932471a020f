"""A recording attached to a BrowserContext: the steps so far, a callback on each change, and the draft automation.

Independent of the CLI, so that a worker slot can drive one for the dashboard too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError

from rebrowse.recorder import playwright_recorder
from rebrowse.recorder.recording import RecordedAction, Step, automation_of, recorded_steps, step_of

# A field whose value is a secret: a password, or a one-time code a password manager would fill.
IS_SECRET_FIELD = """element => element.type === 'password'
    || /(^|\\s)(current-password|new-password|one-time-code)(\\s|$)/.test(element.autocomplete || '')"""
CHECK_TIMEOUT_MS = 2000

OnChange = Callable[[list[Step]], None]


class RecordingSession:
    """Playwright's recorder on a context, its actions turned into steps as they come."""

    def __init__(self, context: BrowserContext, on_change: OnChange | None = None) -> None:
        self.context = context
        self.on_change = on_change
        self._actions: list[RecordedAction] = []
        self._secret_fields: dict[str, bool] = {}
        self._matches: dict[str, int] = {}  # locator command → elements it matched on the page when recorded
        self._checks: set[asyncio.Task[None]] = set()
        self._steps: list[Step] = []
        self._recording = False

    @classmethod
    async def start(cls, context: BrowserContext, on_change: OnChange | None = None) -> RecordingSession:
        session = cls(context, on_change)
        await playwright_recorder.start_recording(context, session)
        session._recording = True
        return session

    @property
    def steps(self) -> list[Step]:
        return list(self._steps)

    async def stop(self, start_url: str | None = None) -> dict[str, Any]:
        """Detach the recorder (unless the browser is gone) and return the draft automation (RecordingInvalid when
        a step cannot be replayed); `start_url`: where the recording began, if the recorder missed that navigation."""
        if self._recording:
            self._recording = False
            with contextlib.suppress(PlaywrightError):
                await playwright_recorder.stop_recording(self.context)
        if self._checks:
            await asyncio.gather(*self._checks, return_exceptions=True)
        self._changed()
        return automation_of(self._steps, start_url)

    # The recorder's sink: called synchronously on the event loop.

    def action_added(self, page: Any, data: dict[str, Any], code: str) -> None:
        self._actions.append(RecordedAction.from_code(code))
        self._check_secret(page, self._actions[-1])
        self._count_matches(page, self._actions[-1])
        self._changed()

    def action_updated(self, page: Any, data: dict[str, Any], code: str) -> None:
        # Text typed into a field grows through updates of its fill: keep the last.
        if self._actions:
            self._actions[-1] = RecordedAction.from_code(code)
        self._changed()

    def signal_added(self, page: Any, data: dict[str, Any], code: str) -> None:
        self.action_updated(page, data, code)

    def _changed(self) -> None:
        steps = recorded_steps(self._actions, self._secret_fields)
        self._steps = [with_matches(step, self._matches) for step in steps]
        if self.on_change is not None:
            self.on_change(self.steps)

    def _check_secret(self, page: Any, action: RecordedAction) -> None:
        selector = action.data.get("selector")
        if action.name != "fill" or not isinstance(selector, str) or selector in self._secret_fields:
            return
        self._check(self._is_secret(page, selector))

    def _count_matches(self, page: Any, action: RecordedAction) -> None:
        selector = action.data.get("selector")
        step = step_of(action, self._secret_fields)
        if not isinstance(selector, str) or step is None or step.locator is None:
            return
        self._check(self._count(page, selector, step.locator.command))

    def _check(self, check: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(check)
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _count(self, page: Any, selector: str, command: str) -> None:
        """Count the elements the step's locator matches on the page it was recorded on. The count comes once the
        action has happened: none left (the action removed its element or left the page) or a page gone elsewhere
        meanwhile says nothing about the locator, which stays unchecked."""
        found = playwright_recorder.public_page(self.context, page)
        if found is None:
            return
        url = found.url
        try:
            count = await found.locator(selector).count()
        except PlaywrightError:
            return
        if count > 0 and found.url == url:
            self._matches[command] = count
            self._changed()

    async def _is_secret(self, page: Any, selector: str) -> None:
        """Look at the field on the live page; one that cannot be checked stays secret (secure by default)."""
        found = playwright_recorder.public_page(self.context, page)
        secret = True
        if found is not None:
            with contextlib.suppress(PlaywrightError):
                secret = bool(await found.locator(selector).first.evaluate(IS_SECRET_FIELD, timeout=CHECK_TIMEOUT_MS))
        self._secret_fields[selector] = secret
        self._changed()


def with_matches(step: Step, matches: dict[str, int]) -> Step:
    """The step with the count of its locator's matches, once known."""
    if step.locator is None or step.locator.command not in matches:
        return step
    return replace(step, matches=matches[step.locator.command])
