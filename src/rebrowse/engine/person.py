"""Waiting for a person: human_in_loop_action, and captcha_action where a deployment lets a person solve captchas.

The engine only asks a PersonGate to wait; where the wait is recorded and what ends it is the caller's: the worker's
gate goes through the database (the dashboard's Done button and POST /api/v1/tasks/{id}/resume, from any host),
LocalGate is an in-process one.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from rebrowse.automation.actions import CaptchaAction, HumanInLoopAction
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed

DEFAULT_MESSAGE = "A person is needed to go on: use the live view, then press Done"
CAPTCHA_MESSAGE = "Solve the captcha ({locator}) in the live view, then press Done"
CAPTCHA_WAIT_S = 600.0  # the longest human_in_loop_action may wait, as in Optexity
NO_GATE = (
    "no person can be asked here: run the automation on a rebrowse server, where the dashboard's Done button or"
    " POST /api/v1/tasks/{task_id}/resume ends the wait"
)


class PersonGate(Protocol):
    """Where a run waits for a person."""

    async def wait_for_person(self, message: str, node: str, timeout_s: float) -> None:
        """Return once a person says they are done; raise TimeoutError when timeout_s passes first."""


class LocalGate:
    """A gate in this process: `resume()` (from another coroutine) ends the current wait."""

    def __init__(self) -> None:
        self.message: str | None = None  # the current wait's message, None when nothing waits
        self.started = asyncio.Event()  # set while a wait is under way
        self._done = asyncio.Event()

    async def wait_for_person(self, message: str, node: str, timeout_s: float) -> None:
        self.message = message
        self._done.clear()
        self.started.set()
        try:
            async with asyncio.timeout(timeout_s):
                await self._done.wait()
        finally:
            self.message = None
            self.started.clear()

    def resume(self) -> bool:
        """End the current wait; False when nothing waits."""
        if self.message is None:
            return False
        self._done.set()
        return True


async def wait_for_person(step: Step, message: str, timeout_s: float, what: str) -> None:
    """Hold the step (same page, same context) until a person is done; a timeout fails it, saying so."""
    gate = step.state.options.person
    if gate is None:
        raise StepFailed(NO_GATE)
    step.record.detail = f"waited for a person: {message}"
    try:
        await gate.wait_for_person(message, step.record.path, timeout_s)
    except TimeoutError:
        raise StepFailed(f"no person was done within {timeout_s:g} s ({what})") from None


async def human_in_loop(step: Step, action: HumanInLoopAction) -> None:
    """Pause for a person, up to max_wait_time seconds."""
    message = step.sub(action.message) if action.message else DEFAULT_MESSAGE
    await wait_for_person(step, message, action.max_wait_time, "max_wait_time")


async def captcha(step: Step, action: CaptchaAction) -> None:
    """A captcha is never solved by a model: a person solves it (loading allows this only where the deployment
    does, REBROWSE_CAPTCHA_BY_PERSON)."""
    message = CAPTCHA_MESSAGE.format(locator=step.shown(action.locator))
    await wait_for_person(step, message, CAPTCHA_WAIT_S, "captcha_action")
