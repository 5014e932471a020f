"""The one way rebrowse asks a model something: typed answers, tools, retries with backoff, usage per call."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from openai import AsyncOpenAI
from pydantic import BaseModel
from pydantic_ai import Agent, Tool
from pydantic_ai.exceptions import (
    AgentRunError,
    ModelAPIError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelServerError,
    ModelUnavailableError,
    UsageLimitExceeded,
    UserError,
)
from pydantic_ai.messages import ModelMessage, UserContent
from pydantic_ai.models import Model, infer_model
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.output import OutputSpec
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import RunUsage, UsageLimits

from rebrowse.errors import LlmNotConfigured, StepFailed
from rebrowse.llm.config import NOT_CONFIGURED, LlmConfig
from rebrowse.llm.names import pydantic_ai_name

T = TypeVar("T")
# Worth another attempt: the provider may answer after a pause. Anything else (a refused key, an unknown model,
# a prompt too long) would fail the same way again.
TRANSIENT = (ModelRateLimitError, ModelUnavailableError, ModelServerError, ModelConnectionError)
DECISION_CHARS = 500  # how much of an answer a step record keeps
OUTPUT_RETRIES = 2  # how often the model may try again when an answer or a tool call does not fit its schema


@dataclass
class LlmCall:
    """One question to a model, as a step records it."""

    purpose: str
    model: str
    # The model the automation named, when another one answered (the deployment's server, or a provider without a key)
    requested: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    latency_ms: float = 0.0
    attempts: int = 1
    decision: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LlmFailed(StepFailed):
    """The model gave no valid answer; `call` is what the attempt cost."""

    def __init__(self, message: str, call: LlmCall) -> None:
        self.call = call
        super().__init__(message)


@dataclass
class LlmUsage:
    """What a run's LLM calls cost in all (every attempt's): for the task record, the callback and /metrics."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    def add(self, call: LlmCall) -> None:
        self.calls += 1
        self.failed_calls += call.error is not None
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.requests += call.requests

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Answer(Generic[T]):
    """A model's typed answer, the call's record and the whole conversation (for an artifact)."""

    output: T
    call: LlmCall
    messages: list[ModelMessage]


def build_model(name: str | Model, config: LlmConfig) -> Model:
    """A pydantic-ai model for a name (mapped from LiteLLM's spelling), on the deployment's server if it has one."""
    if isinstance(name, Model):
        return name
    if config.base_url is not None:
        # The SDK's own retries are off: ours back off without blocking and are counted on the step.
        client = AsyncOpenAI(base_url=config.base_url, api_key=config.api_key or "not-needed", max_retries=0)
        return OpenAIChatModel(name.split(":", 1)[-1], provider=OpenAIProvider(openai_client=client))
    try:
        return infer_model(pydantic_ai_name(name))
    except UserError as exc:
        raise LlmNotConfigured(f"model {name!r} cannot be used: {exc}") from None


def model_label(model: Model) -> str:
    return f"{model.system}:{model.model_name}"


class Llm:
    """Asks the deployment's model (or the one an automation names) and records what each call cost."""

    def __init__(self, config: LlmConfig) -> None:
        self.config = config
        self.usage = LlmUsage()
        self._models: dict[str | None, Model] = {}

    def model_for(self, requested: str | None) -> Model:
        """The model for a step: the one the automation names when this deployment can reach it (it has no server of
        its own and has that provider's key), else the deployment's; with the fallback model behind it."""
        if self.config.model is None:
            raise LlmNotConfigured(NOT_CONFIGURED)
        key = requested if requested and self.config.base_url is None else None
        if key not in self._models:
            try:
                primary = build_model(key or self.config.model, self.config)
            except LlmNotConfigured:
                if key is None:
                    raise
                primary = self.model_for(None)  # Optexity automations name models freely; the deployment decides
            fallback = self.config.fallback_model
            if fallback is not None and not isinstance(primary, FallbackModel):
                primary = FallbackModel(primary, build_model(fallback, self.config))
            self._models[key] = primary
        return self._models[key]

    async def ask(
        self,
        prompt: str | Sequence[UserContent],
        output_type: OutputSpec[T],
        *,
        purpose: str,
        instructions: str,
        model_name: str | None = None,
        tools: Sequence[Tool[None]] = (),
        request_limit: int | None = None,
    ) -> Answer[T]:
        """Ask once (retrying transient provider errors with backoff); the answer is validated against
        `output_type`. Raises LlmFailed with the call's record when no valid answer came."""
        model = self.model_for(model_name)
        agent: Agent[None, T] = Agent(
            model, output_type=output_type, instructions=instructions, tools=tools, retries=OUTPUT_RETRIES
        )
        call = LlmCall(purpose=purpose, model=model_label(model))
        if model_name and pydantic_ai_name(model_name) != call.model:
            call.requested = model_name
        limits = UsageLimits(request_limit=request_limit)
        started = time.perf_counter()
        try:
            return await self._run(agent, prompt, limits, call)
        finally:
            call.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            self.usage.add(call)

    async def _run(
        self, agent: Agent[None, T], prompt: str | Sequence[UserContent], limits: UsageLimits, call: LlmCall
    ) -> Answer[T]:
        delay = self.config.retry_backoff_s
        for attempt in range(1, self.config.retries + 2):
            call.attempts = attempt
            usage = RunUsage()
            try:
                result = await agent.run(prompt, usage_limits=limits, usage=usage)
            except TRANSIENT as exc:
                count_usage(call, usage)
                if attempt > self.config.retries:
                    raise self._failed(call, f"the model provider kept failing ({describe(exc)})") from None
                await asyncio.sleep(min(exc.retry_after or delay, self.config.retry_backoff_cap_s))
                delay *= 2
                continue
            except UsageLimitExceeded as exc:
                count_usage(call, usage)
                raise self._failed(call, f"the model did not finish within its limits: {exc}") from None
            except ModelAPIError as exc:
                count_usage(call, usage)
                raise self._failed(call, f"the model provider refused the request ({describe(exc)})") from None
            except AgentRunError as exc:
                count_usage(call, usage)
                raise self._failed(call, f"the model gave no usable answer: {exc}") from None
            count_usage(call, result.usage)
            call.model = answered_by(result.all_messages()) or call.model
            call.decision = summary(result.output)
            return Answer(result.output, call, result.all_messages())
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _failed(call: LlmCall, message: str) -> LlmFailed:
        call.error = message
        return LlmFailed(message, call)


def count_usage(call: LlmCall, usage: RunUsage) -> None:
    call.input_tokens += usage.input_tokens
    call.output_tokens += usage.output_tokens
    call.requests += usage.requests


def describe(exc: ModelAPIError) -> str:
    return f"{type(exc).__name__}: {exc}"


def answered_by(messages: list[ModelMessage]) -> str | None:
    """The model that gave the last answer (a fallback model, when the first one failed)."""
    for message in reversed(messages):
        name = getattr(message, "model_name", None)
        provider = getattr(message, "provider_name", None)
        if name:
            return f"{provider}:{name}" if provider else str(name)
    return None


def summary(output: object) -> str:
    """A short, JSON-like rendering of an answer for the step's record."""
    data = output.model_dump(mode="json") if isinstance(output, BaseModel) else output
    try:
        text = json.dumps(data, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(data)
    return text if len(text) <= DECISION_CHARS else text[: DECISION_CHARS - 1] + "…"
