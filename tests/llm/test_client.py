"""The model layer against a real OpenAI-compatible HTTP server on 127.0.0.1, and pydantic-ai's own test models."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai import Tool
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from rebrowse.errors import LlmNotConfigured
from rebrowse.llm.client import OUTPUT_RETRIES, Llm, LlmFailed
from rebrowse.llm.config import LlmConfig
from tests.llm_server import Call, ChatServer, Fail, Reply, chat_server, output_tool

__all__ = ["chat_server"]  # the fixture


class Invoice(BaseModel):
    number: str
    total: float


def served(server: ChatServer, **config: Any) -> Llm:
    """A model layer whose every call goes to the test server (as to Ollama or vLLM)."""
    return Llm(LlmConfig(**{"model": "test-model", "base_url": server.base_url, "retry_backoff_s": 0.01, **config}))


def answer(number: str = "INV-7", total: float = 12.5) -> Any:
    return lambda request: Call(output_tool(request), {"number": number, "total": total})


async def ask(llm: Llm, **kwargs: Any) -> Any:
    return await llm.ask("Read the invoice", Invoice, purpose="extract", instructions="Extract it.", **kwargs)


async def test_a_typed_answer_over_http_with_its_usage(chat_server: ChatServer) -> None:
    chat_server.script = answer()
    llm = served(chat_server)

    result = await ask(llm)

    assert result.output == Invoice(number="INV-7", total=12.5)
    (request,) = chat_server.requests
    assert request["model"] == "test-model"
    schema = next(
        t["function"]["parameters"] for t in request["tools"] if t["function"]["name"] == output_tool(request)
    )
    assert set(schema["properties"]) == {"number", "total"}
    assert any("Read the invoice" in json.dumps(m) for m in request["messages"])
    call = result.call
    assert (call.purpose, call.requests, call.attempts, call.error) == ("extract", 1, 1, None)
    assert call.input_tokens > 0 and call.output_tokens > 0
    assert call.decision == '{"number": "INV-7", "total": 12.5}'
    assert llm.usage.to_json() == {
        "calls": 1,
        "failed_calls": 0,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "requests": 1,
    }


async def test_an_overloaded_provider_is_retried_with_backoff(chat_server: ChatServer) -> None:
    llm = served(chat_server, retry_backoff_cap_s=0.01)  # the provider's hour-long Retry-After is capped
    replies: list[Reply] = [Fail(503, "overloaded"), Fail(429, "slow down", {"retry-after": "3600"})]

    def script(request: dict[str, Any]) -> Reply:
        return replies.pop(0) if replies else answer()(request)

    chat_server.script = script

    result = await ask(llm)

    assert result.output.number == "INV-7"
    assert (len(chat_server.requests), result.call.attempts) == (3, 3)


async def test_backoff_does_not_block_the_event_loop(chat_server: ChatServer) -> None:
    replies: list[Reply] = [Fail(503)]
    chat_server.script = lambda request: replies.pop(0) if replies else answer()(request)
    llm = served(chat_server, retry_backoff_s=0.2)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    try:
        await ask(llm)
    finally:
        ticker.cancel()
    assert ticks > 5  # the ticker kept running while the call waited 0.2 s to retry


async def test_a_provider_that_keeps_failing_fails_the_call_after_its_retries(chat_server: ChatServer) -> None:
    chat_server.script = lambda request: Fail(500, "down")
    llm = served(chat_server, retries=2)

    with pytest.raises(LlmFailed, match="kept failing") as failed:
        await ask(llm)

    assert len(chat_server.requests) == 3
    assert failed.value.call.attempts == 3
    assert llm.usage.failed_calls == 1


async def test_a_refused_key_is_not_retried(chat_server: ChatServer) -> None:
    chat_server.script = lambda request: Fail(401, "invalid api key")
    llm = served(chat_server)

    with pytest.raises(LlmFailed, match="refused the request") as failed:
        await ask(llm)

    assert len(chat_server.requests) == 1
    assert "invalid api key" in str(failed.value.call.error)


async def test_an_answer_off_the_schema_fails_after_its_retries(chat_server: ChatServer) -> None:
    chat_server.script = lambda request: Call(output_tool(request), {"number": "INV-7", "total": "a lot"})
    llm = served(chat_server)

    with pytest.raises(LlmFailed, match="no usable answer"):
        await ask(llm)

    assert len(chat_server.requests) == 1 + OUTPUT_RETRIES
    # Every retry told the model what was wrong with its answer.
    assert "total" in json.dumps(chat_server.requests[-1]["messages"][-1])


async def test_the_fallback_model_answers_when_the_first_fails(chat_server: ChatServer) -> None:
    chat_server.script = lambda request: Fail(503) if request["model"] == "primary" else answer("INV-9")(request)
    llm = Llm(LlmConfig(model="primary", fallback_model="backup", base_url=chat_server.base_url, retries=0))

    result = await ask(llm)

    assert result.output.number == "INV-9"
    assert [r["model"] for r in chat_server.requests] == ["primary", "backup"]
    assert result.call.model.endswith("backup")


async def test_without_a_model_the_call_names_the_setting_to_set() -> None:
    with pytest.raises(LlmNotConfigured, match="REBROWSE_LLM_MODEL"):
        await ask(Llm(LlmConfig()))


def test_an_automation_names_a_model_the_deployment_cannot_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    deployment = TestModel()
    llm = Llm(LlmConfig(model=deployment))
    # No Anthropic key here: the deployment's model answers instead (and the call records what was asked for).
    assert llm.model_for("anthropic/claude-3-5-haiku") is deployment


async def test_a_function_model_scripts_answers_and_tool_calls() -> None:
    seen: list[str] = []

    def total(amount: float) -> str:
        seen.append(f"total {amount}")
        return "ok"

    def play(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("total", {"amount": 3.5})])
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"number": "A", "total": 3.5})])

    llm = Llm(LlmConfig(model=FunctionModel(play)))
    result = await ask(llm, tools=[Tool(total)])

    assert seen == ["total 3.5"]
    assert result.output == Invoice(number="A", total=3.5)
    assert result.call.requests == 2
    assert "ok" in [getattr(part, "content", None) for message in result.messages for part in message.parts]


@pytest.mark.parametrize(
    ("name", "model_class", "key"),
    [
        ("openai:gpt-4.1-mini", "OpenAIResponsesModel", "OPENAI_API_KEY"),
        ("anthropic/claude-sonnet-4-5", "AnthropicModel", "ANTHROPIC_API_KEY"),
        ("gemini/gemini-2.5-flash", "GoogleModel", "GEMINI_API_KEY"),
    ],
)
def test_each_provider_is_built_from_its_names_and_key(
    monkeypatch: pytest.MonkeyPatch, name: str, model_class: str, key: str
) -> None:
    monkeypatch.setenv(key, "test-key")
    model = Llm(LlmConfig(model=name)).model_for(None)
    assert type(model).__name__ == model_class
    assert model.model_name == name.replace("/", ":").split(":", 1)[1]
