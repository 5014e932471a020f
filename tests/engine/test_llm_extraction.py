"""The LLM extraction family on real pages: llm and pdf extraction, llm assertions, llm_query, the locator fallback.

The model is the only fake: pydantic-ai's FunctionModel answers in-process, and the OpenAI-compatible chat_server
answers over HTTP so the requests a provider would receive can be checked (schema, image and file parts, secrets).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_ai import BinaryContent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from rebrowse.demo.site import render_pdf
from rebrowse.engine.run import RunResult
from rebrowse.llm.client import OUTPUT_RETRIES
from rebrowse.llm.config import MODEL_SETTING, LlmConfig
from rebrowse.secrets.resolver import SecretResolver
from tests.engine.conftest import ORIGIN, Replay, action, automation
from tests.engine.test_extraction import json_outputs, read_text, remember
from tests.engine.test_security import FakeOnePassword, typed
from tests.llm_server import Call, ChatServer, output_tool

SECRET = "wJalrXUtnFEMI/K7MDENG"
REFERENCE = "op://Vault/aws/secret_access_key"
SECURE = {"key": [{"onepassword": {"vault_name": "Vault", "item_name": "aws", "field_name": "secret_access_key"}}]}
PRODUCT = {"title": "str", "price": "float", "tags": "List[str]"}
NOW = {"before_sleep_time": 0}  # no implicit pause before an extraction


# ---------------------------------------------------------------------------------------------------------
# Scripted models


class Scripted:
    """A FunctionModel that answers every request with `answer(prompt parts)` and keeps what it was sent."""

    def __init__(self, answer: Callable[[list[Any]], dict[str, Any]] | dict[str, Any]) -> None:
        self.answer = answer
        self.prompts: list[list[Any]] = []
        self.schemas: list[dict[str, Any]] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        parts = user_parts(messages)
        self.prompts.append(parts)
        tool = info.output_tools[0]
        self.schemas.append(tool.parameters_json_schema)
        args = self.answer(parts) if callable(self.answer) else self.answer
        return ModelResponse(parts=[ToolCallPart(tool.name, args)])

    def config(self) -> LlmConfig:
        return LlmConfig(model=FunctionModel(self))


def user_parts(messages: list[ModelMessage]) -> list[Any]:
    """The contents of the user prompts of a conversation (text and binary parts)."""
    found: list[Any] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    found.extend([part.content] if isinstance(part.content, str) else part.content)
    return found


def text_of(parts: list[Any]) -> str:
    return "\n".join(part for part in parts if isinstance(part, str))


def binaries(parts: list[Any]) -> list[BinaryContent]:
    return [part for part in parts if isinstance(part, BinaryContent)]


def answering(server: ChatServer, args: dict[str, Any]) -> LlmConfig:
    """The chat server answers every request with the final-answer tool called with `args`."""
    server.script = lambda request: Call(output_tool(request), args)
    return LlmConfig(model="test-model", base_url=server.base_url)


def tool_schema(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of the final-answer tool a request offers."""
    name = output_tool(request)
    tool = next(t for t in request["tools"] if t["function"]["name"] == name)
    schema: dict[str, Any] = tool["function"]["parameters"]
    return schema


def content_types(request: dict[str, Any]) -> set[str]:
    """The types of the content parts of a request's user messages (text, image_url, file)."""
    types: set[str] = set()
    for message in request["messages"]:
        if message["role"] == "user" and isinstance(message["content"], list):
            types |= {part["type"] for part in message["content"]}
    return types


def assert_needs_model(result: RunResult) -> None:
    assert result.status == "failed"
    assert result.error is not None and MODEL_SETTING in result.error


# ---------------------------------------------------------------------------------------------------------
# Node builders


def llm_extract(fmt: dict[str, Any], instructions: str, **fields: Any) -> dict[str, Any]:
    """An llm extraction node; `fields` go to the llm payload, except allow_none and unique_identifier."""
    wrapper: dict[str, Any] = {k: fields.pop(k) for k in ("allow_none", "unique_identifier") if k in fields}
    payload = {"extraction_format": fmt, "extraction_instructions": instructions, **fields}
    return action("extraction_action", {"llm": payload, **wrapper}, **NOW)


def llm_assert(statement: str, **fields: Any) -> dict[str, Any]:
    return action("assertion_action", {"llm": {"extraction_instructions": statement, **fields}})


def llm_query(prompt: str, fmt: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"prompt_instructions": prompt, "output_format": fmt}
    if names is not None:
        payload["output_variable_names"] = names
    return action("misc_action", {"llm_query": payload})


def pdf_extract(filename: str, fmt: dict[str, Any], instructions: str) -> dict[str, Any]:
    payload = {"filename": filename, "extraction_format": fmt, "extraction_instructions": instructions}
    return action("extraction_action", {"pdf": payload}, **NOW)


