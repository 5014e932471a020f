"""Cached automations: a run that used the model leaves an automation that replays the same with no model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from rebrowse.automation.loading import load_automation
from rebrowse.automation.parameters import ParameterValue
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.cached import as_placeholder, cached_automation
from rebrowse.engine.run import RunResult
from rebrowse.llm.config import MODEL_SETTING, LlmConfig
from tests.engine.conftest import Replay, action, automation
from tests.engine.test_agentic import Move, Player, agentic, done
from tests.engine.test_interaction import READ_STATUS, click, interact, status_after
from tests.engine.test_llm_elements import by_model, prompt_of
from tests.llm_server import snapshot_ref

NAME_GOAL = "Type the account holder's name"
PLAN_GOAL = "Choose the Pro plan"
TASK = "Go to the next step, set the password to hunter22 and finish"
PARAMETERS = {"input_parameters": {"name": ["Ada"]}}
HEALED = {"failed_command": "locator('#gone')", "error": "timeout"}


class Scripted:
    """The model of the account flow: picks the Name field (and its text) and the plan, then plays the agent."""

    def __init__(self) -> None:
        moves = [
            Move("click", ("button", "Next")),
            Move("type_text", ("textbox", "Password"), {"text": "hunter22"}),
            Move("click", ("button", "Finish")),
            done(),
        ]
        self.agent = Player(moves)

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if info.function_tools:
            return self.agent(messages, info)
        prompt = prompt_of(messages)
        if NAME_GOAL in prompt:
            args: dict[str, Any] = {"ref": snapshot_ref(prompt, "textbox", "Name"), "text": "Ada"}
        else:
            args = {"ref": snapshot_ref(prompt, "combobox", "Plan"), "values": ["Pro"]}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {**args, "reason": "the goal"})])


def account_flow() -> dict[str, Any]:
    nodes = [
        by_model("input_text", NAME_GOAL),
        by_model("select_option", PLAN_GOAL),
        agentic(TASK, max_steps=5),
        READ_STATUS,
    ]
    return automation("agentic_form.html", nodes, parameters=PARAMETERS)


def cached_of(result: RunResult) -> dict[str, Any]:
    assert result.cached_automation is not None
    data: dict[str, Any] = json.loads(Path(result.cached_automation).read_text())
    return data


def interaction_of(node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(name, payload)] = [(k, v) for k, v in node["interaction_action"].items() if isinstance(v, dict)]
    return name, payload


async def test_a_run_with_the_model_leaves_an_automation_that_replays_the_same_without_one(
    replay: Replay, tmp_path: Path
) -> None:
    learning = await replay(account_flow(), llm=LlmConfig(model=FunctionModel(Scripted())))
    assert status_after(learning) == "Account for Ada on pro, password of 8 characters"
    cached = cached_of(learning)

    replayed = await replay(cached, llm=LlmConfig(), out_dir=tmp_path / "cached")

    assert status_after(replayed) == status_after(learning)
    assert replayed.llm_usage["calls"] == 0 and learning.llm_usage["calls"] > 0
    assert replayed.cached_automation is None, "a replay that asked no model learned nothing"
    actions = [interaction_of(node) for node in cached["nodes"][:5]]
    assert actions[0] == (
        "input_text",
        {
            "prompt_instructions": NAME_GOAL,
            "command": 'get_by_role("textbox", name="Name", exact=True)',
            "skip_command": False,
            "input_text": "{name[0]}",
        },
    )
    assert actions[1][1]["command"] == 'get_by_role("combobox", name="Plan", exact=True)'
    assert actions[1][1]["select_values"] == ["Pro"]
    assert [name for name, _ in actions[2:]] == ["click_element", "input_text", "click_element"]
    assert actions[3][1] == {"command": 'get_by_role("textbox", name="Password", exact=True)', "input_text": "hunter22"}
    assert all(node["interaction_action"]["max_tries"] == 1 for node in cached["nodes"][2:5]), "the task's settings"
    assert cached["nodes"][5] == learning_node(account_flow(), 3)
    assert load_automation(cached) is not None


def learning_node(data: dict[str, Any], index: int) -> dict[str, Any]:
    """The node as the engine dumps it (the run's definition is the loaded automation's)."""
    dumped = load_automation(data).model_dump(mode="json", exclude_unset=True)
    node: dict[str, Any] = dumped["nodes"][index]
    return node


async def test_the_typed_parameter_stays_a_placeholder_so_the_cached_automation_takes_new_inputs(
    replay: Replay, tmp_path: Path
) -> None:
    learning = await replay(account_flow(), llm=LlmConfig(model=FunctionModel(Scripted())))

    replayed = await replay(
        cached_of(learning), inputs={"name": ["Grace"]}, llm=LlmConfig(), out_dir=tmp_path / "cached"
    )

    assert status_after(replayed) == "Account for Grace on pro, password of 8 characters"


async def test_with_no_model_the_learning_run_fails_naming_the_setting_and_leaves_no_cached_automation(
    replay: Replay,
) -> None:
    result = await replay(account_flow(), llm=LlmConfig())

    assert result.status == "failed"
    assert result.error is not None and MODEL_SETTING in result.error
    assert result.cached_automation is None
    assert not (Path(result.out_dir) / "cached_automation.json").exists()


async def test_a_run_that_asked_no_model_writes_no_cached_automation(replay: Replay) -> None:
    result = await replay(automation("agentic_form.html", [click('locator("#next")'), READ_STATUS]))

    assert status_after(result) == "Name is required"
    assert result.cached_automation is None


# ---------------------------------------------------------------------------------------------------------
# Writing what was learned into the automation JSON


def step(path: str, action_name: str = "click_element", **fields: Any) -> StepRecord:
    return StepRecord(index=1, attempt=1, path=path, action=action_name, outcome="success", **fields)


def clicks(*goals: str) -> list[dict[str, Any]]:
    return [interact("click_element", {"prompt_instructions": goal}) for goal in goals]


def definition() -> dict[str, Any]:
    branch = {"type": "if_else_node", "condition": "True", "if_nodes": clicks("inner"), "else_nodes": []}
    loop = {"type": "for_loop_node", "variable_name": "items", "nodes": clicks("in the loop")}
    task = {"agentic_task": {"task": "do it"}, "max_tries": 2}
    nodes = [*clicks("first"), branch, loop, action("interaction_action", task, end_sleep_time=1, before_sleep_time=2)]
    return {"url": "http://site.test/", "parameters": {}, "nodes": nodes, "post_processing_nodes": clicks("post")}


def command(node: dict[str, Any]) -> str | None:
    value: str | None = node["interaction_action"]["click_element"].get("command")
    return value


def test_each_learned_command_goes_to_its_node_path() -> None:
    steps = [
        step("nodes[0]", learned={"command": "get_by_text('first')"}),
        step("nodes[1].if_nodes[0]", learned={"command": "get_by_text('inner')"}),
        step(
            "post_processing_nodes[0]", healed={"failed_command": "x", "error": "gone", "command": "get_by_text('p')"}
        ),
    ]

    cached = cached_automation(definition(), steps)

    assert cached is not None
    assert command(cached["nodes"][0]) == "get_by_text('first')"
    assert cached["nodes"][0]["interaction_action"]["click_element"]["skip_command"] is False
    assert command(cached["nodes"][1]["if_nodes"][0]) == "get_by_text('inner')"
    assert command(cached["post_processing_nodes"][0]) == "get_by_text('p')"
    assert command(cached["nodes"][2]["nodes"][0]) is None


def test_a_loop_body_keeps_a_command_its_iterations_agree_on_and_notes_one_they_do_not() -> None:
    same = [step("nodes[2].nodes[0]", learned={"command": "get_by_text('a')"}, iteration=i) for i in range(2)]
    differ = [step("nodes[2].nodes[0]", learned={"command": f"get_by_text('{i}')"}, iteration=i) for i in range(2)]
    notes: list[str] = []

    agreed = cached_automation(definition(), same)
    disagreed = cached_automation(definition(), differ, notes)

    assert agreed is not None and command(agreed["nodes"][2]["nodes"][0]) == "get_by_text('a')"
    assert disagreed is None
    assert notes == [
        "nodes[2].nodes[0]: its iterations learned different things; the cached automation leaves it as it was"
    ]


def test_an_agentic_step_is_spliced_out_into_its_nodes_with_the_steps_settings() -> None:
    learned = {"nodes": [click("get_by_text('one')"), click("get_by_text('two')")]}
    steps = [step("nodes[3]", "agentic_task", learned=learned), step("nodes[0]", learned={"command": "x"})]

    cached = cached_automation(definition(), steps)

    assert cached is not None
    assert [command(node) for node in cached["nodes"][3:]] == ["get_by_text('one')", "get_by_text('two')"]
    first, second = cached["nodes"][3:]
    assert first["before_sleep_time"] == 2 and "before_sleep_time" not in second
    assert first["end_sleep_time"] == second["end_sleep_time"] == 1
    assert first["interaction_action"]["max_tries"] == 2
    assert command(cached["nodes"][0]) == "x"


def test_only_the_last_attempts_succeeded_steps_count() -> None:
    earlier = step("nodes[0]", learned={"command": "old"})
    failed = StepRecord(index=2, attempt=2, path="nodes[0]", action="click_element", outcome="failed")
    failed.learned = {"command": "failing"}

    assert cached_automation(definition(), [earlier, failed]) is None
    assert cached_automation(definition(), []) is None


def test_a_typed_input_value_becomes_its_placeholder() -> None:
    inputs: dict[str, list[ParameterValue]] = {"name": ["Ada", "Grace"], "count": [3]}

    assert as_placeholder("Grace", inputs) == "{name[1]}"
    assert as_placeholder("3", inputs) == "{count[0]}"
    assert as_placeholder("Someone", inputs) == "Someone"
    assert as_placeholder("", {"empty": [""]}) == ""
