"""Variables, counting, explicit sleeps, failure states and (where allowed) Python scripts."""

from __future__ import annotations

import asyncio

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from rebrowse.automation.actions import (
    CountLocator,
    FailStateAction,
    PythonScriptAction,
    SetVariable,
    SleepAction,
)
from rebrowse.automation.expressions import evaluate
from rebrowse.engine.scripts import run_script
from rebrowse.engine.state import Step
from rebrowse.engine.waits import settle
from rebrowse.errors import StepFailed

COUNT_SETTLE_S = 5.0  # bound on waiting for a list to stop growing before counting it


class FailState(StepFailed):
    """The automation reached a failure state it declares; retrying cannot change that."""


async def set_variable(step: Step, action: SetVariable) -> None:
    """Store a value, or the value of a safe expression over the variables."""
    name = step.sub(action.name)
    if action.expression is not None:
        value = evaluate(action.expression, step.state.scope())
    else:
        value = step.sub(action.value) if isinstance(action.value, str) else action.value
    step.state.generated[name] = [value]
    if action.output_variable_name:
        step.state.output_data.append({"unique_identifier": None, "json_data": {name: value}})


async def nothing_to_do(step: Step) -> None:
    """An empty misc_action: Optexity accepts it and does nothing, so the step is recorded as skipped."""
    step.record.outcome = "skipped"
    step.record.detail = "empty misc_action: nothing to do"


async def count_matches(page: Page, locator: Locator, timeout_s: float) -> int:
    """How many elements match once the list has settled (0 when none appears within timeout_s)."""
    try:
        await locator.first.wait_for(state="attached", timeout=timeout_s * 1000)
    except PlaywrightError:
        return 0
    await settle(page, COUNT_SETTLE_S)
    return await locator.count()


async def count_locator(step: Step, action: CountLocator) -> None:
    """Count the elements a locator matches."""
    count = await count_matches(step.page, step.locate(action.locator), action.locator_timeout)
    name = step.sub(action.name)
    step.state.generated[name] = [count]
    if action.output_variable_name:
        step.state.output_data.append({"unique_identifier": None, "json_data": {name: count}})
    step.record.detail = f"{count} element(s)"


async def sleep(step: Step, action: SleepAction) -> None:
    """Sleep the time the automation states explicitly."""
    await asyncio.sleep(action.sleep_time)


async def fail_state(step: Step, action: FailStateAction) -> None:
    """End the run as failed with the automation's own message."""
    raise FailState(step.sub(action.failure_message))


async def python_script(step: Step, action: PythonScriptAction) -> None:
    """Run `code_fn(page)` from the automation (only where scripts are allowed)."""
    await run_script(step, action.execution_code, step.page)
