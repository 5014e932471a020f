"""Agentic steps: a bounded tool-calling loop of ours on the task's own page.

The model sees the page as an accessibility snapshot with element references and acts through a few tools
(click, type, select, scroll, navigate, go back, read). Every action it takes is recorded as an ordinary Optexity
action node, with a deterministic locator, so the run leaves an automation behind that replays without a model.
Secrets never reach the model: it names a secure parameter and the engine types the value.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator
from pydantic import BaseModel
from pydantic_ai import BinaryContent, Tool, ToolReturn, capture_run_messages
from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, UserContent

from rebrowse.automation.actions import (
    AgenticTask,
    ClickElementAction,
    CloseOverlayPopupAction,
    GoBackAction,
    GoToUrlAction,
    InputTextAction,
    InteractionAction,
    KeyPressAction,
    ScrollAction,
    SelectOptionAction,
)
from rebrowse.automation.locator import parse_locator, resolve_locator
from rebrowse.automation.placeholders import PlaceholderRef, references, substitute
from rebrowse.browser.egress import EgressDenied
from rebrowse.engine import navigation
from rebrowse.engine.asking import ask, snapshot_for_model
from rebrowse.engine.cached import as_placeholder
from rebrowse.engine.egress import navigate
from rebrowse.engine.healing import action_timeout_ms
from rebrowse.engine.interaction import options_for
from rebrowse.engine.locators import learned_command
from rebrowse.engine.state import Step
from rebrowse.engine.waits import settle
from rebrowse.errors import LlmFailed, RebrowseError, StepFailed, first_line
from rebrowse.llm.snapshot import SnapshotElement, element_locator, find_element

SETTLE_AFTER_ACTION_S = 2.0  # what an action starts (a fetch, a re-render) is waited for before the next snapshot
SCREENSHOT_TIMEOUT_MS = 5_000
SCROLL_PIXELS = 600
INSTRUCTIONS = (
    "You operate a web page with tools to do the user's task. The page is given as an accessibility snapshot; "
    "elements are named by refs such as e5. Every action returns the page's new snapshot: use only refs from "
    "the latest one. Do only what the task asks, in at most {max_steps} actions. Then give your final answer: "
    "success true when the task is done, false when it cannot be done, and a one-sentence summary."
)
SECRETS_NOTE = " Secret values are never shown to you: type one with type_secret(ref, name)."
OVERLAY_TASK = (
    "Dismiss whatever covers the page: cookie banners, consent dialogs, modals, pop-ups. Close or accept them; "
    "never sign up, log in or buy. Report success once nothing covers the page."
)


class AgentOutcome(BaseModel):
    """The model's final answer."""

    success: bool
    summary: str


class BudgetSpent(UsageLimitExceeded):
    """The model asked for more actions than max_steps allows: ends the loop."""


