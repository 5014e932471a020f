"""agentic_task and close_overlay_popup on real fixture pages: a scripted model plays the agent, reading the refs of
the snapshots it is given and acting through the engine's tools; everything it does is recorded as action nodes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser
from pydantic_ai.messages import (
    BinaryContent,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from rebrowse.automation.loading import load_automation
from rebrowse.browser.egress import EgressProxy
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.llm.config import LlmConfig
from rebrowse.secrets.resolver import SecretResolver
from tests.egress_sites import Site
from tests.engine.conftest import Replay, action, automation
from tests.engine.test_egress import allowed, egress, internal  # noqa: F401
from tests.engine.test_interaction import READ_STATUS, click, status_after
from tests.engine.test_security import FakeOnePassword
from tests.llm_server import (
    Call,
    ChatServer,
    chat_server,  # noqa: F401
    output_tool,
)

PASSWORD = "s3cret-Pa55"
REFERENCE = "op://Work/Shop/password"
SECURE = {"password": [{"onepassword": {"vault_name": "Work", "item_name": "Shop", "field_name": "password"}}]}
ACCOUNT_TASK = "Open a Pro account for {name[0]} with the password {password[0]}"
SNAPSHOT_LINE = r'- {role} "{name}"[^\n]*\[ref=(\w+)\]'


def agentic(task: str, max_steps: int = 10, **fields: Any) -> dict[str, Any]:
    wrapper = {"agentic_task": {"task": task, "max_steps": max_steps, **fields}, "max_tries": 1}
    return action("interaction_action", wrapper)


def overlay(**fields: Any) -> dict[str, Any]:
    return action("interaction_action", {"close_overlay_popup": fields, "max_tries": 1})


def ref_in(page: str, role: str, name: str) -> str:
    """The ref of the element with this role and name in a snapshot the model was given."""
    match = re.search(SNAPSHOT_LINE.format(role=role, name=re.escape(name)), page)
    assert match is not None, f'no {role} "{name}" in the snapshot:\n{page}'
    return match.group(1)


@dataclass
class Move:
    """One move of the scripted agent: a tool called on the element `role "name"` of the latest snapshot (or
    with `args` only), or the final answer when `tool` is None."""

    tool: str | None
    target: tuple[str, str] | None = None
    args: dict[str, Any] = field(default_factory=dict)


def done(success: bool = True, summary: str = "done") -> Move:
    return Move(None, args={"success": success, "summary": summary})


@dataclass
class Player:
    """Plays the moves in order as the model; keeps what it was sent and the tools it was offered."""

    moves: list[Move]
    seen: list[ModelMessage] = field(default_factory=list)
    tools: set[str] = field(default_factory=set)

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen = list(messages)
        self.tools = {tool.name for tool in info.function_tools}
        move = self.moves.pop(0)
        if move.tool is None:
            return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, move.args)])
        args = dict(move.args)
        if move.target is not None:
            args["ref"] = ref_in(latest_page(messages), *move.target)
        return ModelResponse(parts=[ToolCallPart(move.tool, args)])

    @property
    def model(self) -> LlmConfig:
        return LlmConfig(model=FunctionModel(self))

    def sent(self) -> str:
        """Everything the model was sent, as JSON text."""
        return ModelMessagesTypeAdapter.dump_json(self.seen).decode()

    def tool_results(self) -> list[str]:
        return [str(part.content) for part in parts_of(self.seen) if isinstance(part, ToolReturnPart)]


def parts_of(messages: list[ModelMessage]) -> Iterator[Any]:
    for message in messages:
        if isinstance(message, ModelRequest):
            yield from message.parts


def texts_of(part: Any) -> list[str]:
    if isinstance(part, ToolReturnPart):
        return [str(part.content)]
    if isinstance(part, UserPromptPart):
        return [part.content] if isinstance(part.content, str) else [c for c in part.content if isinstance(c, str)]
    return []


def latest_page(messages: list[ModelMessage]) -> str:
    """The latest snapshot the model was given (the first prompt's, or an action's or read_page's result)."""
    pages = [text for part in parts_of(messages) for text in texts_of(part) if "URL: " in text]
    assert pages, "the model was given no snapshot"
    return pages[-1]


def artifact(result: RunResult, prefix: str) -> Any:
    [path] = Path(result.out_dir).glob(f"{prefix}_*.json")
    return json.loads(path.read_text())


def files_text(result: RunResult) -> str:
    return "\n".join(p.read_text(errors="replace") for p in Path(result.out_dir).rglob("*.json*"))


def account_moves() -> list[Move]:
    return [
        Move("type_text", ("textbox", "Name"), {"text": "Ada"}),
        Move("select", ("combobox", "Plan"), {"values": ["Pro"]}),
        Move("click", ("button", "Next")),
        Move("type_secret", ("textbox", "Password"), {"name": "password[0]"}),
        Move("click", ("button", "Finish")),
        done(summary="The Pro account is open"),
    ]


async def replay_account(replay: Replay, player: Player, **options: Any) -> RunResult:
    parameters = {"input_parameters": {"name": ["Ada"]}, "secure_parameters": SECURE}
    data = automation("agentic_form.html", [agentic(ACCOUNT_TASK), READ_STATUS], parameters=parameters)
    secrets = SecretResolver(onepassword=FakeOnePassword({REFERENCE: PASSWORD}))
    return await replay(data, secrets=secrets, llm=player.model, **options)


async def test_the_agent_fills_a_two_step_form_and_leaves_nodes_that_replay_without_a_model(
    replay: Replay, tmp_path: Path
) -> None:
    player = Player(account_moves())

    result = await replay_account(replay, player, screenshots="every_step")

    assert status_after(result) == f"Account for Ada on pro, password of {len(PASSWORD)} characters"
    assert "Open a Pro account for Ada with the password <secret password[0]>" in player.sent()
    assert PASSWORD not in player.sent()
    assert {"click", "type_text", "type_secret", "select", "navigate", "read_page"} <= player.tools
    steps = artifact(result, "agent_steps")
    assert steps["success"] is True and steps["summary"] == "The Pro account is open"
    assert [a["outcome"] for a in steps["actions"]] == ["done"] * 5
    assert steps["nodes"][3] == action(
        "interaction_action",
        {
            "input_text": {
                "command": 'get_by_role("textbox", name="Password", exact=True)',
                "input_text": "{password[0]}",
            }
        },
    )
    conversation = artifact(result, "agent_conversation")
    assert any(part.get("tool_name") == "type_secret" for m in conversation for part in m["parts"])
    record = result.steps[0]
    assert record.outcome == "success" and record.detail is not None
    assert '4. type secret password[0] into textbox "Password": done' in record.detail
    assert record.llm_calls[0]["purpose"] == "agentic task" and record.llm_calls[0]["requests"] == 6
    assert PASSWORD not in files_text(result) and PASSWORD not in json.dumps(result.to_json(), default=str)

    # The nodes the agent left behind are an ordinary automation: it replays with no model at all.
    parameters = {"input_parameters": {"name": ["Ada"]}, "secure_parameters": SECURE}
    cached = automation("agentic_form.html", [*steps["nodes"], READ_STATUS], parameters=parameters)
    secrets = SecretResolver(onepassword=FakeOnePassword({REFERENCE: PASSWORD}))
    again = await replay(cached, inputs={"name": ["Ada"]}, secrets=secrets, out_dir=tmp_path / "again")
    assert status_after(again) == status_after(result)
    assert again.llm_usage["calls"] == 0


async def test_more_actions_than_max_steps_fail_the_step(replay: Replay) -> None:
    # "Next" with no name keeps the form on step 1: the agent keeps trying.
    player = Player([Move("click", ("button", "Next")) for _ in range(4)])
    data = automation("agentic_form.html", [agentic("Go to step 2", max_steps=2)])

    result = await replay(data, llm=player.model)

    assert result.status == "failed"
    assert result.error is not None and "the agent did not finish within max_steps=2" in result.error
    steps = artifact(result, "agent_steps")
    assert [a["outcome"] for a in steps["actions"]] == ["done", "done", "not done: max_steps=2 reached"]
    assert len(steps["nodes"]) == 2
    assert artifact(result, "agent_conversation")  # the conversation is kept when the step fails too


async def test_an_agent_that_reports_failure_fails_the_step_with_its_summary(replay: Replay) -> None:
    player = Player([done(False, "There is no Gold plan to choose")])
    data = automation("agentic_form.html", [agentic("Open a Gold account")])

    result = await replay(data, llm=player.model)

    assert result.status == "failed"
    assert result.error is not None
    assert "the agent could not do the task: There is no Gold plan to choose" in result.error


async def test_an_unknown_ref_is_told_to_the_model_which_recovers(replay: Replay) -> None:
    moves = [Move("click", args={"ref": "e999"}), Move("type_text", ("textbox", "Name"), {"text": "Bo"})]
    player = Player([*moves, Move("click", ("button", "Next")), done()])
    data = automation("agentic_form.html", [agentic("Go to step 2 as Bo"), READ_STATUS])

    result = await replay(data, llm=player.model)

    assert status_after(result) == "Step 2"
    assert player.tool_results()[0] == "Error: there is no element [ref=e999] in the latest snapshot"
    outcomes = [a["outcome"] for a in artifact(result, "agent_steps")["actions"]]
    assert outcomes == ["error: there is no element [ref=e999] in the latest snapshot", "done", "done"]


async def test_close_overlay_popup_clears_the_way_for_the_next_click(replay: Replay) -> None:
    player = Player([Move("click", ("button", "Accept all cookies")), done(summary="No overlay left")])
    order = click('get_by_role("button", name="Order")')
    data = automation("agentic_overlay.html", [overlay(), order, READ_STATUS])

    result = await replay(data, llm=player.model)

    assert status_after(result) == "Ordered"
    assert player.tools == {"read_page", "click", "press_escape"}
    first_prompt = next(p for p in parts_of(player.seen) if isinstance(p, UserPromptPart))
    assert any(isinstance(c, BinaryContent) and c.media_type == "image/png" for c in first_prompt.content)
    assert "cookie banners" in str(first_prompt.content[0])
    node = artifact(result, "agent_steps")["nodes"][0]
    assert node["interaction_action"]["click_element"]["command"] == (
        'get_by_role("button", name="Accept all cookies", exact=True)'
    )


@pytest.mark.parametrize("node", [agentic("Open an account"), overlay()], ids=["agentic_task", "overlay"])
async def test_without_a_model_the_step_fails_naming_the_setting(replay: Replay, node: dict[str, Any]) -> None:
    result = await replay(automation("agentic_overlay.html", [node]))

    assert result.status == "failed"
    assert result.error is not None and "REBROWSE_LLM_MODEL" in result.error
    assert result.steps[0].outcome == "failed"


async def test_a_navigation_the_egress_policy_denies_is_reported_to_the_model(
    browser: Browser,
    tmp_path: Path,
    allowed: Site,  # noqa: F811
    internal: Site,  # noqa: F811
    egress: EgressProxy,  # noqa: F811
) -> None:
    player = Player([Move("navigate", args={"url": f"{internal.url}/metrics"}), done(False, "metrics unreachable")])
    nodes = [agentic("Read the metrics")]
    loaded = load_automation({"url": f"{allowed.url}/page", "parameters": {}, "nodes": nodes})
    options = RunOptions(out_dir=tmp_path / "run", screenshots="never", retry_backoff_s=0.0, llm=player.model)

    result = await run_automation(browser, loaded, options=options, egress=egress)

    denial = f"the egress policy denies {internal.host_port} (loopback address)"
    assert player.tool_results()[0].startswith(f"Error: navigate to {internal.url}/metrics failed: {denial}")
    assert result.error is not None and "metrics unreachable" in result.error
    [attempt] = artifact(result, "agent_steps")["actions"]
    assert attempt["outcome"].startswith(f"error: {denial}")
    assert internal.requests == []


def content_text(message: dict[str, Any]) -> str:
    """The text of a chat message (a string, or a list of parts)."""
    content = message.get("content") or ""
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


async def test_the_agent_over_an_openai_compatible_server(replay: Replay, chat_server: ChatServer) -> None:  # noqa: F811
    def agent(request: dict[str, Any]) -> Call:
        page = content_text(request["messages"][-1])
        if '"Accept all cookies" [ref=' in page:
            return Call("click", {"ref": ref_in(page, "button", "Accept all cookies")})
        if "Nothing ordered" in page:
            return Call("click", {"ref": ref_in(page, "button", "Order")})
        return Call(output_tool(request), {"success": True, "summary": "ordered"})

    chat_server.script = agent
    llm = LlmConfig(model="test-model", base_url=chat_server.base_url)
    data = automation("agentic_overlay.html", [agentic("Accept the cookies, then order"), READ_STATUS])

    result = await replay(data, llm=llm)

    assert status_after(result) == "Ordered"
    assert len(chat_server.requests) == 3
    tools = {tool["function"]["name"] for tool in chat_server.requests[0]["tools"]}
    assert {"click", "type_text", "select", "scroll", "navigate", "go_back", "read_page"} <= tools
    assert "type_secret" not in tools  # the task names no secret
    replies = [m for m in chat_server.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(replies) == 2 and content_text(replies[-1]).startswith('Done: click button "Order"')
