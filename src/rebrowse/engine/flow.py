"""Runs nodes: the action-node pipeline, for loops, if/else and locator assertions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import expect
from pydantic import TypeAdapter

from rebrowse.automation.expressions import evaluate_condition
from rebrowse.automation.placeholders import Json, expand_loop_in
from rebrowse.automation.schema import ActionNode, AssertLocatorNode, ForLoopNode, IfElseNode, Node
from rebrowse.engine import (
    agent,
    downloads,
    extraction,
    form_mapping,
    interaction,
    llm_extraction,
    misc,
    navigation,
    person,
    two_fa,
)
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.egress import blocked
from rebrowse.engine.state import RunState, Step
from rebrowse.engine.waits import settle, wait_for_load
from rebrowse.errors import RebrowseError, StepFailed, first_line

NODES = TypeAdapter(list[Node])
NEW_TAB_LOAD_S = 10.0
SCREENSHOT_TIMEOUT_MS = 5_000  # a hung page must not hold a finished (or timed-out) step open
INTERRUPTED = "interrupted before it finished: the attempt reached its time limit or was cancelled"

Perform = Callable[[Step], Awaitable[None]]

INTERACTIONS: dict[str, Callable[..., Awaitable[None]]] = {
    "click_element": interaction.click_element,
    "input_text": interaction.input_text,
    "select_option": interaction.select_option,
    "check": interaction.check,
    "uncheck": interaction.uncheck,
    "hover": interaction.hover,
    "upload_file": interaction.upload_file,
    "key_press": interaction.key_press,
    "go_to_url": navigation.go_to_url,
    "go_back": navigation.go_back,
    "switch_tab": navigation.switch_tab,
    "close_current_tab": navigation.close_current_tab,
    "close_tabs_until": navigation.close_tabs_until,
    "close_all_but_last_tab": navigation.close_all_but_last_tab,
    "scroll": navigation.scroll,
    "download_url_as_pdf": downloads.download_url_as_pdf,
    "agentic_task": agent.agentic_task,
    "close_overlay_popup": agent.close_overlay_popup,
    "download_file": downloads.download_file,
}
EXTRACTIONS: dict[str, Callable[..., Awaitable[None]]] = {
    "locator": extraction.locator,
    "state": extraction.state,
    "network_call": extraction.network_call,
    "screenshot": extraction.screenshot,
    "api_call": extraction.api_call,
    "python_script": extraction.python_script,
    "llm": llm_extraction.llm,
    "pdf": llm_extraction.pdf,
    "two_fa_action": two_fa.two_fa_action,
}
MISC: dict[str, Callable[..., Awaitable[None]]] = {
    "set_variable": misc.set_variable,
    "count_locator": misc.count_locator,
    "llm_query": llm_extraction.llm_query,
}
ASSERTIONS: dict[str, Callable[..., Awaitable[None]]] = {
    "llm": llm_extraction.assertion,
}
SINGLE_ACTIONS: dict[str, Callable[..., Awaitable[None]]] = {
    "python_script_action": misc.python_script,
    "sleep_action": misc.sleep,
    "fail_state_action": misc.fail_state,
    "dynamic_form_mapping_action": form_mapping.dynamic_form_mapping,
    "human_in_loop_action": person.human_in_loop,
    "captcha_action": person.captcha,
}


def chosen(model: Any, table: dict[str, Callable[..., Awaitable[None]]]) -> tuple[str, Any]:
    """The one field of `model` that is set among the table's names, and its value."""
    for name in table:
        value = getattr(model, name, None)
        if value is not None:
            return name, value
    raise StepFailed(f"{type(model).__name__} has no action rebrowse can run")


def plan(node: ActionNode) -> tuple[str, bool, Perform]:
    """The action's name, whether it interacts with the page, and how to perform it."""
    if node.interaction_action is not None:
        wrapper = node.interaction_action
        name, action = chosen(wrapper, INTERACTIONS)
        return name, True, lambda step: INTERACTIONS[name](step, action, wrapper)
    if node.extraction_action is not None:
        ext = node.extraction_action
        name, action = chosen(ext, EXTRACTIONS)
        return f"extract.{name}", False, lambda step: EXTRACTIONS[name](step, action, ext)
    if node.assertion_action is not None:
        name, action = chosen(node.assertion_action, ASSERTIONS)
        return f"assert.{name}", False, lambda step: ASSERTIONS[name](step, action)
    if node.misc_action is not None and node.misc_action.is_empty:
        return "misc_action", False, misc.nothing_to_do
    if node.misc_action is not None:
        name, action = chosen(node.misc_action, MISC)
        return name, False, lambda step: MISC[name](step, action)
    name, action = chosen(node, SINGLE_ACTIONS)
    return name.removesuffix("_action"), False, lambda step: SINGLE_ACTIONS[name](step, action)