def save_pdf(name: str) -> dict[str, Any]:
    payload = {"download_url_as_pdf": {"url": f"{ORIGIN}/files/{name}.pdf"}}
    return action("interaction_action", payload)


def stock_fallback(**fields: Any) -> dict[str, Any]:
    """A locator extraction of the empty #stock element, with the LLM fallback's instructions."""
    payload = {
        "command": 'locator("#stock")',
        "output_variable_name": "stock",
        "extraction_format": {"stock": "str"},
        "extraction_instructions": "how many desks are left in stock",
        **fields,
    }
    return action("extraction_action", {"locator": payload}, **NOW)


def secret_typed_first(*nodes: dict[str, Any]) -> dict[str, Any]:
    """masked.html with a secret typed into its first field, then the nodes."""
    typing = typed('locator("#secret-field")', "{key[0]}")
    return automation("masked.html", [typing, *nodes], parameters={"secure_parameters": SECURE})


def resolver() -> SecretResolver:
    return SecretResolver(onepassword=FakeOnePassword({REFERENCE: SECRET}))


# ---------------------------------------------------------------------------------------------------------
# llm extraction


async def test_llm_extraction_reads_the_snapshot_into_outputs_and_variables(replay: Replay) -> None:
    model = Scripted({"title": "Oak desk", "price": 249.0, "tags": ["wood", "office"]})
    nodes = [
        llm_extract(PRODUCT, "the product", output_variable_names=["title", "tags"], unique_identifier="product"),
        remember("echo", "{title[0]} / {tags[1]}"),
    ]
    result = await replay(automation("llm_extraction.html", nodes), llm=model.config())

    assert result.status == "success", result.error
    assert result.output_data[0] == {
        "unique_identifier": "product",
        "json_data": {"title": "Oak desk", "price": 249.0, "tags": ["wood", "office"]},
    }
    assert json_outputs(result.output_data)[1] == {"echo": "Oak desk / office"}
    (prompt,) = model.prompts
    assert "the product" in text_of(prompt) and "Oak desk" in text_of(prompt) and "$249.00" in text_of(prompt)
    assert binaries(prompt) == []  # the default source is the snapshot only
    assert set(model.schemas[0]["properties"]) == {"title", "price", "tags"}
    (call,) = result.steps[0].llm_calls
    assert call["purpose"] == "llm extraction" and call["error"] is None


async def test_llm_extraction_over_http_sends_the_schema_and_the_screenshot_but_never_the_secret(
    replay: Replay, chat_server: ChatServer
) -> None:
    fmt = {"plain": "Optional[str]", "fields": [{"label": "str"}]}
    config = answering(chat_server, {"plain": "not a secret", "fields": [{"label": "Secret"}, {"label": "Plain"}]})
    nodes = [
        typed('locator("#plain-field")', "not a secret"),
        llm_extract(fmt, "what the fields hold", source=["axtree", "screenshot"], output_variable_names=["fields"]),
    ]
    result = await replay(secret_typed_first(*nodes), secrets=resolver(), llm=config)

    assert result.status == "success", result.error
    assert result.output_data[0]["json_data"]["fields"] == [{"label": "Secret"}, {"label": "Plain"}]
    (request,) = chat_server.requests
    schema = tool_schema(request)
    assert set(schema["properties"]) == {"plain", "fields"}
    assert "image_url" in content_types(request)
    body = json.dumps(chat_server.requests)
    assert "not a secret" in body  # the page was sent, with its plain field
    assert SECRET not in body


async def test_llm_extraction_without_a_model_fails_the_run(replay: Replay) -> None:
    result = await replay(automation("llm_extraction.html", [llm_extract(PRODUCT, "the product")]))
    assert_needs_model(result)
    assert result.steps[-1].outcome == "failed"


async def test_an_answer_off_the_format_fails_the_step_after_its_retries(replay: Replay) -> None:
    model = Scripted({"title": "Oak desk", "price": "a fair price", "tags": "wood"})
    result = await replay(automation("llm_extraction.html", [llm_extract(PRODUCT, "the product")]), llm=model.config())

    assert result.status == "failed"
    assert result.error is not None and "no usable answer" in result.error
    assert len(model.prompts) == OUTPUT_RETRIES + 1
    assert result.output_data == []


