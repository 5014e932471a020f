"""Self-healing: an element step whose command fails falls back to the model, says so, and never hides a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from rebrowse.engine.run import RunResult
from rebrowse.llm.config import MODEL_SETTING, LlmConfig
from rebrowse.secrets.resolver import SecretResolver
from rebrowse.settings import EngineSettings
from tests import llm_server
from tests.engine.conftest import Replay, automation
from tests.engine.test_interaction import READ_STATUS, interact, status_after
from tests.engine.test_llm_elements import Picker, step_of
from tests.engine.test_security import FakeOnePassword
from tests.llm_server import Call, ChatServer, output_tool, snapshot_ref

chat_server = llm_server.chat_server  # the fixture

# healing.html is a redesigned page: these commands, recorded on the old one, find nothing there.
OLD_BUTTON = 'locator("#place-order")'
NEW_BUTTON = 'get_by_role("button", name="Place order", exact=True)'
TIMEOUT = "Locator.click: Timeout 500ms exceeded."


def step(kind: str, command: str, goal: str = "", **fields: Any) -> dict[str, Any]:
    """An element step with a command (failing fast) and, when given, a goal the model can heal it by."""
    return interact(kind, {"command": command, "prompt_instructions": goal, **fields}, fail_fast=True)


def order(*nodes: dict[str, Any]) -> dict[str, Any]:
    return automation("healing.html", [*nodes, READ_STATUS])


def place_order(**fields: Any) -> dict[str, Any]:
    """The old recording's click on the order button, with a goal."""
    return order(step("click_element", OLD_BUTTON, "Place the order", **fields))