async def run_nodes(state: RunState, nodes: Sequence[Node], path: str, iteration: int | None = None) -> None:
    """Run nodes in order; the first failure stops them."""
    for index, node in enumerate(nodes):
        await run_node(state, node, f"{path}[{index}]", iteration)


async def run_node(state: RunState, node: Node, path: str, iteration: int | None) -> None:
    """Run one node of any kind."""
    if isinstance(node, ActionNode):
        await run_action_node(state, node, path, iteration)
    elif isinstance(node, ForLoopNode):
        await run_for_loop(state, node, path)
    elif isinstance(node, IfElseNode):
        await run_if_else(state, node, path, iteration)
    elif isinstance(node, AssertLocatorNode):
        await run_assert_locator(state, node, path, iteration)
    else:
        raise StepFailed(f"{path}: {type(node).__name__} is not supported")


async def begin_step(state: RunState, node: Any, path: str, action: str, iteration: int | None) -> Step:
    """Count the step and prepare its record and placeholder values (secrets are fetched here)."""
    state.adopt_new_tab()
    state.begin_step()
    state.step_index += 1
    record = StepRecord(
        index=state.step_index,
        attempt=state.attempt,
        path=path,
        action=action,
        iteration=iteration,
        url=state.page.url,
        started_at=time.time(),
    )
    step = Step(state, record, {})
    try:
        step.values = await state.values_for(node.model_dump_json())
    except RebrowseError as exc:
        await finish_step(step, exc)
        raise StepFailed(describe_failure(step, exc)) from None
    return step


async def finish_step(step: Step, error: BaseException | None) -> None:
    """Close a step's record: outcome, duration, screenshot per the setting; write it and tell the listener."""
    record, state = step.record, step.state
    record.duration_ms = round((time.perf_counter() - step.started) * 1000, 1)
    record.blocked = blocked(state)
    record.console, record.failed_requests = state.take_page_log()
    if error is not None:
        record.outcome = "failed"
        record.error = state.secrets.redactor.redact_text(message_of(error))
    elif record.outcome == "running":
        record.outcome = "success"
    mode = state.options.screenshots
    if mode == "every_step" or (mode == "on_failure" and error is not None):
        path = state.writer.screenshot_path(f"step_{record.attempt}_{record.index:04d}.png")
        try:
            await state.page.screenshot(path=path, timeout=SCREENSHOT_TIMEOUT_MS, mask=state.screenshot_mask())
            record.screenshot = str(path.relative_to(state.writer.out_dir))
        except PlaywrightError:
            record.screenshot = None
    state.steps.append(record)
    state.writer.append_step(record)
    await state.notify(record)


def message_of(error: BaseException) -> str:
    """A one-line description of an error for records and results."""
    if isinstance(error, PlaywrightError | TimeoutError):
        return first_line(error)
    return str(error) or type(error).__name__


def describe_failure(step: Step, error: BaseException) -> str:
    """An error naming the node path, the action and the locator, secrets redacted."""
    where = f"{step.record.path} ({step.record.action}"
    where += f" on {step.record.locator})" if step.record.locator else ")"
    return step.state.secrets.redactor.redact_text(f"{where}: {message_of(error)}")


@asynccontextmanager
async def recording(step: Step) -> AsyncIterator[None]:
    """Perform a step's body and close its record; a failure is raised as StepFailed naming the node."""
    try:
        yield
        if step.state.refused_navigation is not None:
            raise step.state.refused_navigation
    except asyncio.CancelledError:
        # The attempt's time limit (or the caller) stopped the step: keep it on record, then unwind.
        await finish_step(step, StepFailed(INTERRUPTED))
        raise
    except (RebrowseError, PlaywrightError, TimeoutError, ValueError) as exc:
        # A tab's navigation the egress policy refused says more than what followed from it (a wait timed out).
        error = step.state.refused_navigation or exc
        await finish_step(step, error)
        failure = misc.FailState if isinstance(error, misc.FailState) else StepFailed
        raise failure(describe_failure(step, error)) from None
    await finish_step(step, None)


async def run_action_node(state: RunState, node: ActionNode, path: str, iteration: int | None) -> None:
    """Optexity's action-node pipeline, with event-driven waits instead of fixed sleeps."""
    explicit = node.explicit_before_sleep()
    if explicit:
        await asyncio.sleep(explicit)
    elif node.implicit_before_wait():
        await settle(state.page, node.implicit_before_wait())
    action, interacts, perform = plan(node)
    step = await begin_step(state, node, path, action, iteration)
    if interacts:
        state.network.clear()
        state.two_fa_clock = datetime.now(UTC)
    async with recording(step):
        if node.expect_new_tab:
            await perform_expecting_tab(step, perform, node.max_new_tab_wait_time)
        else:
            await perform(step)
            await wait_for_load(state.page, node.end_wait_seconds())


