"""The automation models: Optexity's fields, defaults, timing rules, legacy nodes and key names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from pydantic import ValidationError

from rebrowse.automation.actions import (
    KEY_NAMES,
    AgenticTask,
    ApiCallExtraction,
    AssertionAction,
    CaptchaAction,
    ClickElementAction,
    CloseOverlayPopupAction,
    CountLocator,
    DevToolsKey,
    DevToolsPress,
    DownloadUrlAsPdfAction,
    DynamicFormMappingAction,
    ExtractionAction,
    FailStateAction,
    FormMappingCallbackUrl,
    InputTextAction,
    InteractionAction,
    KeyPressAction,
    MiscAction,
    NetworkCallExtraction,
    ScrollAction,
    SelectOptionAction,
    SetVariable,
    TwoFaAction,
    to_key_press,
)
from rebrowse.automation.schema import (
    ActionNode,
    AssertLocatorNode,
    Automation,
    ForLoopNode,
    IfElseNode,
    PrivateNode,
)

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))
CLICK = {"click_element": {"command": 'get_by_role("button", name="Go")'}}


def automation(*nodes: Any, **top: Any) -> Automation:
    return Automation.model_validate({"url": "https://example.test/", "parameters": {}, "nodes": list(nodes), **top})


def messages(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [str(error["msg"]) for error in exc.value.errors()]


# --- defaults -------------------------------------------------------------------------------------------


def test_interaction_defaults_are_optexitys() -> None:
    wrapper = InteractionAction.model_validate(CLICK)
    assert (wrapper.max_tries, wrapper.max_timeout_seconds_per_try, wrapper.verify_before_step) == (
        10,
        1.0,
        True,
    )
    click = wrapper.click_element
    assert click is not None
    assert (click.button, click.double_click, click.force, click.mouse_click) == ("left", False, False, False)
    assert (click.expect_download, click.download_filename, click.download_metadata) == (False, None, None)
    assert (click.prompt_instructions, click.skip_prompt, click.assert_locator_presence) == ("", False, False)
    assert (wrapper.kind, wrapper.chosen) == ("click_element", click)


def test_input_select_scroll_and_download_defaults() -> None:
    typed = InputTextAction.model_validate({"command": "locator('#q')", "input_text": "x"})
    assert (typed.fill_or_type, typed.press_enter, typed.is_slider, typed.click_before_input) == (
        "fill",
        False,
        False,
        True,
    )
    assert (ScrollAction().down, ScrollAction().amount) == (True, -1)
    assert DownloadUrlAsPdfAction().model_dump() == {"download_filename": None, "url": None}


def test_extraction_and_misc_defaults() -> None:
    extraction = ExtractionAction.model_validate({"state": {}})
    assert (extraction.allow_none, extraction.unique_identifier, extraction.kind) == (False, None, "state")
    api = ApiCallExtraction(url="https://api.example.test/")
    assert (api.method, api.headers, api.body, api.query_params) == ("GET", {}, None, {})
    assert (api.output_variable_names, api.timeout, api.poll_condition) == (["api_result"], 30.0, None)
    assert (api.poll_interval, api.max_poll_attempts) == (5.0, 10)
    network = NetworkCallExtraction()
    assert (network.url_pattern, network.extract_from, network.download_from) == (
        None,
        "response",
        "response",
    )
    assert FailStateAction().failure_message == "Automation completed at one of the failure states."
    count = CountLocator(locator="locator('tr')", name="rows")
    assert (count.locator_timeout, count.output_variable_name) == (5.0, None)
    captcha = CaptchaAction(locator="locator('#captcha')")
    assert (captcha.wait_time, captcha.llm_model_name, captcha.config.max_captcha_retries) == (
        2.0,
        "gemini/gemini-2.5-pro",
        3,
    )
    overlay = CloseOverlayPopupAction()
    assert (overlay.max_steps, overlay.use_vision, overlay.backend) == (5, True, "browser_use")


def test_upload_file_url_is_checked_when_it_runs_not_when_loaded() -> None:
    # A placeholder (or any other scheme) is only known to be a URL once filled in: the engine checks it then.
    upload = InteractionAction.model_validate({"upload_file": {"command": "locator('#f')", "file_url": "{doc[0]}"}})
    assert upload.upload_file is not None and upload.upload_file.file_url == "{doc[0]}"


def test_download_fields_upstream_added_have_its_defaults() -> None:
    click = ClickElementAction.model_validate({"command": "locator('#a')"})
    select = SelectOptionAction.model_validate({"command": "locator('#s')", "select_values": ["a"]})
    assert (click.download_timeout_seconds, select.download_timeout_seconds) == (None, None)
    assert ClickElementAction.model_validate({"command": "x", "download_timeout_seconds": 2.5}).download_timeout_seconds
    with pytest.raises(ValidationError):
        ClickElementAction.model_validate({"command": "x", "download_timeout_seconds": 0})
    fetch = InteractionAction.model_validate({"download_file": {"file_url": "https://x.test/a.pdf"}})
    assert fetch.kind == "download_file"
    assert fetch.download_file is not None and fetch.download_file.output_variable_name == "downloaded_file_path"


def test_agentic_task_and_form_mapping_defaults() -> None:
    task = AgenticTask.model_validate({"task": "book it", "max_steps": 5})
    assert (task.backend, task.use_vision, task.keep_alive) == ("browser_use", False, True)
    mapping = DynamicFormMappingAction.model_validate(
        {"extraction_instructions": "fields", "extraction_format": {}, "callback_url": {"url": "https://m.test/"}}
    )
    assert (mapping.source, mapping.include_screenshot, mapping.full_page_screenshot) == (["axtree"], True, False)
    assert (mapping.include_axtree, mapping.include_live_stream_url) == (False, False)
    assert (mapping.max_wait_time, mapping.output_variable_name) == (60.0, "form_values")
    node = ActionNode.model_validate({"dynamic_form_mapping_action": mapping.model_dump()})
    assert (node.implicit_before_wait(), node.end_wait_seconds()) == (3.0, 0.0)


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        ({"url": "https://m.test/", "api_key": "k", "username": "u", "password": "p"}, "not both"),
        ({"url": "https://m.test/", "username": "u"}, "username and password go together"),
    ],
)
def test_form_mapping_callback_credentials(callback: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        FormMappingCallbackUrl.model_validate(callback)
    assert expected in messages(exc)[0]


def test_an_empty_misc_action_is_accepted_and_named_empty() -> None:
    node = ActionNode.model_validate({"misc_action": {}})
    assert node.misc_action is not None and node.misc_action.is_empty
    assert node.action_name == "misc_action.empty"


def test_node_and_automation_defaults() -> None:
    loop = ForLoopNode.model_validate({"variable_name": "ids", "nodes": []})
    assert (loop.index_variable_name, loop.locator_timeout, loop.max_iterations) == ("index", 5.0, None)
    assert (loop.reset_nodes, loop.on_error_in_loop) == ([], "raise")
    assert IfElseNode.model_validate({"condition": "x", "if_nodes": []}).else_nodes == []
    check = AssertLocatorNode.model_validate({"locator": "locator('#x')", "assertion": "to_be_hidden"})
    assert (check.timeout, check.output_variable_name) == (5.0, None)
    plain = automation()
    assert (plain.browser_channel, plain.backend, plain.os_emulation, plain.allow_cookies) == (
        "chromium",
        "browser-use",
        None,
        False,
    )
    assert (plain.max_retries, plain.expected_downloads, plain.post_processing_nodes) == (0, 0, [])
    assert (plain.remove_empty_nodes_in_axtree, plain.reuse_page_if_already_on_url) == (True, False)
    assert plain.enable_browser_alerts is False
    assert (plain.take_final_screenshot, plain.automation_description, plain.automation_endpoint) == (
        True,
        None,
        None,
    )


def test_zero_tries_on_an_optional_step_means_five() -> None:
    optional = {"max_tries": 0, "click_element": {"command": "locator('#a')", "skip_prompt": True}}
    assert InteractionAction.model_validate(optional).max_tries == 5
    mandatory = {"max_tries": 0, "click_element": {"command": "locator('#a')"}}
    assert InteractionAction.model_validate(mandatory).max_tries == 0


# --- timing ---------------------------------------------------------------------------------------------

PAYLOADS: dict[str, dict[str, Any]] = {
    "interaction": {"interaction_action": CLICK},
    "extraction": {"extraction_action": {"state": {}}},
    "assertion": {"assertion_action": {"llm": {"extraction_instructions": "logged in?"}}},
    "misc": {"misc_action": {"set_variable": {"name": "x", "value": 1}}},
    "sleep": {"sleep_action": {"sleep_time": 2}},
    "script": {"python_script_action": {"execution_code": "async def code_fn(page): pass"}},
    "fail": {"fail_state_action": {}},
}


@pytest.mark.parametrize(
    ("kind", "before", "implicit", "end"),
    [
        ("interaction", None, 0.0, 5.0),
        ("extraction", None, 3.0, 0.0),
        ("assertion", None, 0.0, 0.0),
        ("misc", None, 0.0, 5.0),
        ("sleep", None, 0.0, 5.0),
        ("script", None, 0.0, 5.0),
        ("fail", None, 0.0, 5.0),
    ],
)
def test_waits_default_by_action_kind(kind: str, before: float | None, implicit: float, end: float) -> None:
    node = ActionNode.model_validate(PAYLOADS[kind])
    assert node.explicit_before_sleep() == before
    assert node.implicit_before_wait() == implicit
    assert node.end_wait_seconds() == end


def test_explicit_waits_are_kept_and_replace_the_defaults() -> None:
    node = ActionNode.model_validate({**PAYLOADS["extraction"], "before_sleep_time": 0, "end_sleep_time": 2.5})
    assert node.explicit_before_sleep() == 0.0
    assert node.implicit_before_wait() == 0.0
    assert node.end_wait_seconds() == 2.5


@pytest.mark.parametrize("value", [-0.1, 30.01, 60])
def test_end_sleep_time_is_between_0_and_30(value: float) -> None:
    with pytest.raises(ValidationError) as exc:
        ActionNode.model_validate({**PAYLOADS["interaction"], "end_sleep_time": value})
    assert exc.value.errors()[0]["loc"] == ("end_sleep_time",)


def test_end_sleep_time_bounds_are_inclusive() -> None:
    for value in (0, 30):
        assert (
            ActionNode.model_validate({**PAYLOADS["interaction"], "end_sleep_time": value}).end_wait_seconds() == value
        )


def test_new_tab_wait_is_forced_as_optexity_does() -> None:
    waiting = ActionNode.model_validate({**PAYLOADS["interaction"], "expect_new_tab": True, "max_new_tab_wait_time": 2})
    assert waiting.max_new_tab_wait_time == 10.0
    plain = ActionNode.model_validate({**PAYLOADS["interaction"], "max_new_tab_wait_time": 7})
    assert plain.max_new_tab_wait_time == 0.0


def test_expect_new_tab_needs_an_interaction() -> None:
    with pytest.raises(ValidationError) as exc:
        ActionNode.model_validate({**PAYLOADS["extraction"], "expect_new_tab": True})
    assert messages(exc) == ["Value error, expect_new_tab is only allowed with an interaction_action"]


# --- exactly one ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        (
            ActionNode,
            {"sleep_action": {"sleep_time": 1}, "fail_state_action": {}},
            "exactly one of interaction_action, extraction_action, assertion_action, python_script_action, "
            "sleep_action, fail_state_action, misc_action, captcha_action, human_in_loop_action, "
            "powershell_action, dynamic_form_mapping_action must be set (got sleep_action, fail_state_action)",
        ),
        (
            ExtractionAction,
            {"allow_none": True},
            "exactly one of llm, locator, network_call, python_script, screenshot, state, two_fa_action, "
            "pdf, api_call, ocr_coordinates, vision must be set (none given)",
        ),
        (
            AssertionAction,
            {},
            "exactly one of llm, network_call, python_script must be set (none given)",
        ),
        (
            MiscAction,
            {"set_variable": {"name": "x", "value": 1}, "count_locator": {"locator": "locator('tr')", "name": "n"}},
            "exactly one of set_variable, llm_query, count_locator must be set (got set_variable, count_locator)",
        ),
        (
            SetVariable,
            {"name": "x", "value": 1, "expression": "1 + 1"},
            "exactly one of value, expression must be set (got value, expression)",
        ),
        (
            ForLoopNode,
            {"variable_name": "  ", "nodes": []},
            "exactly one of variable_name, locator must be set (none given)",
        ),
    ],
)
def test_containers_hold_exactly_one(model: Any, data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    assert messages(exc) == [f"Value error, {expected}"]


def test_interaction_with_two_actions_names_them() -> None:
    with pytest.raises(ValidationError) as exc:
        InteractionAction.model_validate({**CLICK, "go_back": {}})
    assert messages(exc)[0].endswith("must be set (got click_element, go_back)")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"command": "locator('#f')"}, "exactly one of file_path, file_url must be set (none given)"),
        (
            {"command": "locator('#f')", "file_path": "a.pdf", "file_url": "https://x.test/a.pdf"},
            "exactly one of file_path, file_url must be set (got file_path, file_url)",
        ),
    ],
)
def test_upload_has_one_source(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        InteractionAction.model_validate({"upload_file": data})
    assert messages(exc) == [f"Value error, {expected}"]


def test_targeting_rules() -> None:
    both = {"command": "locator('#a')", "xpath": "//a"}
    with pytest.raises(ValidationError) as exc:
        ClickElementAction.model_validate(both)
    assert messages(exc) == ["Value error, give command or xpath, not both"]
    with pytest.raises(ValidationError) as exc:
        ClickElementAction.model_validate({"xpath": "//a", "assert_locator_presence": True})
    assert messages(exc) == ["Value error, assert_locator_presence needs a command"]
    assert ClickElementAction.model_validate({"command": "   "}).command is None


def test_scroll_amount_is_minus_one_or_pixels() -> None:
    assert ScrollAction(amount=0).amount == 0
    with pytest.raises(ValidationError) as exc:
        ScrollAction(amount=-2)
    assert messages(exc) == ["Value error, amount must be -1 (to the end) or a number of pixels"]


def test_two_fa_sources_are_discriminated_by_type() -> None:
    two_fa = TwoFaAction.model_validate(
        {
            "action": {"type": "sms_two_fa_action", "from_number": "+1", "to_number": "+2"},
            "output_variable_name": "c",
        }
    )
    assert (two_fa.action.type, two_fa.max_wait_time, two_fa.check_interval) == (
        "sms_two_fa_action",
        300.0,
        30.0,
    )


# --- loops, locator extraction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"variable_name": "ids", "index_variable_name": "2x"},
            "index_variable_name '2x' is not a valid identifier",
        ),
        (
            {"variable_name": "ids", "index_variable_name": "index_of"},
            "index_variable_name cannot be 'index_of' (it names {index_of(variable)})",
        ),
        (
            {"locator": "locator('tr')", "index_variable_name": "locator"},
            "index_variable_name cannot be 'locator' in a locator loop",
        ),
        (
            {"variable_name": "ids, row", "index_variable_name": "row"},
            "index_variable_name 'row' is also a loop variable",
        ),
    ],
)
def test_loop_index_names(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ForLoopNode.model_validate({**data, "nodes": []})
    assert messages(exc) == [f"Value error, {expected}"]


def test_loop_source_is_stripped_and_listed() -> None:
    loop = ForLoopNode.model_validate({"variable_name": " ids , dates ", "locator": " ", "nodes": []})
    assert (loop.variable_name, loop.locator, loop.loop_variables()) == (
        "ids , dates",
        None,
        ["ids", "dates"],
    )
    for bad in ({"max_iterations": 0}, {"locator_timeout": -1}):
        with pytest.raises(ValidationError):
            ForLoopNode.model_validate({"variable_name": "ids", "nodes": [], **bad})


def test_locator_extraction_format_rules() -> None:
    unnamed = {"command": "locator('#p')", "extraction_format": {"a": "str", "b": "str"}}
    with pytest.raises(ValidationError) as exc:
        ExtractionAction.model_validate({"locator": unnamed})
    assert messages(exc) == ["Value error, without output_variable_name, extraction_format must have exactly one key"]
    named = {
        "command": "locator('#p')",
        "output_variable_name": "price",
        "extraction_format": {"cost": "str"},
    }
    with pytest.raises(ValidationError) as exc:
        ExtractionAction.model_validate({"locator": named})
    assert messages(exc) == ["Value error, output variable(s) price not found in extraction_format"]


def test_llm_outputs_and_sources_rules() -> None:
    verdict = {"extraction_instructions": "signed in?", "output_variable_names": ["assertion_result", "why"]}
    with pytest.raises(ValidationError) as exc:
        AssertionAction.model_validate({"llm": verdict})
    assert messages(exc) == [
        "Value error, output variable(s) why not found in the verdict (assertion_result, assertion_reason)"
    ]
    blind = {"source": [], "extraction_format": {"a": "str"}, "extraction_instructions": "a"}
    with pytest.raises(ValidationError):
        ExtractionAction.model_validate({"llm": blind})


def test_default_output_names_count_every_node_in_document_order() -> None:
    def extract(command: str) -> dict[str, Any]:
        return {"extraction_action": {"locator": {"command": command, "extraction_format": {"v": "str"}}}}

    loaded = automation(
        {"locator": "locator('#banner')", "assertion": "to_be_visible"},  # 1
        {
            "variable_name": "ids",  # 2
            "nodes": [extract("locator('#a')")],  # 3
            "reset_nodes": [{"condition": "x", "if_nodes": [extract("locator('#b')")]}],  # 4, 5
        },
        {"locator": "locator('#kept')", "assertion": "to_be_hidden", "output_variable_name": "kept"},  # 6
        post_processing_nodes=[extract("locator('#c')")],  # 7
    )
    nodes = list(loaded.all_nodes())
    assert [type(node).__name__ for node in nodes] == [
        "AssertLocatorNode",
        "ForLoopNode",
        "ActionNode",
        "IfElseNode",
        "ActionNode",
        "AssertLocatorNode",
        "ActionNode",
    ]
    first = nodes[0]
    assert isinstance(first, AssertLocatorNode) and first.output_variable_name == "node1_output"
    kept = nodes[5]
    assert isinstance(kept, AssertLocatorNode) and kept.output_variable_name == "kept"
    for index in (2, 4, 6):
        node = nodes[index]
        assert isinstance(node, ActionNode) and node.extraction_action and node.extraction_action.locator
        name = f"node{index + 1}_output"
        assert node.extraction_action.locator.output_variable_name == name
        assert node.extraction_action.locator.extraction_format == {name: "str"}


# --- legacy nodes ---------------------------------------------------------------------------------------


def test_legacy_nodes_get_their_type_everywhere() -> None:
    body = [{"sleep_action": {"sleep_time": 1}}]
    loaded = automation(
        {"condition": "x", "if_nodes": body, "else_nodes": [{"variable_name": "ids", "nodes": body}]},
        {"locator": "locator('#x')", "assertion": "to_be_visible"},
        {"locator": "locator('tr')", "nodes": body, "reset_nodes": body},
        {"interaction_action": CLICK},
        post_processing_nodes=body,
    )
    kinds = [node.type for node in loaded.all_nodes()]
    assert kinds == [
        "if_else_node",
        "action_node",
        "for_loop_node",
        "action_node",
        "assert_locator_node",
        "for_loop_node",
        "action_node",
        "action_node",
        "action_node",
        "action_node",
    ]


def test_private_nodes_parse() -> None:
    loaded = automation({"type": "private_node", "handler": "ecw.list_lab_orders", "inputs": {"id": "{p[0]}"}})
    node = loaded.nodes[0]
    assert isinstance(node, PrivateNode) and (node.before_sleep_time, node.end_sleep_time) == (0.0, 0.0)


# --- examples -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_round_trip_through_json(path: Path) -> None:
    loaded = Automation.model_validate(json.loads(path.read_text()))
    again = Automation.model_validate_json(loaded.model_dump_json())
    assert again == loaded


def test_action_names() -> None:
    names = [
        ActionNode.model_validate(payload).action_name
        for payload in (PAYLOADS["interaction"], PAYLOADS["extraction"], PAYLOADS["misc"], PAYLOADS["sleep"])
    ]
    assert names == [
        "interaction_action.click_element",
        "extraction_action.state",
        "misc_action.set_variable",
        "sleep_action",
    ]


# --- keys -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("enter", "Enter"),
        ("return", "Enter"),
        ("\n", "Enter"),
        ("tab", "Tab"),
        ("esc", "Escape"),
        ("escape", "Escape"),
        ("up", "ArrowUp"),
        ("ctrl", "Control"),
        ("pagedown", "PageDown"),
        ("pgup", "PageUp"),
        ("f5", "F5"),
        ("num7", "Numpad7"),
        ("space", "Space"),
        ("a", "a"),
        ("A", "A"),
        ("/", "/"),
        ("+", "+"),
        ("Enter", "Enter"),
        ("ArrowDown", "ArrowDown"),
        ("KeyA", "KeyA"),
        ("Control+A", "Control+A"),
        ("ctrl+shift+t", "Control+Shift+t"),
        ("ControlOrMeta+a", "ControlOrMeta+a"),
        ("Shift++", "Shift++"),
    ],
)
def test_key_names_map_to_playwright(name: str, key: str) -> None:
    assert to_key_press(name) == key


@pytest.mark.parametrize("name", ["enterr", "", "{key[0]}", "Control+", "é", "f25"])
def test_unknown_keys_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        KeyPressAction.model_validate({"type": name})
    assert len(exc.value.errors()) == 1
    assert exc.value.errors()[0]["loc"] == ("type",)
    assert "unknown key" in messages(exc)[0]


@pytest.mark.parametrize(
    ("name", "press"),
    [
        ("f13", DevToolsPress(DevToolsKey("F13", "F13", 0x7C))),
        ("F24", DevToolsPress(DevToolsKey("F24", "F24", 0x87))),
        ("browserback", DevToolsPress(DevToolsKey("BrowserBack", "BrowserBack", 0xA6))),
        ("ctrl+f13", DevToolsPress(DevToolsKey("F13", "F13", 0x7C), ("Control",))),
        ("Shift+Alt+yen", DevToolsPress(DevToolsKey("\u00a5", "IntlYen", 0xDC, "\u00a5"), ("Shift", "Alt"))),
    ],
)
def test_keys_playwright_has_not_are_devtools_presses(name: str, press: DevToolsPress) -> None:
    assert to_key_press(name) == press
    assert KeyPressAction.model_validate({"type": [name, "enter"]}).presses() == [press, "Enter"]


@pytest.mark.parametrize(
    ("name", "special"), [("f13+a", "f13"), ("ctrl+f13+a", "f13"), ("a+browserback", "browserback"), ("f13+f14", "f13")]
)
def test_a_devtools_key_combines_only_last_after_modifiers(name: str, special: str) -> None:
    with pytest.raises(ValidationError) as exc:
        KeyPressAction.model_validate({"type": name})
    assert f"{special!r} can be combined only as the last key, after Shift, Control, Alt or Meta" in messages(exc)[0]


def test_key_press_lists_are_pressed_in_order() -> None:
    action = KeyPressAction.model_validate({"type": ["ctrl+a", "backspace", "7"]})
    assert action.presses() == ["Control+a", "Backspace", "7"]
    assert KeyPressAction.model_validate({"type": "tab"}).presses() == ["Tab"]
    for bad in ([], 5, ["enter", 3]):
        with pytest.raises(ValidationError):
            KeyPressAction.model_validate({"type": bad})


async def test_every_accepted_key_is_one_playwright_presses(page: Page) -> None:
    await page.set_content(
        "<input autofocus><script>window.seen = 0;"
        "document.addEventListener('keydown', () => { window.seen += 1; }, true);</script>"
    )
    keys = sorted(set(KEY_NAMES.values()) | {chr(c) for c in range(0x20, 0x7F)})
    for key in keys:
        press = to_key_press(key)
        assert isinstance(press, str)
        await page.keyboard.press(press)
    # One keydown per press proves Playwright knew every key (it raises on unknown ones).
    assert await page.evaluate("window.seen") == len(keys)
