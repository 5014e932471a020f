"""Asking the model for the fields of an extraction format: the prompt's parts, and the locator's LLM fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai import BinaryContent
from pydantic_ai.messages import UserContent

from rebrowse.automation.actions import LocatorExtraction
from rebrowse.automation.placeholders import references
from rebrowse.engine.asking import ask, snapshot_for_model
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed
from rebrowse.llm.formats import Answer, format_model, requested_model

EXTRACT = (
    "Read the requested values from what you are given (a web page or a document) and answer with them in the "
    "answer's fields. Use null for a value that is not there; never invent one."
)


def prompt_text(step: Step, text: str, field: str) -> str:
    """An automation's text for a prompt, placeholders filled in; a secure parameter in it is refused, since
    a secret must never reach a model provider."""
    secret = next((ref.name for ref in references(text) if ref.name in step.state.secure), None)
    if secret is not None:
        raise StepFailed(f"{field} uses the secure parameter {secret!r}: a secret is never sent to a model")
    return step.sub(text)


async def page_parts(step: Step, sources: Sequence[str], full_page: bool) -> list[UserContent]:
    """What the model sees of the page: the snapshot (secrets masked) and/or a screenshot (secret fields covered)."""
    parts: list[UserContent] = []
    if "axtree" in sources:
        parts.append("The page (accessibility snapshot):\n" + await snapshot_for_model(step))
    if "screenshot" in sources:
        parts.append(BinaryContent(await masked_screenshot(step, full_page), media_type="image/png"))
    return parts


async def masked_screenshot(step: Step, full_page: bool) -> bytes:
    """A PNG of the current page with the fields that were given a secret covered."""
    return await step.page.screenshot(full_page=full_page, mask=step.state.screenshot_mask())


async def answer_in_format(
    step: Step,
    fmt: dict[str, Any],
    prompt: Sequence[UserContent],
    *,
    purpose: str,
    model_name: str | None,
    instructions: str = EXTRACT,
) -> dict[str, Any]:
    """The model's answer in the format's fields (validated; off-format answers are retried, then LlmFailed)."""
    answer = await ask(
        step, prompt, format_model(fmt), purpose=purpose, instructions=instructions, model_name=model_name
    )
    output: Answer = answer.output
    return output.data()


async def extract(
    step: Step, fmt: dict[str, Any], task: str, parts: Sequence[UserContent], *, purpose: str, model_name: str | None
) -> dict[str, Any]:
    """The format's fields as the model reads them from `parts` (the page, a document)."""
    return await answer_in_format(
        step, fmt, [f"Values to read: {task}", *parts], purpose=purpose, model_name=model_name
    )


async def locator_fallback(step: Step, action: LocatorExtraction, name: str) -> Any:
    """The value of `name` as the model reads it from the page, when the locator found no text."""
    task = prompt_text(step, action.extraction_instructions or "", "extraction_instructions")
    data = await extract(
        step,
        action.extraction_format,
        task,
        await page_parts(step, ["axtree"], full_page=False),
        purpose="locator fallback",
        model_name=requested_model(action.llm_model_name, action.llm_provider),
    )
    step.record.detail = "the locator found no text: the LLM fallback answered"
    return data.get(name)