async def perform_expecting_tab(step: Step, perform: Perform, wait_s: float) -> None:
    """Perform the action and switch to the tab it opens (failing when none opens in time)."""
    state = step.state
    try:
        async with state.context.expect_page(timeout=wait_s * 1000) as new_page:
            await perform(step)
    except PlaywrightError as exc:
        raise StepFailed(f"expected a new tab, none opened within {wait_s:g} s") from exc
    state.page = await new_page.value
    state.known_pages = len(state.context.pages)
    await wait_for_load(state.page, NEW_TAB_LOAD_S)


def expand(nodes: Sequence[Node], node: ForLoopNode, names: list[str], index: int) -> list[Node]:
    """A fresh copy of loop body nodes with this iteration's placeholders filled in."""
    dumped: list[Json] = [n.model_dump(mode="json", exclude_unset=True) for n in nodes]
    data = expand_loop_in(
        dumped, index_name=node.index_variable_name, index=index, loop_variables=names, locator=node.locator
    )
    return NODES.validate_python(data)


async def loop_values(state: RunState, node: ForLoopNode, names: list[str], path: str) -> list[Any]:
    """The items a loop runs over: a variable's list, or one entry per element the locator matches."""
    if node.variable_name is not None:
        first = names[0]
        source = state.inputs.get(first, state.generated.get(first))
        if source is None:
            raise StepFailed(f"{path}: loop variable {first!r} is not an input or generated variable")
        return list(source) if isinstance(source, list | tuple) else [source]
    command = node.locator or ""
    step = Step(state, StepRecord(index=state.step_index, attempt=state.attempt, path=path, action="for_loop"), {})
    try:
        step.values = await state.values_for(command)
        count = await misc.count_matches(state.page, step.locate(command), node.locator_timeout)
    except (RebrowseError, PlaywrightError) as exc:
        raise StepFailed(f"{path} (for_loop on {step.record.locator or command}): {message_of(exc)}") from None
    return list(range(count))


async def run_for_loop(state: RunState, node: ForLoopNode, path: str) -> None:
    """Run the body once per item, with Optexity's raise/continue/break handling and reset nodes."""
    names = [n.strip() for n in (node.variable_name or "").split(",") if n.strip()]
    items = await loop_values(state, node, names, path)
    if node.max_iterations is not None:
        items = items[: node.max_iterations]
    statuses: list[dict[str, Any]] = []
    state.for_loop_status.append(statuses)
    label = node.variable_name or node.locator
    for index, value in enumerate(items):
        status: dict[str, Any] = {
            "variable_name": label,
            "index": index,
            "value": value,
            "status": "success",
            "error": None,
        }
        statuses.append(status)
        try:
            await run_nodes(state, expand(node.nodes, node, names, index), f"{path}.nodes", index)
        except StepFailed as exc:
            status.update(status="error", error=str(exc))
            if node.on_error_in_loop == "raise":
                raise
            if node.on_error_in_loop == "break":
                statuses.extend(
                    {"variable_name": label, "index": i, "value": v, "status": "skipped", "error": None}
                    for i, v in enumerate(items[index + 1 :], start=index + 1)
                )
                return
        if node.reset_nodes and index < len(items) - 1:
            await run_nodes(state, expand(node.reset_nodes, node, names, index), f"{path}.reset_nodes", index)


async def run_if_else(state: RunState, node: IfElseNode, path: str, iteration: int | None) -> None:
    """Evaluate the condition safely over the variables and run the chosen branch."""
    try:
        taken = evaluate_condition(node.condition, state.scope())
    except StepFailed as exc:
        raise StepFailed(f"{path} (if_else): {exc}") from None
    if taken:
        await run_nodes(state, node.if_nodes, f"{path}.if_nodes", iteration)
    else:
        await run_nodes(state, node.else_nodes, f"{path}.else_nodes", iteration)


async def run_assert_locator(state: RunState, node: AssertLocatorNode, path: str, iteration: int | None) -> None:
    """Store whether the element is visible (or hidden) within the timeout; never fails the run by itself."""
    step = await begin_step(state, node, path, f"assert_locator.{node.assertion}", iteration)
    async with recording(step):
        held = await assertion_holds(step, node)
        state.generated[node.output_variable_name or f"node{state.step_index}_output"] = [held]
        step.record.detail = f"assertion {'held' if held else 'did not hold'}"


async def assertion_holds(step: Step, node: AssertLocatorNode) -> bool:
    """Whether the locator becomes visible (or hidden) within the node's timeout."""
    check = expect(step.locate(node.locator))
    try:
        if node.assertion == "to_be_visible":
            await check.to_be_visible(timeout=node.timeout * 1000)
        else:
            await check.to_be_hidden(timeout=node.timeout * 1000)
    except AssertionError:
        return False
    return True