async def test_a_null_answer_fails_unless_allow_none(replay: Replay, tmp_path: Path) -> None:
    model = Scripted({"title": "Oak desk", "price": None, "tags": ["wood"]})
    strict = llm_extract(PRODUCT, "the product", output_variable_names=["price"])
    result = await replay(automation("llm_extraction.html", [strict]), llm=model.config())
    assert result.status == "failed"
    assert result.error is not None and "no value for 'price'" in result.error

    lenient = llm_extract(PRODUCT, "the product", output_variable_names=["price"], allow_none=True)
    data = automation("llm_extraction.html", [lenient, remember("p", "{price}")])
    result = await replay(data, llm=model.config(), out_dir=tmp_path / "lenient")
    assert result.status == "success", result.error
    assert json_outputs(result.output_data)[1] == {"p": "[null]"}


async def test_a_secure_parameter_in_instructions_is_refused_before_asking(replay: Replay) -> None:
    model = Scripted({"plain": "x"})
    node = llm_extract({"plain": "str"}, "is {key[0]} shown?")
    result = await replay(secret_typed_first(node), secrets=resolver(), llm=model.config())

    assert result.status == "failed"
    assert result.error is not None and "secure parameter 'key'" in result.error
    assert model.prompts == []


# ---------------------------------------------------------------------------------------------------------
# llm assertion


async def test_a_true_assertion_passes_and_always_sees_the_screenshot(replay: Replay) -> None:
    model = Scripted({"assertion_result": True, "assertion_reason": "the status names Ada"})
    node = llm_assert("the user is signed in", source=["axtree"], output_variable_names=["assertion_result"])
    result = await replay(
        automation("llm_extraction.html", [node, remember("ok", "{assertion_result[0]}")]), llm=model.config()
    )

    assert result.status == "success", result.error
    (prompt,) = model.prompts
    assert [part.media_type for part in binaries(prompt)] == ["image/png"]
    assert "Signed in as Ada" in text_of(prompt)  # the snapshot too, as the source asks
    assert result.steps[0].detail == "assertion held: the status names Ada"
    assert json_outputs(result.output_data)[-1] == {"ok": "True"}


async def test_a_false_assertion_fails_the_run_with_its_reason(replay: Replay) -> None:
    model = Scripted({"assertion_result": False, "assertion_reason": "the cart is empty"})
    result = await replay(automation("llm_extraction.html", [llm_assert("the cart holds a desk")]), llm=model.config())

    assert result.status == "failed"
    assert result.error is not None and "assertion failed: the cart is empty" in result.error
    assert result.steps[0].outcome == "failed"


async def test_an_assertion_over_http_sends_the_verdict_schema_and_a_masked_screenshot(
    replay: Replay, chat_server: ChatServer
) -> None:
    config = answering(chat_server, {"assertion_result": True, "assertion_reason": "ready"})
    result = await replay(secret_typed_first(llm_assert("the page says Ready")), secrets=resolver(), llm=config)

    assert result.status == "success", result.error
    (request,) = chat_server.requests
    assert set(tool_schema(request)["required"]) == {"assertion_result", "assertion_reason"}
    assert "image_url" in content_types(request)
    assert SECRET not in json.dumps(chat_server.requests)


async def test_an_assertion_without_a_model_fails_the_run(replay: Replay) -> None:
    result = await replay(automation("llm_extraction.html", [llm_assert("the user is signed in")]))
    assert_needs_model(result)


# ---------------------------------------------------------------------------------------------------------
# misc_action.llm_query


async def test_llm_query_answers_from_the_prompt_alone(replay: Replay) -> None:
    model = Scripted({"total": 7, "words": ["three", "four"]})
    nodes = [llm_query("add {a[0]} and {b[0]}", {"total": "int", "words": "List[str]"}, ["total", "words"])]
    data = automation("llm_extraction.html", [*nodes, remember("sum", "{total[0]}")])
    data["parameters"] = {"input_parameters": {"a": ["3"], "b": ["4"]}}
    result = await replay(data, inputs={"a": ["3"], "b": ["4"]}, llm=model.config())

    assert result.status == "success", result.error
    (prompt,) = model.prompts
    assert "add 3 and 4" in text_of(prompt)
    assert "Oak desk" not in text_of(prompt) and binaries(prompt) == []  # no page
    assert json_outputs(result.output_data) == [{"total": 7, "words": ["three", "four"]}, {"sum": "7"}]


async def test_llm_query_over_http_sends_its_schema(replay: Replay, chat_server: ChatServer) -> None:
    config = answering(chat_server, {"city": "Paris"})
    result = await replay(
        automation("llm_extraction.html", [llm_query("capital of France", {"city": "str"})]), llm=config
    )

    assert result.status == "success", result.error
    (request,) = chat_server.requests
    assert set(tool_schema(request)["properties"]) == {"city"}
    assert content_types(request) <= {"text"}
    assert "capital of France" in json.dumps(request["messages"])


