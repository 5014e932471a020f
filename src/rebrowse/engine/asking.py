"""Asking the run's model from a step: what the model sees is redacted, and every call lands on the step's record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from pydantic_ai import Tool
from pydantic_ai.messages import UserContent
from pydantic_ai.output import OutputSpec

from rebrowse.engine.state import Step
from rebrowse.llm.client import Answer, LlmCall, LlmFailed
from rebrowse.llm.snapshot import page_snapshot

T = TypeVar("T")


async def ask(
    step: Step,
    prompt: str | Sequence[UserContent],
    output_type: OutputSpec[T],
    *,
    purpose: str,
    instructions: str,
    model_name: str | None = None,
    tools: Sequence[Tool[None]] = (),
    request_limit: int | None = None,
) -> Answer[T]:
    """Ask the run's model; the call (or the failed one) is recorded on the step with secrets masked."""
    try:
        answer = await step.state.llm.ask(
            prompt,
            output_type,
            purpose=purpose,
            instructions=instructions,
            model_name=model_name,
            tools=tools,
            request_limit=request_limit,
        )
    except LlmFailed as exc:
        record_call(step, exc.call)
        raise
    record_call(step, answer.call)
    return answer


def record_call(step: Step, call: LlmCall) -> None:
    step.record.llm_calls.append(step.state.secrets.redactor.redact(call.to_json()))


async def snapshot_for_model(step: Step) -> str:
    """The current page's accessibility snapshot with element references, secrets masked: a value typed into a
    field shows in the snapshot, and a secret must never reach a model provider."""
    return step.state.secrets.redactor.redact_text(await page_snapshot(step.page))
