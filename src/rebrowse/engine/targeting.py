"""How an element action finds its element: its `command`, or the model picking one from the page's snapshot.

The model sees the accessibility snapshot (secrets masked) and the step's goal, and answers an element reference
(and, for an input or a select that gives no value, the value too). The reference must be on the page; the action
then runs on it exactly as on an element a command located, and the step records the element's own command.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from playwright.async_api import Locator
from pydantic import BaseModel, Field

from rebrowse.automation.actions import (
    CheckAction,
    ClickElementAction,
    HoverAction,
    InputTextAction,
    KeyPressAction,
    SelectOptionAction,
    TargetedAction,
    UncheckAction,
    UploadFileAction,
)
from rebrowse.engine.asking import ask, snapshot_for_model
from rebrowse.engine.cached import learn
from rebrowse.engine.locators import learned_command
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed
from rebrowse.llm.snapshot import element_locator, find_element

# What the step does with its element, as the model is told.
DOING: dict[type[TargetedAction], str] = {
    ClickElementAction: "click",
    InputTextAction: "type into",
    SelectOptionAction: "select options in",
    CheckAction: "check",
    UncheckAction: "uncheck",
    HoverAction: "hover over",
    UploadFileAction: "upload a file with (a file input, or a button that opens a file chooser)",
    KeyPressAction: "press keys in",
}
PREAMBLE = (
    "You help one step of a browser automation. The page is an accessibility snapshot; its elements carry "
    "references such as [ref=e12]. Give your reason in a few words."
)


class Answer(BaseModel):
    """What every answer holds; `task` tells the model what to give, `purpose` names the call in the record."""

    task: ClassVar[str]
    purpose: ClassVar[str]

    reason: str = Field(description="why, in a few words")


class ElementAnswer(Answer):
    task: ClassVar[str] = "Give the reference of the one element the goal means, or null if the page has none."
    purpose: ClassVar[str] = "locate element"

    ref: str | None = Field(description="the element's reference, e.g. e12; null if the page has no such element")


class TextAnswer(Answer):
    task: ClassVar[str] = "Give the text to type into the element, as the goal asks."
    purpose: ClassVar[str] = "text to type"

    text: str = Field(description="the text to type")


class OptionsAnswer(Answer):
    task: ClassVar[str] = "Give the options to select in the element, named as the snapshot names them."
    purpose: ClassVar[str] = "options to select"

    values: list[str] = Field(min_length=1, description="the options to select")


class ElementTextAnswer(ElementAnswer, TextAnswer):
    task: ClassVar[str] = f"{ElementAnswer.task} {TextAnswer.task}"
    purpose: ClassVar[str] = "locate element and text to type"


class ElementOptionsAnswer(ElementAnswer, OptionsAnswer):
    task: ClassVar[str] = f"{ElementAnswer.task} {OptionsAnswer.task}"
    purpose: ClassVar[str] = "locate element and options to select"


A = TypeVar("A", bound=Answer)
E = TypeVar("E", bound=ElementAnswer)


def command_of(action: TargetedAction) -> str | None:
    """The command that locates the element, if any (skip_command keeps a command for reference only)."""
    return None if action.skip_command else action.command


async def target_and_text(step: Step, action: InputTextAction) -> tuple[Locator | None, str]:
    """For an input that gives no text: the model's text, and the element the model picks with it when no command
    locates the element (None: the command's element, which healing.perform acts on)."""
    locator, answer = await answer_for(step, action, TextAnswer, ElementTextAnswer)
    learn(step, text=answer.text)
    return locator, answer.text


async def target_and_options(step: Step, action: SelectOptionAction) -> tuple[Locator | None, list[str]]:
    """For a select that gives no values: the model's options (still to be matched against the element's own), and
    the element the model picks with them when no command locates it (None: the command's element)."""
    locator, answer = await answer_for(step, action, OptionsAnswer, ElementOptionsAnswer)
    learn(step, values=answer.values)
    return locator, answer.values


async def answer_for(
    step: Step, action: TargetedAction, given: type[A], picked: type[E]
) -> tuple[Locator | None, A] | tuple[Locator, E]:
    """What the model gives for the step: `given` about the command's element (None), else `picked` with the
    element it picks."""
    command = command_of(action)
    if command is None:
        return await pick(step, action, picked)
    step.locate(command)  # records the command, which tells the model which element the answer is for
    return None, (await ask_about_page(step, action, given, step.record.locator))[0]


async def pick(step: Step, action: TargetedAction, output_type: type[E]) -> tuple[Locator, E]:
    """The element the model picks on the page, with its whole answer; an element not on the page fails the step."""
    answer, snapshot = await ask_about_page(step, action, output_type)
    if answer.ref is None:
        raise StepFailed(f"the model found no element for this step on the page: {answer.reason}")
    ref = bare_ref(answer.ref)
    element = find_element(snapshot, ref)
    if element is None:
        raise StepFailed(f"the model named {answer.ref!r}, which is not on the page (its reason: {answer.reason})")
    try:
        locator = element_locator(step.page, ref)
    except ValueError as exc:
        raise StepFailed(f"the model's answer is not usable: {exc}") from None
    step.record.locator = await learned_command(step.page, locator, element)
    learn(step, command=step.record.locator)
    step.record.detail = f"chosen by the model: {element}"
    return locator, answer


def bare_ref(answer: str) -> str:
    """The reference in an answer that copied more of the snapshot's marker (`[ref=e12]`) than asked."""
    return answer.strip().removeprefix("[").removeprefix("ref=").removesuffix("]")


async def ask_about_page(
    step: Step, action: TargetedAction, output_type: type[A], element: str | None = None
) -> tuple[A, str]:
    """The model's answer about the current page for this step, and the snapshot it saw. `element` describes the
    element when a command already located it."""
    snapshot = await snapshot_for_model(step)
    doing = DOING[type(action)]
    what = f"{doing} the element located by {element}" if element else f"find the element to {doing}"
    goal = step.shown(action.prompt_instructions) or "(none given)"
    prompt = f"Step: {what}.\nGoal: {goal}\nPage:\n{snapshot}"
    instructions = f"{PREAMBLE} {output_type.task}"
    answer = await ask(step, prompt, output_type, purpose=output_type.purpose, instructions=instructions)
    return answer.output, snapshot