@dataclass
class PageAgent:
    """The tools of one agentic step, over the step's page; it records every action the model takes."""

    step: Step
    wrapper: InteractionAction
    max_steps: int
    use_vision: bool
    secret_refs: dict[str, PlaceholderRef] = field(default_factory=dict)  # secure placeholders the task names
    snapshot: str = ""  # the latest snapshot the model was given: its refs are the valid ones
    actions: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        return self.actions > self.max_steps

    async def read_page(self) -> ToolReturn:
        """Read the current page again: its accessibility snapshot (and a screenshot when vision is on)."""
        text = await self.fresh_snapshot()
        return ToolReturn(return_value=text, content=await self.screenshot_content() or None)

    async def click(self, ref: str) -> str:
        """Click the element with this ref."""
        return await self.on_element(
            "click",
            ref,
            lambda e, command: interaction(
                "click_element", ClickElementAction(command=command, prompt_instructions=f"click {e}")
            ),
            lambda e, locator: locator.click(timeout=self.timeout_ms),
        )

    async def type_text(self, ref: str, text: str, submit: bool = False) -> str:
        """Replace the text of the field with this ref; submit=True presses Enter afterwards."""
        return await self.on_element(
            "type into",
            ref,
            lambda e, command: interaction(
                "input_text",
                InputTextAction(
                    command=command, input_text=as_placeholder(text, self.step.state.inputs), press_enter=submit
                ),
            ),
            lambda e, locator: self.fill(locator, text, submit),
        )

    async def type_secret(self, ref: str, name: str) -> str:
        """Type the value of the secret parameter `name` (as the task names it) into the field with this ref."""
        secret = self.secret_refs.get(name.strip("{}<> ").removeprefix("secret "))
        if secret is None:
            names = ", ".join(self.secret_refs) or "none"
            return self.refuse(f"type secret {name}", f"no secret parameter {name!r} (the task names: {names})")

        async def perform(element: SnapshotElement, locator: Locator) -> None:
            self.step.state.secret_fields.append(self.stable_locator(element))
            await self.fill(locator, substitute(secret.text, self.step.values), False)

        return await self.on_element(
            f"type secret {secret.text[1:-1]} into",
            ref,
            lambda e, command: interaction("input_text", InputTextAction(command=command, input_text=secret.text)),
            perform,
        )

    async def select(self, ref: str, values: list[str]) -> str:
        """Select options (by value or label) in the select element with this ref."""

        async def perform(element: SnapshotElement, locator: Locator) -> None:
            chosen = await options_for(locator, values, self.timeout_ms)
            await locator.select_option(value=chosen, timeout=self.timeout_ms)

        return await self.on_element(
            f"select {values} in",
            ref,
            lambda e, command: interaction(
                "select_option",
                SelectOptionAction(
                    command=command, select_values=[as_placeholder(v, self.step.state.inputs) for v in values]
                ),
            ),
            perform,
        )

    async def scroll(self, down: bool = True, pixels: int = SCROLL_PIXELS) -> str:
        """Scroll the page down (or up with down=False) by some pixels."""
        action = ScrollAction(down=down, amount=max(0, pixels))
        return await self.act(
            f"scroll {'down' if down else 'up'} {action.amount}px",
            interaction("scroll", action),
            lambda: navigation.scroll(self.step, action, self.wrapper),
        )

    async def navigate(self, url: str) -> str:
        """Load an http(s) URL in the current tab."""
        state = self.step.state

        async def perform() -> None:
            navigation.check_web_url(url, "navigate")
            await navigate(state, state.page, url, state.options.navigation_timeout_s)

        return await self.act(f"navigate to {url}", interaction("go_to_url", GoToUrlAction(url=url)), perform)

    async def go_back(self) -> str:
        """Go back one page in the tab's history."""
        node = interaction("go_back", GoBackAction())
        return await self.act("go back", node, lambda: navigation.go_back(self.step, GoBackAction(), self.wrapper))

    async def press_escape(self) -> str:
        """Press the Escape key (closes many dialogs)."""
        node = interaction("key_press", KeyPressAction(type="Escape"))
        return await self.act("press Escape", node, lambda: self.step.page.keyboard.press("Escape"))

    @property
    def timeout_ms(self) -> float:
        return action_timeout_ms(self.wrapper)

    async def on_element(
        self,
        verb: str,
        ref: str,
        node_of: Callable[[SnapshotElement, str], dict[str, Any]],
        perform: Callable[[SnapshotElement, Locator], Awaitable[object]],
    ) -> str:
        """An action on the element of the latest snapshot with this ref (the model is told when there is none)."""
        element = find_element(self.snapshot, ref)
        if element is None:
            return self.refuse(f"{verb} [ref={ref}]", f"there is no element [ref={ref}] in the latest snapshot")
        page = self.step.page
        locator = element_locator(page, ref)
        # Made before the action, while the element is surely there: a replay finds it with this command.
        command = await learned_command(page, locator, element)
        return await self.act(f"{verb} {element}", node_of(element, command), lambda: perform(element, locator))

    def stable_locator(self, element: SnapshotElement) -> Locator:
        """A locator that finds the element after later snapshots too (a ref holds only until the next one)."""
        return resolve_locator(parse_locator(element.command), self.step.page, lambda text: text)

    async def fill(self, locator: Locator, text: str, submit: bool) -> None:
        await locator.fill(text, timeout=self.timeout_ms)
        if submit:
            await locator.press("Enter", timeout=self.timeout_ms)

    async def act(self, what: str, node: dict[str, Any], perform: Callable[[], Awaitable[object]]) -> str:
        """Count the action, perform it, record it; the model gets the new page, or the error to correct."""
        self.spend(what)
        try:
            await perform()
            await settle(self.step.page, SETTLE_AFTER_ACTION_S)
            self.step.state.adopt_new_tab()
            refused = take_refused_navigation(self.step)
            if refused is not None:
                raise refused
        except (RebrowseError, PlaywrightError, TimeoutError, ValueError) as exc:
            return await self.failed(what, exc)
        self.log.append({"action": what, "outcome": "done"})
        self.nodes.append(node)
        return f"Done: {what}. The page now:\n{await self.fresh_snapshot()}"

    def spend(self, what: str) -> None:
        self.actions += 1
        if self.exhausted:
            self.log.append({"action": what, "outcome": f"not done: max_steps={self.max_steps} reached"})
            raise BudgetSpent(f"the agent wanted more than max_steps={self.max_steps} actions")

    async def failed(self, what: str, error: BaseException) -> str:
        message = self.step.state.secrets.redactor.redact_text(first_line(error))
        self.log.append({"action": what, "outcome": f"error: {message}"})
        return f"Error: {what} failed: {message}. The page now:\n{await self.fresh_snapshot()}"

    def refuse(self, what: str, message: str) -> str:
        """An action refused before it touched the page (still counted: the model must not loop on it)."""
        self.spend(what)
        self.log.append({"action": what, "outcome": f"error: {message}"})
        return f"Error: {message}"

    async def fresh_snapshot(self) -> str:
        self.snapshot = await snapshot_for_model(self.step)
        return f"URL: {self.step.page.url}\n{self.snapshot}"

    async def screenshot_content(self) -> list[UserContent]:
        """The page's screenshot, secret fields masked, when the step uses vision."""
        if not self.use_vision:
            return []
        try:
            image = await self.step.page.screenshot(
                timeout=SCREENSHOT_TIMEOUT_MS, mask=self.step.state.screenshot_mask()
            )
        except PlaywrightError:
            return []  # a page too busy to paint still has its snapshot, which is what the refs come from
        return [BinaryContent(data=image, media_type="image/png")]

    def tools(self, names: Sequence[str]) -> list[Tool[None]]:
        """The named tools; sequential, since they all act on one page."""
        return [Tool(getattr(self, name), takes_ctx=False, sequential=True) for name in names]


