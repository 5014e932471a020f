"""Self-healing: an element action whose `command` fails falls back to the model, and the step says so.

Every element action goes through `perform`. A step with a command runs it and nothing else (no snapshot, no model
call) unless the action fails on it, because the element is not there or not actionable in time (a Playwright
error). Then, if the step has a goal (`prompt_instructions`), neither `assert_locator_presence` (the element is
mandatory) nor `skip_prompt` (never ask the model) is set, and the run heals (RunOptions.healing), the model picks
the element from the page's snapshot, as it does for a step with no command, and the action runs on that element.
The step records the failed command, its error and the new command (`StepRecord.healed`). A fallback the model
cannot do fails the step with both errors: healing never turns a failure into a silent success.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator

from rebrowse.automation.actions import InteractionAction, TargetedAction
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.element_errors import explain
from rebrowse.engine.state import Step
from rebrowse.engine.targeting import ElementAnswer, command_of, pick
from rebrowse.errors import StepFailed, first_line

T = TypeVar("T")
# What the action does with its element, given how long it may wait for it (ms).
Do = Callable[[Locator, float], Awaitable[T]]


def action_timeout_ms(wrapper: InteractionAction) -> float:
    """How long an element may take to become actionable: Optexity's tries times seconds per try."""
    return max(1, wrapper.max_tries) * wrapper.max_timeout_seconds_per_try * 1000


async def perform(
    step: Step, action: TargetedAction, wrapper: InteractionAction, do: Do[T], picked: Locator | None = None
) -> T:
    """Do the action on its element: `picked` (the model already chose it), else the command's (healed by the
    model when it fails), else the one the model picks."""
    timeout_ms = action_timeout_ms(wrapper)
    command = command_of(action)
    if picked is not None:
        return await do(picked, timeout_ms)
    if command is None:
        locator, _ = await pick(step, action, ElementAnswer)
        return await do(locator, timeout_ms)
    started = time.monotonic()
    located = step.locate(command)
    try:
        return await do(located, timeout_ms)
    except PlaywrightError as exc:
        failure = await explain(step, command, located, exc)
        if not may_heal(step, action):
            raise StepFailed(failure) from None
        # The step's time is what it gives its element; the model's element, seen on the page just now, gets
        # what is left of it, and at least one try's time.
        left_ms = timeout_ms - (time.monotonic() - started) * 1000
        return await heal(step, action, do, failure, max(left_ms, wrapper.max_timeout_seconds_per_try * 1000))


def may_heal(step: Step, action: TargetedAction) -> bool:
    """Whether a failed command may fall back to the model (Optexity's rules, and the run's setting)."""
    return (
        step.state.options.healing
        and bool(action.prompt_instructions.strip())
        and not action.assert_locator_presence
        and not action.skip_prompt
    )


async def heal(step: Step, action: TargetedAction, do: Do[T], failure: str, timeout_ms: float) -> T:
    """Do the action on the element the model picks instead of the failed command's (`failure` says why that
    one failed), and record the healing."""
    failed = step.record.locator or ""  # the command as step.locate recorded it: secrets masked
    error = step.state.secrets.redactor.redact_text(failure)
    what_failed = f"the command {failed} failed ({error})"
    try:
        locator, _ = await pick(step, action, ElementAnswer)
    except StepFailed as exc:
        raise StepFailed(f"{what_failed}, and the model could not replace it: {exc}") from None
    command = step.record.locator or ""  # pick recorded the model's element's command
    try:
        result = await do(locator, timeout_ms)
    except PlaywrightError as exc:
        raise StepFailed(f"{what_failed}, and so did the model's element {command}: {first_line(exc)}") from None
    step.record.healed = {"failed_command": failed, "error": error, "command": command}
    step.record.learned = {**(step.record.learned or {}), "command": command}
    step.record.detail = f"healed: {what_failed}; {step.record.detail}"
    return result


def healed_steps(steps: list[StepRecord]) -> list[dict[str, str]]:
    """What the run's result says of each healed step: where it is, and its healing."""
    return [{"path": step.path, **step.healed} for step in steps if step.healed is not None]