def never_called(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    raise AssertionError("the model was asked although the step must not heal")


def old_button_failure(result: RunResult) -> str:
    """Why the old command's click fails on healing.html (at the URL its step started on)."""
    url = step_of(result, "click_element").url
    closest = 'get_by_role("button", name="Place order")'
    return f"no element matches {OLD_BUTTON} on {url}; closest by role and name: {closest} ({TIMEOUT})"


def steps_file(result: RunResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (Path(result.out_dir) / "steps.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------------------------------------
# Healed


async def test_a_failed_command_with_a_goal_heals_through_the_model_and_says_so(replay: Replay) -> None:
    picker = Picker("button", "Place order")

    result = await replay(place_order(), llm=picker.llm)

    assert status_after(result) == "ordered s for"
    record = step_of(result, "click_element")
    healed = {"failed_command": OLD_BUTTON, "error": old_button_failure(result), "command": NEW_BUTTON}
    assert record.healed == healed
    assert record.learned == {"command": NEW_BUTTON}
    assert record.locator == NEW_BUTTON
    failure = old_button_failure(result)
    assert (
        record.detail
        == f'healed: the command {OLD_BUTTON} failed ({failure}); chosen by the model: button "Place order"'
    )
    assert result.healed == [{"path": "nodes[0]", **healed}]
    assert steps_file(result)[0]["healed"] == healed
    assert "Goal: Place the order" in picker.prompts[0]


async def test_an_input_and_a_select_heal_and_act_on_the_models_elements(replay: Replay) -> None:
    customer = Picker("textbox", "Customer")
    size = Picker("combobox", "Size")

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        picker = customer if "type into" in str(messages) else size
        return picker.answer(messages, info)

    nodes = (
        step("input_text", 'locator("#name")', "the customer's name", input_text="Ada"),
        step("select_option", 'locator("#size-select")', "the size", select_values=["Large"]),
        step("click_element", NEW_BUTTON),
    )

    result = await replay(order(*nodes), llm=LlmConfig(model=FunctionModel(answer)))

    assert status_after(result) == "ordered l for Ada"
    assert [h["command"] for h in result.healed] == [
        'get_by_role("textbox", name="Customer", exact=True)',
        'get_by_role("combobox", name="Size", exact=True)',
    ]
    assert [h["path"] for h in result.healed] == ["nodes[0]", "nodes[1]"]
    assert step_of(result, "select_option").detail.endswith("selected ['l']")


async def test_a_secret_in_the_failed_command_is_masked_in_the_healing_record(replay: Replay) -> None:
    secret = "Hunter2Secret"
    resolver = SecretResolver(onepassword=FakeOnePassword({"op://Vault/shop/customer": secret}))
    secure = {"who": [{"onepassword": {"vault_name": "Vault", "item_name": "shop", "field_name": "customer"}}]}
    node = step("click_element", 'get_by_text("{who[0]}")', "Place the order")
    data = automation("healing.html", [node, READ_STATUS], parameters={"secure_parameters": secure})

    result = await replay(data, secrets=resolver, llm=Picker("button", "Place order").llm)

    assert result.status == "success", result.error
    assert result.healed[0]["failed_command"] == 'get_by_text("***")'
    assert secret not in json.dumps(result.healed) and secret not in json.dumps(steps_file(result))


async def test_a_healed_click_through_an_openai_compatible_provider(replay: Replay, chat_server: ChatServer) -> None:
    def answer(request: dict[str, Any]) -> Call:
        prompt = "\n".join(str(m.get("content")) for m in request["messages"])
        return Call(output_tool(request), {"ref": snapshot_ref(prompt, "button", "Place order"), "reason": "it"})

    chat_server.script = answer
    llm = LlmConfig(model="test-model", base_url=chat_server.base_url, retries=0)

    result = await replay(place_order(), llm=llm)

    assert status_after(result) == "ordered s for"
    assert result.healed == [
        {"path": "nodes[0]", "failed_command": OLD_BUTTON, "error": old_button_failure(result), "command": NEW_BUTTON}
    ]
    assert len(chat_server.requests) == 1 and result.llm_usage["calls"] == 1


# ---------------------------------------------------------------------------------------------------------
# Not healed: the step fails as before, and the model is never asked


async def test_a_working_command_never_asks_the_model(replay: Replay) -> None:
    result = await replay(
        order(step("click_element", NEW_BUTTON, "Place the order")), llm=LlmConfig(model=FunctionModel(never_called))
    )

    assert status_after(result) == "ordered s for"
    assert result.healed == [] and result.llm_usage["calls"] == 0
    assert step_of(result, "click_element").healed is None


async def assert_fails_unhealed(result: RunResult) -> None:
    assert result.status == "failed"
    assert result.error is not None and TIMEOUT in result.error
    assert result.healed == [] and result.llm_usage["calls"] == 0
    assert step_of(result, "click_element").llm_calls == []


async def test_assert_locator_presence_fails_without_asking_the_model(replay: Replay) -> None:
    llm = LlmConfig(model=FunctionModel(never_called))
    await assert_fails_unhealed(await replay(place_order(assert_locator_presence=True), llm=llm))


async def test_skip_prompt_fails_without_asking_the_model(replay: Replay) -> None:
    llm = LlmConfig(model=FunctionModel(never_called))
    await assert_fails_unhealed(await replay(place_order(skip_prompt=True), llm=llm))


async def test_a_step_without_a_goal_fails_without_asking_the_model(replay: Replay) -> None:
    llm = LlmConfig(model=FunctionModel(never_called))
    await assert_fails_unhealed(await replay(order(step("click_element", OLD_BUTTON)), llm=llm))


async def test_healing_off_fails_without_asking_the_model(replay: Replay) -> None:
    llm = LlmConfig(model=FunctionModel(never_called))
    await assert_fails_unhealed(await replay(place_order(), llm=llm, healing=False))


async def test_rebrowse_healing_turns_healing_off_for_a_run(replay: Replay) -> None:
    settings = EngineSettings.from_env({"REBROWSE_HEALING": "0"})
    llm = LlmConfig(model=FunctionModel(never_called))

    await assert_fails_unhealed(await replay(place_order(), llm=llm, healing=settings.healing))


def test_rebrowse_healing_is_on_unless_turned_off() -> None:
    assert EngineSettings.from_env({}).healing is True
    assert EngineSettings.from_env({"REBROWSE_HEALING": "yes"}).healing is True
    assert [EngineSettings.from_env({"REBROWSE_HEALING": w}).healing for w in ("0", "false", "No", "OFF")] == [
        False
    ] * 4


# ---------------------------------------------------------------------------------------------------------
# A fallback the model cannot do fails with both errors


async def test_without_a_model_the_step_fails_with_the_commands_error_and_the_setting(replay: Replay) -> None:
    result = await replay(place_order())

    assert result.status == "failed"
    assert result.error is not None
    assert result.error.index(f"the command {OLD_BUTTON} failed ({old_button_failure(result)})") < result.error.index(
        MODEL_SETTING
    )
    assert result.healed == [] and step_of(result, "click_element").outcome == "failed"


async def test_the_model_finding_nothing_fails_with_both_errors(replay: Replay) -> None:
    picker = Picker("button", "Checkout")  # the page has none: the picker answers null

    result = await replay(place_order(), llm=picker.llm)

    assert result.status == "failed"
    assert result.error is not None
    assert f"the command {OLD_BUTTON} failed ({old_button_failure(result)})" in result.error
    assert "the model found no element" in result.error and "the button Checkout" in result.error
    assert result.healed == [] and len(picker.prompts) == 1


async def test_an_unknown_reference_fails_with_both_errors(replay: Replay) -> None:
    def unknown(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"ref": "e999", "reason": "a guess"})])

    result = await replay(place_order(), llm=LlmConfig(model=FunctionModel(unknown)))

    assert result.status == "failed"
    assert result.error is not None
    assert TIMEOUT in result.error and "'e999', which is not on the page" in result.error
    assert result.healed == []


async def test_the_models_element_failing_too_fails_with_both_errors(replay: Replay) -> None:
    picker = Picker("heading", "Order")  # a heading is no file input: the upload's chooser never opens

    node = step("upload_file", 'locator("#attachment")', "the attachment", file_path="healing.html")
    result = await replay(order(node), llm=picker.llm, upload_dirs=(Path(__file__).parents[1] / "site",))

    assert result.status == "failed"
    assert result.error is not None
    assert 'the command locator("#attachment") failed' in result.error
    assert 'and so did the model\'s element get_by_role("heading", name="Order"' in result.error
    assert result.healed == []
