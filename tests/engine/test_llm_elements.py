"""Element steps the model performs: it picks the element (and a missing value) from the page's snapshot."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from rebrowse.engine.run import RunResult
from rebrowse.llm.config import MODEL_SETTING, LlmConfig
from rebrowse.secrets.resolver import SecretResolver
from tests import llm_server
from tests.engine.conftest import Replay, automation
from tests.engine.test_interaction import READ_STATUS, interact, status_after
from tests.engine.test_security import FakeOnePassword, typed
from tests.llm_server import Call, ChatServer, output_tool, snapshot_ref

chat_server = llm_server.chat_server  # the fixture


def prompt_of(messages: list[ModelMessage]) -> str:
    """The text of the step's question (the first request's user prompt)."""
    first = messages[0]
    assert isinstance(first, ModelRequest)
    return next(str(part.content) for part in first.parts if isinstance(part, UserPromptPart))


class Picker:
    """A scripted model: for each question it answers the reference of the element `role "name"` (the first past
    the text `after`) it reads in the snapshot of the prompt (None when the page has none), plus any extra fields;
    the prompts are kept."""

    def __init__(self, role: str, name: str, after: str = "", **extra: Any) -> None:
        self.role, self.name, self.after, self.extra = role, name, after, extra
        self.prompts: list[str] = []

    def answer(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = prompt_of(messages)
        self.prompts.append(prompt)
        ref = snapshot_ref(prompt, self.role, self.name, self.after)
        args = {"ref": ref, "reason": f"the {self.role} {self.name}", **self.extra}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    @property
    def llm(self) -> LlmConfig:
        return LlmConfig(model=FunctionModel(self.answer))


def by_model(kind: str, goal: str, *, fail_fast: bool = False, **fields: Any) -> dict[str, Any]:
    """An element step with no command: the model finds its element from `goal`."""
    return interact(kind, {"prompt_instructions": goal, **fields}, fail_fast=fail_fast)


def step_of(result: RunResult, action: str) -> Any:
    return next(step for step in result.steps if step.action.endswith(action))


# ---------------------------------------------------------------------------------------------------------
# The model picks the element


async def test_the_model_clicks_the_element_it_picks_and_the_step_records_its_command(replay: Replay) -> None:
    picker = Picker("button", "Search")
    nodes = [
        typed('get_by_label("Search")', "lovelace"),
        by_model("click_element", "Press the Search button"),
        READ_STATUS,
    ]

    result = await replay(automation("search.html", nodes), llm=picker.llm)

    assert re.fullmatch(r"\d+ results?", status_after(result))
    step = step_of(result, "click_element")
    assert step.locator == 'get_by_role("button", name="Search", exact=True)'
    assert step.detail == 'chosen by the model: button "Search"'
    assert len(step.llm_calls) == 1 and step.llm_calls[0]["purpose"] == "locate element"
    assert "Goal: Press the Search button" in picker.prompts[0]
    assert "find the element to click" in picker.prompts[0]


async def test_an_element_of_a_repeated_kind_is_recorded_by_what_tells_it_apart_and_the_record_replays(
    replay: Replay,
) -> None:
    picker = Picker("link", "Open", after='cell "Invoice 7"')

    result = await replay(
        automation("table.html", [by_model("click_element", "Open invoice 7"), READ_STATUS]), llm=picker.llm
    )

    assert status_after(result) == "Showing invoice 7"
    recorded = step_of(result, "click_element").locator
    assert recorded == 'locator("a[href=\\"detail.html?id=7\\"]")'  # its own link, not the 7th "Open"
    again = await replay(automation("table.html", [interact("click_element", {"command": recorded}), READ_STATUS]))
    assert status_after(again) == "Showing invoice 7"


async def test_the_model_types_into_checks_and_unchecks_the_elements_it_picks(replay: Replay) -> None:
    subscribe, agree = Picker("checkbox", "Subscribe to updates"), Picker("checkbox", "I agree to the terms")

    checked = await replay(automation("check.html", [by_model("check", "Subscribe"), READ_STATUS]), llm=subscribe.llm)
    unchecked = await replay(automation("check.html", [by_model("uncheck", "Disagree"), READ_STATUS]), llm=agree.llm)

    assert status_after(checked) == "agree=on subscribe=on"
    assert status_after(unchecked) == "agree=off subscribe=off"


async def test_the_model_finds_the_field_and_the_text_of_an_input_that_gives_none(replay: Replay) -> None:
    picker = Picker("searchbox", "Search", text="lovelace")
    nodes = [
        by_model("input_text", "Search for the inventor's collaborator", press_enter=True),
        READ_STATUS,
    ]

    result = await replay(automation("search.html", nodes), llm=picker.llm)

    assert re.fullmatch(r"\d+ results?", status_after(result))
    assert step_of(result, "input_text").llm_calls[0]["purpose"] == "locate element and text to type"


async def test_an_input_located_by_command_asks_the_model_only_for_the_text(replay: Replay) -> None:
    picker = Picker("searchbox", "Search", text="lovelace")
    node = interact(
        "input_text", {"command": 'get_by_label("Search")', "prompt_instructions": "a name", "press_enter": True}
    )

    result = await replay(automation("search.html", [node, READ_STATUS]), llm=picker.llm)

    assert re.fullmatch(r"\d+ results?", status_after(result))
    assert step_of(result, "input_text").locator == 'get_by_label("Search")'
    assert "type into the element located by get_by_label" in picker.prompts[0]


async def test_the_model_selects_in_the_select_it_picks(replay: Replay) -> None:
    given = Picker("combobox", "Region")
    guessed = Picker("combobox", "Region", values=["West Europe"])

    chosen = await replay(
        automation("form.html", [by_model("select_option", "the region", select_values=["us-west"]), READ_STATUS]),
        llm=given.llm,
    )
    answered = await replay(
        automation("form.html", [by_model("select_option", "Europe"), READ_STATUS]), llm=guessed.llm
    )

    assert status_after(chosen).startswith("region=us-west ")
    assert status_after(answered).startswith("region=eu-west ")
    assert step_of(answered, "select_option").detail == "chosen by the model: combobox \"Region\"; selected ['eu-west']"


async def test_an_option_the_select_lacks_fails_the_step_listing_its_options(replay: Replay) -> None:
    picker = Picker("combobox", "Region", values=["Mars"])

    result = await replay(
        automation("form.html", [by_model("select_option", "somewhere", fail_fast=True)]), llm=picker.llm
    )

    assert result.status == "failed"
    assert result.error is not None
    assert "'Mars'" in result.error and "'West Europe'" in result.error


async def test_skip_command_leaves_a_wrong_command_to_the_model(replay: Replay) -> None:
    picker = Picker("button", "Search")
    wrong = 'locator("#no-such-button")'
    nodes = [
        typed('get_by_label("Search")', "lovelace"),
        interact("click_element", {"command": wrong, "skip_command": True, "prompt_instructions": "Search"}),
        READ_STATUS,
    ]

    result = await replay(automation("search.html", nodes), llm=picker.llm)

    assert re.fullmatch(r"\d+ results?", status_after(result))
    assert step_of(result, "click_element").locator == 'get_by_role("button", name="Search", exact=True)'


async def test_a_command_is_used_without_asking_the_model(replay: Replay) -> None:
    picker = Picker("button", "Search")
    nodes = [
        typed('get_by_label("Search")', "lovelace"),
        interact("click_element", {"command": 'locator("#search-button")'}),
    ]

    result = await replay(automation("search.html", nodes), llm=picker.llm)

    assert result.status == "success", result.error
    assert picker.prompts == [] and result.llm_usage["calls"] == 0


async def test_the_model_uploads_through_the_file_input_it_picks(replay: Replay, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("twenty bytes of text")
    picker = Picker("button", "Document")
    node = by_model("upload_file", "the document field", file_path="notes.txt")

    result = await replay(automation("upload.html", [node, READ_STATUS]), llm=picker.llm, upload_dirs=(tmp_path,))

    assert status_after(result) == "file: notes.txt (20 bytes)"
    assert step_of(result, "upload_file").detail == 'chosen by the model: button "Document"; uploaded notes.txt'


async def test_a_key_press_with_an_xpath_presses_in_the_element_the_model_picks(replay: Replay) -> None:
    picker = Picker("textbox", "Type here")
    node = by_model("key_press", "the key field", type="Escape", xpath="//input")

    result = await replay(automation("keys.html", [node, READ_STATUS]), llm=picker.llm)

    assert status_after(result) == "Escape"
    assert step_of(result, "key_press").detail == 'chosen by the model: textbox "Type here"; pressed Escape'


# ---------------------------------------------------------------------------------------------------------
# Answers that do not fit, and no model


async def test_a_reference_not_on_the_page_fails_the_step(replay: Replay) -> None:
    def unknown(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        args = {"ref": "e999", "reason": "it looked right"}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    result = await replay(
        automation("search.html", [by_model("click_element", "Search")]), llm=LlmConfig(model=FunctionModel(unknown))
    )

    assert result.status == "failed"
    assert result.error is not None
    assert "'e999', which is not on the page" in result.error and "it looked right" in result.error


async def test_the_model_saying_the_element_is_missing_fails_the_step_with_its_reason(replay: Replay) -> None:
    picker = Picker("button", "Checkout")  # search.html has no such button: the picker answers null

    result = await replay(automation("search.html", [by_model("click_element", "Check out")]), llm=picker.llm)

    assert result.status == "failed"
    assert result.error is not None
    assert "the model found no element" in result.error and "the button Checkout" in result.error


async def test_without_a_model_an_element_step_with_no_command_fails_naming_the_setting(replay: Replay) -> None:
    nodes = [by_model("click_element", "Search"), READ_STATUS]

    result = await replay(automation("search.html", nodes))

    assert result.status == "failed"
    assert result.error is not None and MODEL_SETTING in result.error
    assert [step.outcome for step in result.steps] == ["failed"]


async def test_without_a_model_an_input_with_no_text_fails_naming_the_setting(replay: Replay) -> None:
    node = interact("input_text", {"command": 'get_by_label("Search")', "prompt_instructions": "a name"})

    result = await replay(automation("search.html", [node]))

    assert result.status == "failed"
    assert result.error is not None and MODEL_SETTING in result.error


# ---------------------------------------------------------------------------------------------------------
# Over HTTP, as a provider sees it


async def test_the_provider_gets_the_snapshot_and_the_answer_schema(replay: Replay, chat_server: ChatServer) -> None:
    def answer(request: dict[str, Any]) -> Call:
        prompt = "\n".join(str(m.get("content")) for m in request["messages"])
        return Call(output_tool(request), {"ref": snapshot_ref(prompt, "button", "Search"), "reason": "the button"})

    chat_server.script = answer
    llm = LlmConfig(model="test-model", base_url=chat_server.base_url, retries=0)
    nodes = [typed('get_by_label("Search")', "lovelace"), by_model("click_element", "Search"), READ_STATUS]

    result = await replay(automation("search.html", nodes), llm=llm)

    assert re.fullmatch(r"\d+ results?", status_after(result))
    [request] = chat_server.requests
    body = json.dumps(request)
    assert 'button \\"Search\\" [ref=' in body and "<html" not in body.lower()
    [tool] = [t for t in request["tools"] if t["function"]["name"] == output_tool(request)]
    assert set(tool["function"]["parameters"]["properties"]) == {"ref", "reason"}
    [call] = step_of(result, "click_element").llm_calls
    assert call["input_tokens"] > 0 and call["output_tokens"] > 0 and call["latency_ms"] > 0


async def test_a_secret_typed_into_a_field_never_reaches_the_provider(replay: Replay, chat_server: ChatServer) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG"
    resolver = SecretResolver(onepassword=FakeOnePassword({"op://Vault/aws/secret_access_key": secret}))
    secure = {"key": [{"onepassword": {"vault_name": "Vault", "item_name": "aws", "field_name": "secret_access_key"}}]}

    def answer(request: dict[str, Any]) -> Call:
        prompt = "\n".join(str(m.get("content")) for m in request["messages"])
        return Call(
            output_tool(request), {"ref": snapshot_ref(prompt, "textbox", "Plain"), "text": "hello", "reason": "x"}
        )

    chat_server.script = answer
    nodes = [
        typed('locator("#secret-field")', "{key[0]}"),
        by_model("input_text", "Say hello in the plain field, not {key[0]}"),
    ]
    data = automation("masked.html", nodes, parameters={"secure_parameters": secure})

    result = await replay(data, secrets=resolver, llm=LlmConfig(model="m", base_url=chat_server.base_url))

    assert result.status == "success", result.error
    [request] = chat_server.requests
    body = json.dumps(request)
    assert 'textbox \\"Secret\\"' in body and "***" in body
    assert secret not in body