async def test_llm_query_refuses_a_secret_in_its_prompt(replay: Replay, chat_server: ChatServer) -> None:
    config = answering(chat_server, {"ok": True})
    result = await replay(
        secret_typed_first(llm_query("is {key[0]} strong?", {"ok": "bool"})), secrets=resolver(), llm=config
    )

    assert result.status == "failed"
    assert result.error is not None and "prompt_instructions uses the secure parameter 'key'" in result.error
    assert chat_server.requests == []


async def test_llm_query_without_a_model_fails_the_run(replay: Replay) -> None:
    result = await replay(automation("llm_extraction.html", [llm_query("capital of France", {"city": "str"})]))
    assert_needs_model(result)


# ---------------------------------------------------------------------------------------------------------
# pdf extraction


async def test_pdf_extraction_sends_the_downloaded_file(replay: Replay) -> None:
    model = Scripted({"title": "rebrowse report: q3"})
    nodes = [save_pdf("q3"), save_pdf("q4"), pdf_extract("q3", {"title": "str"}, "the report's title")]
    result = await replay(automation("pdf.html", nodes), llm=model.config())

    assert result.status == "success", result.error
    (prompt,) = model.prompts
    (document,) = binaries(prompt)
    assert document.media_type == "application/pdf"
    assert document.data == render_pdf("rebrowse report: q3")
    assert "q3.pdf" in text_of(prompt)
    assert result.output_data == [{"unique_identifier": "q3.pdf", "json_data": {"title": "rebrowse report: q3"}}]


async def test_pdf_extraction_over_http_sends_a_file_part(replay: Replay, chat_server: ChatServer) -> None:
    config = answering(chat_server, {"pages": 1})
    nodes = [save_pdf("report"), pdf_extract("anything", {"pages": "int"}, "how many pages")]
    result = await replay(automation("pdf.html", nodes), llm=config)

    assert result.status == "success", result.error  # the only download is taken whatever its name
    (request,) = chat_server.requests
    assert "file" in content_types(request)
    assert "application/pdf" in json.dumps(request["messages"])
    assert set(tool_schema(request)["properties"]) == {"pages"}


async def test_pdf_extraction_names_the_missing_file_and_the_downloads(replay: Replay) -> None:
    model = Scripted({"title": "x"})
    nodes = [save_pdf("q3"), save_pdf("q4"), pdf_extract("annual", {"title": "str"}, "the title")]
    result = await replay(automation("pdf.html", nodes), llm=model.config())

    assert result.status == "failed"
    assert result.error is not None and "'annual'" in result.error and "q3.pdf, q4.pdf" in result.error
    assert model.prompts == []


async def test_pdf_extraction_without_a_model_fails_the_run(replay: Replay) -> None:
    result = await replay(automation("pdf.html", [save_pdf("report"), pdf_extract("report", {"t": "str"}, "title")]))
    assert_needs_model(result)


# ---------------------------------------------------------------------------------------------------------
# The locator's LLM fallback


async def test_the_locator_falls_back_to_the_model_visibly(replay: Replay) -> None:
    model = Scripted({"stock": "12"})
    result = await replay(automation("llm_extraction.html", [stock_fallback()]), llm=model.config())

    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"stock": "12"}]
    assert result.steps[0].detail == "the locator found no text: the LLM fallback answered"
    assert [call["purpose"] for call in result.steps[0].llm_calls] == ["locator fallback"]
    assert "12 left" in text_of(model.prompts[0])


async def test_a_locator_that_finds_text_does_not_ask(replay: Replay) -> None:
    model = Scripted({"price": "never asked"})
    node = read_text('locator("#price")', "price")
    node["extraction_action"]["locator"]["extraction_instructions"] = "the price"
    result = await replay(automation("llm_extraction.html", [node]), llm=model.config())

    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"price": "$249.00"}]
    assert model.prompts == [] and result.steps[0].llm_calls == []


async def test_the_locator_fallback_over_http_never_sends_the_secret(replay: Replay, chat_server: ChatServer) -> None:
    config = answering(chat_server, {"stock": "none"})
    node = stock_fallback(command='locator("#absent")')  # no such element on masked.html
    result = await replay(secret_typed_first(node), secrets=resolver(), llm=config)

    assert result.status == "success", result.error
    (request,) = chat_server.requests
    assert set(tool_schema(request)["properties"]) == {"stock"}
    assert "Ready" in json.dumps(request["messages"])  # the snapshot of masked.html
    assert SECRET not in json.dumps(chat_server.requests)


async def test_the_locator_fallback_without_a_model_fails_the_run(replay: Replay) -> None:
    result = await replay(automation("llm_extraction.html", [stock_fallback()]))
    assert_needs_model(result)


async def test_without_instructions_an_empty_locator_is_unchanged(replay: Replay) -> None:
    node = read_text('locator("#stock")', "stock")
    result = await replay(automation("llm_extraction.html", [node]))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"stock": ""}]