FULL_TOOLS = ("read_page", "click", "type_text", "type_secret", "select", "scroll", "navigate", "go_back")
OVERLAY_TOOLS = ("read_page", "click", "press_escape")


def interaction(name: str, action: BaseModel) -> dict[str, Any]:
    """An Optexity action node for an interaction action."""
    payload = action.model_dump(mode="json", exclude_defaults=True)
    return {"type": "action_node", "interaction_action": {name: payload}}


def take_refused_navigation(step: Step) -> EgressDenied | None:
    """A navigation of the action the egress policy refused: told to the model, so the step need not fail on it
    (the step's record still lists what was blocked)."""
    state = step.state
    refused = state.refused_navigation
    state.begin_step()
    return refused


def task_for_model(step: Step, task: str) -> tuple[str, dict[str, PlaceholderRef]]:
    """The task with its placeholders filled in, except secure ones, shown as `<secret name>`; and those."""
    secret_refs = {ref.text[1:-1]: ref for ref in references(task) if ref.name in step.state.secure}
    for label, ref in secret_refs.items():
        task = task.replace(ref.text, f"<secret {label}>")
    return step.sub(task), secret_refs


async def agentic_task(step: Step, action: AgenticTask, wrapper: InteractionAction) -> None:
    """Let the model do the task on the page, through our tools, within max_steps actions."""
    task, secret_refs = task_for_model(step, action.task)
    agent = PageAgent(step, wrapper, action.max_steps, action.use_vision, secret_refs)
    await run_agent(agent, task, FULL_TOOLS)
    step.record.learned = {"nodes": agent.nodes}


async def close_overlay_popup(step: Step, action: CloseOverlayPopupAction, wrapper: InteractionAction) -> None:
    """Let the model dismiss overlays covering the page, with clicks and Escape only."""
    task, secret_refs = task_for_model(step, action.task) if action.task else (OVERLAY_TASK, {})
    agent = PageAgent(step, wrapper, action.max_steps, action.use_vision, secret_refs)
    await run_agent(agent, task, OVERLAY_TOOLS)


async def run_agent(agent: PageAgent, task: str, tool_names: Sequence[str]) -> None:
    """Run the loop, write what it did, and fail the step unless the model reports success."""
    step = agent.step
    instructions = INSTRUCTIONS.format(max_steps=agent.max_steps) + (SECRETS_NOTE if agent.secret_refs else "")
    if not agent.secret_refs:
        tool_names = [name for name in tool_names if name != "type_secret"]
    prompt: list[UserContent] = [f"Task: {task}\n\n{await agent.fresh_snapshot()}"]
    prompt += await agent.screenshot_content()
    messages: list[ModelMessage] = []
    try:
        with capture_run_messages() as messages:
            answer = await ask(
                step,
                prompt,
                AgentOutcome,
                purpose="agentic task",
                instructions=instructions,
                tools=agent.tools(tool_names),
                request_limit=request_limit(agent.max_steps),
            )
    except LlmFailed as exc:
        write_artifacts(agent, task, messages, None)
        if agent.exhausted:
            raise StepFailed(f"the agent did not finish within max_steps={agent.max_steps}") from None
        raise StepFailed(f"the agent stopped: {exc}") from None
    write_artifacts(agent, task, answer.messages, answer.output)
    if not answer.output.success:
        raise StepFailed(f"the agent could not do the task: {answer.output.summary}")


def request_limit(max_steps: int) -> int:
    """Requests the loop may make: one per action, some reads of the page, the final answer and its retries."""
    return 2 * max_steps + 4


def write_artifacts(agent: PageAgent, task: str, messages: list[ModelMessage], outcome: AgentOutcome | None) -> None:
    """The actions on the step's record, the action nodes and the conversation as artifacts (all redacted)."""
    step = agent.step
    record, writer = step.record, step.state.writer
    lines = [f"{i}. {entry['action']}: {entry['outcome']}" for i, entry in enumerate(agent.log, 1)]
    if outcome is not None:
        lines.append(f"agent: {'success' if outcome.success else 'failure'}: {outcome.summary}")
    record.detail = "\n".join(lines) or None
    suffix = f"{record.attempt}_{record.index:04d}"
    steps = {
        "task": task,
        "success": outcome.success if outcome else False,
        "summary": outcome.summary if outcome else None,
        "actions": agent.log,
        "nodes": agent.nodes,
    }
    writer.write_json(f"agent_steps_{suffix}.json", steps)
    if messages:
        writer.write_json(f"agent_conversation_{suffix}.json", json.loads(ModelMessagesTypeAdapter.dump_json(messages)))
