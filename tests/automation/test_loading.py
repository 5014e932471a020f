"""Loading automations: real Optexity-style documents, every problem with its JSON path, run parameters."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rebrowse.automation.loading import check_run_parameters, load_automation, load_automation_file, summarize
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.schema import ActionNode, Automation, IfElseNode
from rebrowse.errors import AutomationInvalid, FieldError

EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))
SCRIPTS_OFF = "is disabled: set REBROWSE_ALLOW_PYTHON_SCRIPTS=1 to allow it"
CLICK = {"command": 'get_by_role("button", name="Go")'}


def document(*nodes: Any, **top: Any) -> dict[str, Any]:
    return {"url": "https://example.test/", "parameters": {}, "nodes": list(nodes), **top}


def interaction(**action: Any) -> dict[str, Any]:
    return {"type": "action_node", "interaction_action": action}


def extraction(**kind: Any) -> dict[str, Any]:
    return {"type": "action_node", "extraction_action": kind}


def problems(data: object, **kw: Any) -> list[FieldError]:
    with pytest.raises(AutomationInvalid) as exc:
        load_automation(data, **kw)
    return exc.value.errors


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((Path(__file__).parent / "examples" / f"{name}.json").read_text())
    return loaded


# --- real documents -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_load(path: Path) -> None:
    loaded = load_automation_file(path)
    assert loaded.nodes
    assert summarize(loaded).total_nodes == len(list(loaded.all_nodes()))


def test_legacy_example_is_migrated_and_named() -> None:
    loaded = load_automation_file(Path(__file__).parent / "examples" / "stock_search_legacy.json")
    assert [node.type for node in loaded.nodes] == [
        "action_node",
        "action_node",
        "action_node",
        "assert_locator_node",
        "if_else_node",
        "for_loop_node",
        "for_loop_node",
    ]
    branch = loaded.nodes[4]
    assert isinstance(branch, IfElseNode)
    price = branch.if_nodes[0]
    assert isinstance(price, ActionNode) and price.extraction_action and price.extraction_action.locator
    assert price.extraction_action.locator.output_variable_name == "node6_output"
    assert price.explicit_before_sleep() is None and price.implicit_before_wait() == 3.0
    typed = loaded.nodes[0]
    assert isinstance(typed, ActionNode) and typed.explicit_before_sleep() == 1.0


def test_summary_counts_parameters_nodes_and_actions() -> None:
    summary = summarize(load_automation_file(Path(__file__).parent / "examples" / "medicaid_loops.json"))
    assert summary.input_parameters == ("member_id", "plan", "auth_numbers", "auth_dates")
    assert (summary.secure_parameters, summary.generated_parameters) == ((), ("row_count",))
    assert summary.node_counts == {"action_node": 10, "for_loop_node": 2, "if_else_node": 1}
    assert summary.action_counts["interaction_action.click_element"] == 3
    assert summary.action_counts["extraction_action.locator"] == 2
    assert summary.total_nodes == 13
    text = summary.render()
    assert "nodes: 13 (action_node 10, for_loop_node 2, if_else_node 1)" in text
    assert "input parameters: member_id, plan, auth_numbers, auth_dates" in text


# --- schema problems, each with its path ----------------------------------------------------------------


def test_a_misspelled_key_is_named_by_its_path() -> None:
    data = example("form_upload_download")
    click = data["nodes"][6]["interaction_action"]["click_element"]
    click["buton"] = click.pop("button")
    assert problems(data) == [
        FieldError("nodes[6].interaction_action.click_element.buton", "unknown field (did you mean `button`?)")
    ]


def test_every_problem_is_reported_at_once() -> None:
    data = document(
        interaction(go_to_url={"ur": "https://example.test/next"}),
        {"interaction_action": {"click_element": {**CLICK, "dubble_click": True}}},
        {
            "type": "for_loop_node",
            "variable_name": "ids",
            "nodes": [{"sleep_action": {"sleep_time": "soon"}}],
        },
        {"type": "bogus"},
        max_retry=2,
    )
    assert problems(data) == [
        FieldError("nodes[0].interaction_action.go_to_url.url", "field required"),
        FieldError("nodes[0].interaction_action.go_to_url.ur", "unknown field (did you mean `url`?)"),
        FieldError(
            "nodes[1].interaction_action.click_element.dubble_click", "unknown field (did you mean `double_click`?)"
        ),
        FieldError(
            "nodes[2].nodes[0].sleep_action.sleep_time",
            "input should be a valid number, unable to parse string as a number",
        ),
        FieldError(
            "nodes[3]",
            "input tag 'bogus' found using 'type' does not match any of the expected tags: 'action_node', "
            "'for_loop_node', 'if_else_node', 'assert_locator_node', 'private_node'",
        ),
        FieldError("max_retry", "unknown field (did you mean `max_retries`?)"),
    ]


def test_model_rules_are_reported_at_the_model() -> None:
    data = document(
        interaction(),
        {
            "type": "action_node",
            "misc_action": {"set_variable": {"name": "a", "value": 1}, "count_locator": {"locator": "x", "name": "n"}},
        },
        interaction(key_press={"type": "entr"}),
        {
            "type": "action_node",
            "interaction_action": {"go_back": {}},
            "expect_new_tab": True,
            "end_sleep_time": 31,
        },
    )
    found = problems(data)
    assert [problem.path for problem in found] == [
        "nodes[0].interaction_action",
        "nodes[1].misc_action",
        "nodes[2].interaction_action.key_press.type",
        "nodes[3].end_sleep_time",
    ]
    assert found[1].message == (
        "exactly one of set_variable, llm_query, count_locator must be set (got set_variable, count_locator)"
    )
    assert found[2].message == "unknown key 'entr'"
    assert found[3].message == "input should be less than or equal to 30"


def test_union_members_share_one_message() -> None:
    data = document(parameters={"input_parameters": {"ids": [{"id": 1}]}})
    data["parameters"] = {"input_parameters": {"ids": [{"id": 1}]}}
    assert problems(data) == [
        FieldError(
            "parameters.input_parameters.ids[0]",
            "input should be a valid string; input should be a valid integer; "
            "input should be a valid number; input should be a valid boolean",
        )
    ]


def test_paths_carry_no_pydantic_noise() -> None:
    data = document(
        {
            "condition": "x",
            "if_nodes": [{"locator": "locator('tr')", "nodes": [{"zz": 1, "sleep_action": {}}]}],
        },
        extraction(
            two_fa_action={
                "action": {"type": "email_two_fa_action", "sender": "a"},
                "output_variable_name": "c",
            }
        ),
    )
    paths = [problem.path for problem in problems(data)]
    assert paths == [
        "nodes[0].if_nodes[0].nodes[0].sleep_action.sleep_time",
        "nodes[0].if_nodes[0].nodes[0].zz",
        "nodes[1].extraction_action.two_fa_action.action.receiver_email_address",
        "nodes[1].extraction_action.two_fa_action.action.sender_email_address",
        "nodes[1].extraction_action.two_fa_action.action.sender",
    ]


def test_not_an_object() -> None:
    assert problems([1, 2]) == [FieldError("", "input should be a valid dictionary or instance of Automation")]


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "url": "https://example.test/",\n  "nodes": [,]\n}\n')
    with pytest.raises(AutomationInvalid) as exc:
        load_automation_file(path)
    assert exc.value.errors == [FieldError("", "invalid JSON at line 3 column 13: Expecting value")]


# Objects whose keys are data, not schema: values of any shape, or (NAME_MAPS) names of declared models.
FREE_FORM = {
    "headers",
    "body",
    "query_params",
    "extraction_format",
    "download_metadata",
    "inputs",
    "output_format",
}
NAME_MAPS = {"input_parameters", "secure_parameters", "generated_parameters"}


def strict_objects(value: Any, path: str = "", key: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object of a document that the schema declares field by field, with its path."""
    if key in FREE_FORM:
        return
    if isinstance(value, dict):
        if key not in NAME_MAPS:
            yield path, value
        for name, item in value.items():
            yield from strict_objects(item, f"{path}.{name}" if path else name, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strict_objects(item, f"{path}[{index}]")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_an_unknown_key_anywhere_is_rejected_with_its_path(path: Path) -> None:
    original = json.loads(path.read_text())
    targets = list(strict_objects(original))
    assert len(targets) > 10
    for index, (where, _) in enumerate(targets):
        data = copy.deepcopy(original)
        _, obj = list(strict_objects(data))[index]
        obj["zz_typo"] = True
        expected = f"{where}.zz_typo" if where else "zz_typo"
        assert problems(data) == [FieldError(expected, "unknown field")], expected


@pytest.mark.parametrize(
    ("node", "path", "suggested"),
    [
        (interaction(checkbox=CLICK), "nodes[0].interaction_action.checkbox", "check"),
        (interaction(click_elemnt=CLICK), "nodes[0].interaction_action.click_elemnt", "click_element"),
        (
            interaction(input_text={**CLICK, "input_txt": "x"}),
            "nodes[0].interaction_action.input_text.input_txt",
            "input_text",
        ),
        ({"type": "action_node", "extraction_action": {"locatr": {}}}, "nodes[0].extraction_action.locatr", "locator"),
    ],
)
def test_an_unknown_key_suggests_the_nearest_field(node: dict[str, Any], path: str, suggested: str) -> None:
    assert problems(document(node)) == [FieldError(path, f"unknown field (did you mean `{suggested}`?)")]


def test_an_unknown_key_like_no_field_suggests_nothing() -> None:
    assert problems(document(interaction(click_element={**CLICK, "zz_typo": 1}))) == [
        FieldError("nodes[0].interaction_action.click_element.zz_typo", "unknown field")
    ]


# --- features rebrowse does not implement ---------------------------------------------------------------

UNREADABLE_FORMAT = {"extraction_format": {"a": "money"}, "extraction_instructions": "the price"}


@pytest.mark.parametrize(
    ("node", "path", "message"),
    [
        (
            extraction(ocr_coordinates={"source_variable": "box"}),
            "extraction_action.ocr_coordinates",
            "ocr_coordinates extraction is not supported (a computer-vision feature)",
        ),
        (
            extraction(vision={"prompt": "find it", "output_variable_names": ["x"]}),
            "extraction_action.vision",
            "vision extraction is not supported (a computer-vision feature)",
        ),
        (
            extraction(python_script={"script": "async def code_fn(axtree, browser): return {}"}),
            "extraction_action.python_script",
            f"python_script extraction {SCRIPTS_OFF}",
        ),
        (
            {"type": "action_node", "assertion_action": {"network_call": {"url_pattern": "/api"}}},
            "assertion_action.network_call",
            "network_call assertion is not supported (Optexity never implemented it)",
        ),
        (
            {"type": "action_node", "assertion_action": {"python_script": {"script": "x = 1"}}},
            "assertion_action.python_script",
            "python_script assertion is not supported (Optexity never implemented it)",
        ),
        (
            interaction(agentic_task={"task": "book it", "max_steps": 5, "backend": "browserbase"}),
            "interaction_action.agentic_task.backend",
            'backend "browserbase" is not supported: use "browser_use"',
        ),
        (
            interaction(close_overlay_popup={"backend": "browserbase"}),
            "interaction_action.close_overlay_popup.backend",
            'backend "browserbase" is not supported: use "browser_use"',
        ),
        (
            {"type": "action_node", "captcha_action": {"locator": "locator('#captcha')"}},
            "captcha_action",
            "captcha_action is never solved by a model in rebrowse: set REBROWSE_CAPTCHA_BY_PERSON=1 to have a"
            " person solve it (the task waits for a person at this step)",
        ),
        (
            {"type": "action_node", "powershell_action": {"commands": ["dir"]}},
            "powershell_action",
            "powershell_action is not supported (it needs a remote Windows desktop)",
        ),
        (
            {
                "type": "action_node",
                "python_script_action": {"execution_code": "async def code_fn(page): pass"},
            },
            "python_script_action",
            f"python_script_action {SCRIPTS_OFF}",
        ),
        (
            {"type": "private_node", "handler": "ecw.resolve_patient_id"},
            "",
            "private_node is not supported (it needs an Optexity plugin handler)",
        ),
        (
            interaction(click_element={"xpath": "//button[1]", "prompt_instructions": "Go", "skip_prompt": True}),
            "interaction_action.click_element",
            "no command given, and skip_prompt forbids asking the model for it",
        ),
        (
            interaction(hover={"command": "  ", "skip_prompt": True}),
            "interaction_action.hover",
            "no command given, and skip_prompt forbids asking the model for it",
        ),
        (
            interaction(key_press={"type": "enter", "xpath": "//input", "skip_prompt": True}),
            "interaction_action.key_press",
            "no command given, and skip_prompt forbids asking the model for it",
        ),
        (
            interaction(click_element={**CLICK, "skip_command": True, "skip_prompt": True}),
            "interaction_action.click_element.skip_command",
            "skip_command and skip_prompt leave no way to locate",
        ),
        (
            interaction(input_text={"command": "get_by_label('Name')", "skip_prompt": True}),
            "interaction_action.input_text.input_text",
            "no input_text given, and skip_prompt forbids asking the model for it",
        ),
        (
            interaction(select_option={"command": "get_by_label('State')", "skip_prompt": True}),
            "interaction_action.select_option.select_values",
            "no select_values given, and skip_prompt forbids asking the model for it",
        ),
        (
            {
                "type": "action_node",
                "interaction_action": {"click_element": CLICK},
                "expect_navigation": True,
            },
            "expect_navigation",
            "expect_navigation is not supported yet",
        ),
    ],
)
def test_unsupported_features_are_rejected(node: dict[str, Any], path: str, message: str) -> None:
    expected = FieldError(f"nodes[0].{path}" if path else "nodes[0]", message)
    assert problems(document(node)) == [expected]
    loop = {"variable_name": "ids", "nodes": [], "reset_nodes": [node]}
    nested = document({"condition": "x", "if_nodes": [loop]}, parameters={"input_parameters": {"ids": ["1"]}})
    assert problems(nested) == [
        FieldError(expected.path.replace("nodes[0]", "nodes[0].if_nodes[0].reset_nodes[0]"), message)
    ]


@pytest.mark.parametrize(
    ("top", "path", "message"),
    [
        (
            {"browser_channel": "rdp"},
            "browser_channel",
            'browser_channel "rdp" is not supported: rebrowse runs chromium or chrome',
        ),
        (
            {"browser_channel": "cloakbrowser"},
            "browser_channel",
            'browser_channel "cloakbrowser" is not supported: rebrowse runs chromium or chrome',
        ),
        (
            {"backend": "computer-vision"},
            "backend",
            'backend "computer-vision" is not supported: rebrowse runs browser-use',
        ),
    ],
)
def test_other_browsers_and_backends_are_rejected(top: dict[str, Any], path: str, message: str) -> None:
    assert problems(document(interaction(click_element=CLICK), **top)) == [FieldError(path, message)]


def test_accepted_settings_and_optional_fields() -> None:
    loaded = load_automation(
        document(
            interaction(click_element={**CLICK, "mouse_click": True, "mouse_click_deviation": {"x": 3}}),
            interaction(key_press={"type": "enter"}),
            extraction(
                locator={
                    "command": "locator('#p')",
                    "extraction_format": {"p": "str"},
                    "extraction_instructions": "p",
                }
            ),
            os_emulation="windows",
            allow_cookies=True,
        )
    )
    assert loaded.os_emulation == "windows"


def test_python_scripts_load_where_allowed() -> None:
    data = document(
        {"type": "action_node", "python_script_action": {"execution_code": "async def code_fn(page): pass"}},
        extraction(python_script={"script": "async def code_fn(axtree, browser): return {}", "timeout_seconds": 5}),
    )
    assert len(problems(data)) == 2
    loaded = load_automation(data, allow_python_scripts=True)
    assert [node.action_name for node in loaded.nodes if isinstance(node, ActionNode)] == [
        "python_script_action",
        "extraction_action.python_script",
    ]


def test_element_steps_the_model_completes_load() -> None:
    data = document(
        interaction(click_element={"xpath": "//button[1]", "prompt_instructions": "Go"}),
        interaction(click_element={**CLICK, "skip_command": True}),
        interaction(input_text={"prompt_instructions": "a plausible name", "press_enter": True}),
        interaction(select_option={"command": "get_by_label('State')", "prompt_instructions": "the state"}),
        interaction(key_press={"type": "enter", "xpath": "//input"}),
    )
    assert len(load_automation(data).nodes) == 5


def test_all_unsupported_features_are_reported_together() -> None:
    data = document(
        extraction(llm=UNREADABLE_FORMAT),
        interaction(click_element={"prompt_instructions": "Go", "skip_prompt": True}),
        browser_channel="rdp",
    )
    assert [problem.path for problem in problems(data)] == [
        "browser_channel",
        "nodes[0].extraction_action.llm.extraction_format.a",
        "nodes[1].interaction_action.click_element",
    ]


# --- run parameters -------------------------------------------------------------------------------------


@pytest.fixture
def login() -> Automation:
    return load_automation_file(Path(__file__).parent / "examples" / "login_cookies.json")


def test_declared_parameters_pass(login: Automation) -> None:
    secure = {"otp": [SecureParameter.model_validate({"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}})]}
    check_run_parameters(login, {"email": ["a@example.test", 1, 2.5, True]}, secure)
    check_run_parameters(login, {}, {"password": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}]})


def test_run_parameters_are_checked(login: Automation) -> None:
    inputs: dict[str, Any] = {"emial": ["x"], "email": [None, ["x"]], "password": ["hunter2"]}
    secure: dict[str, Any] = {
        "otp": [{"totp": {"secret": "S3CR3T"}}],
        "password": "not-a-list",
        "email": [{"totp": {"totp_secret": "S"}}],
    }
    with pytest.raises(AutomationInvalid) as exc:
        check_run_parameters(login, inputs, secure)
    assert exc.value.errors == [
        FieldError("input_parameters.emial", "not declared by the automation (did you mean `email`?)"),
        FieldError("input_parameters.email[0]", "must be a string, a number or a boolean"),
        FieldError("input_parameters.email[1]", "must be a string, a number or a boolean"),
        FieldError("input_parameters.password", "not declared by the automation (it is a secure parameter)"),
        FieldError("secure_parameters.otp[0].totp.totp_secret", "field required"),
        FieldError("secure_parameters.otp[0].totp.secret", "unknown field (did you mean `totp_secret`?)"),
        FieldError("secure_parameters.password", "must be a list of secret references"),
        FieldError("secure_parameters.email", "not declared by the automation (it is an input parameter)"),
    ]
    assert "S3CR3T" not in str(exc.value) and "hunter2" not in str(exc.value)


def test_input_values_must_be_lists(login: Automation) -> None:
    with pytest.raises(AutomationInvalid) as exc:
        check_run_parameters(login, {"email": "a@example.test"}, {})
    assert exc.value.errors == [FieldError("input_parameters.email", "must be a list of values")]


# --- locator commands and placeholders, checked at load -------------------------------------------------

REPO = Path(__file__).parents[2]
REPO_AUTOMATIONS = [
    *EXAMPLES,
    REPO / "src/rebrowse/demo/automation.json",
    *sorted((REPO / "bench/flows").glob("*.json")),
]


@pytest.mark.parametrize("path", REPO_AUTOMATIONS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_automation_of_the_repository_loads(path: Path) -> None:
    assert load_automation_file(path).nodes


def typing_into(text: str, command: str = 'get_by_label("Name")') -> dict[str, Any]:
    return interaction(input_text={"command": command, "input_text": text})


def setting(name: str, value: str = "x") -> dict[str, Any]:
    return {"type": "action_node", "misc_action": {"set_variable": {"name": name, "value": value}}}


def with_inputs(*nodes: Any, **inputs: list[str]) -> dict[str, Any]:
    return document(*nodes, parameters={"input_parameters": inputs})


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ('get_by_role("button", name="Go"', 'the locator command is not a valid expression: `get_by_role("button"'),
        ('locator("#go").evaluate("document.cookie")', "`evaluate()` is not an allowed locator method"),
        ("__import__('os').system('id')", "`__import__()` is not an allowed locator method"),
    ],
)
def test_a_command_that_cannot_run_is_refused_with_how_to_fix_it(command: str, reason: str) -> None:
    (problem,) = problems(document(interaction(click_element={"command": command})))
    assert problem.path == "nodes[0].interaction_action.click_element.command"
    assert reason in problem.message
    assert 'write a chain of Playwright locator calls on the page, e.g. get_by_role("button"' in problem.message
    assert "get_by_label" in problem.message  # the whitelist is listed


def test_every_field_holding_a_command_is_parsed() -> None:
    bad = 'locator("#x").click()'
    data = document(
        extraction(locator={"command": bad, "output_variable_name": "v", "extraction_format": {"v": "str"}}),
        {"type": "action_node", "misc_action": {"count_locator": {"locator": bad, "name": "n"}}},
        {"type": "assert_locator_node", "locator": bad, "assertion": "to_be_visible"},
        {"type": "for_loop_node", "locator": bad, "nodes": [interaction(hover={"command": bad})]},
        interaction(check={"command": bad, "skip_command": True}),  # kept for reference only: never run
    )
    assert [problem.path for problem in problems(data)] == [
        "nodes[0].extraction_action.locator.command",
        "nodes[1].misc_action.count_locator.locator",
        "nodes[2].locator",
        "nodes[3].locator",
        "nodes[3].nodes[0].interaction_action.hover.command",
    ]


def test_a_placeholder_naming_nothing_is_refused_with_the_nearest_name() -> None:
    data = with_inputs(
        typing_into("{usr_name[0]}"), interaction(go_to_url={"url": "https://x.test/{nobody[0]}"}), user_name=["a"]
    )
    assert problems(data) == [
        FieldError(
            "nodes[0].interaction_action.input_text.input_text",
            "placeholder {usr_name[0]} names `usr_name`, which is no declared parameter nor a variable an earlier "
            "step writes (did you mean `user_name`?)",
        ),
        FieldError(
            "nodes[1].interaction_action.go_to_url.url",
            "placeholder {nobody[0]} names `nobody`, which is no declared parameter nor a variable an earlier step "
            "writes: declare it in parameters.input_parameters (or secure_parameters, generated_parameters)",
        ),
    ]


def test_a_placeholder_in_a_command_must_name_a_parameter() -> None:
    data = document(interaction(click_element={"command": 'get_by_text("Hi {who[0]}").nth({pick[0]})'}))
    assert [problem.message.split(",")[0] for problem in problems(data)] == [
        "placeholder {pick[0]} names `pick`",
        "placeholder {who[0]} names `who`",
    ]


def test_parameters_and_variables_of_earlier_steps_may_be_named() -> None:
    data = document(
        extraction(locator={"command": 'locator("#price")', "extraction_format": {"price": "str"}}),  # node1_output
        extraction(api_call={"url": "https://api.test/{node1_output[0]}"}),  # api_result
        typing_into("{api_result.body.id} {secret[0]} {made[0]}"),
        {"type": "action_node", "interaction_action": {"download_file": {"file_url": "https://x.test/{who[0]}"}}},
        interaction(upload_file={"command": 'locator("#file")', "file_path": "{downloaded_file_path[0]}"}),
        {"type": "action_node", "misc_action": {"count_locator": {"locator": 'locator("li")', "name": "count"}}},
        {"condition": "count[0] > 0", "if_nodes": [setting("price")], "else_nodes": [typing_into("{count[0]}")]},
        parameters={
            "input_parameters": {"who": ["a"]},
            "secure_parameters": {"secret": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}]},
            "generated_parameters": {"made": [None]},
        },
    )
    assert load_automation(data).nodes


def test_a_variable_a_later_step_writes_is_refused() -> None:
    data = document(typing_into("{total[0]}"), setting("total"))
    assert problems(data) == [
        FieldError(
            "nodes[0].interaction_action.input_text.input_text",
            "placeholder {total[0]} names `total`, which only a later step writes (nodes[1]): move that step before "
            "this one",
        )
    ]
    # Post-processing runs after the nodes: it may name their variables, they may not name its.
    assert load_automation(document(setting("total"), post_processing_nodes=[typing_into("{total[0]}")]))
    late = document(typing_into("{total[0]}"), post_processing_nodes=[setting("total")])
    assert "only a later step writes (post_processing_nodes[0])" in problems(late)[0].message


def test_loop_bindings_and_variables_written_in_the_loop() -> None:
    body = [
        typing_into("{ids[row]} is {index_of(ids)} of {names[row]}", command='locator("li").nth({row})'),
        {"condition": "True", "if_nodes": [typing_into("{previous[0]}")]},  # written by an earlier iteration
        setting("previous"),
    ]
    loop = {"type": "for_loop_node", "variable_name": "ids, names", "index_variable_name": "row", "nodes": body}
    in_row = interaction(click_element={"command": '{locator[row]}.get_by_role("button")'})
    rows = {"type": "for_loop_node", "locator": 'locator("tr")', "index_variable_name": "row", "nodes": [in_row]}
    assert load_automation(with_inputs(loop, rows, ids=["1"], names=["a"])).nodes
    # Outside its loop, a loop's index is an unknown name.
    (problem,) = problems(
        with_inputs(loop, typing_into("x", command='locator("li").nth({row})'), ids=["1"], names=["a"])
    )
    assert problem.path == "nodes[1].interaction_action.input_text.command"
    assert problem.message.startswith("placeholder {row} names `row`")


def test_problems_inside_nested_nodes_have_their_paths() -> None:
    inner = {"type": "for_loop_node", "variable_name": "idz", "nodes": [typing_into("{ids[index]}{other[0]}")]}
    data = with_inputs({"condition": "True", "if_nodes": [setting("a")], "else_nodes": [inner]}, ids=["1"])
    assert [(problem.path, problem.message.split(",")[0]) for problem in problems(data)] == [
        ("nodes[0].else_nodes[0].variable_name", "the loop runs over `idz`"),
        (
            "nodes[0].else_nodes[0].nodes[0].interaction_action.input_text.input_text",
            "placeholder {other[0]} names `other`",
        ),
    ]


def test_names_known_only_at_run_time_are_accepted() -> None:
    # A variable whose name is itself a placeholder, a script that writes variables: every later name may exist.
    dynamic = with_inputs(setting("{key[0]}"), typing_into("{anything[0]}"), key=["k"])
    assert load_automation(dynamic).nodes
    script = {"type": "action_node", "python_script_action": {"execution_code": "async def code_fn(page): pass"}}
    assert load_automation(document(script, typing_into("{anything[0]}")), allow_python_scripts=True).nodes


def test_braces_that_are_text_are_left_alone() -> None:
    data = document(
        typing_into("{not_a_placeholder} {}"),  # a bare name is left as written when nothing binds it
        interaction(click_element={"command": 'get_by_text("{literal}")', "prompt_instructions": "the {x} button"}),
        extraction(
            api_call={"url": "https://api.test/", "body": '{"query": "{viewer{login}}"}', "poll_condition": "True"}
        ),
    )
    assert load_automation(data).nodes


def test_human_in_loop_loads_with_its_message() -> None:
    node = {"type": "action_node", "human_in_loop_action": {"max_wait_time": 60, "message": "Approve {who[0]}"}}
    loaded = load_automation(document(node, parameters={"input_parameters": {"who": ["ada"]}}))
    action = loaded.nodes[0]
    assert isinstance(action, ActionNode) and action.human_in_loop_action is not None
    assert (action.human_in_loop_action.max_wait_time, action.human_in_loop_action.message) == (60, "Approve {who[0]}")


def test_a_captcha_loads_only_where_a_person_may_solve_it() -> None:
    captcha = {"type": "action_node", "captcha_action": {"locator": "locator('#captcha')"}}
    assert [e.path for e in problems(document(captcha))] == ["nodes[0].captcha_action"]
    loaded = load_automation(document(captcha), captcha_by_person=True)
    assert isinstance(loaded.nodes[0], ActionNode) and loaded.nodes[0].captcha_action is not None


# --- two_fa_action ---------------------------------------------------------------------------------------

OPTEXITY_EMAIL_TWO_FA = {
    "action": {
        "type": "email_two_fa_action",
        "receiver_email_address": "{email[0]}",
        "sender_email_address": "no-reply@portal.test",
        "integration_email_address": "ops@example.test",
    },
    "instructions": "The six-digit code in the email",
    "output_variable_name": "otp",
    "max_wait_time": 120,
    "check_interval": 10,
    "start_2fa_time_offset_minutes": 1,
    "end_2fa_time_offset_minutes": 0,
}


def test_two_fa_action_loads_as_optexity_writes_it_and_its_code_can_be_typed() -> None:
    data = document(
        extraction(two_fa_action=OPTEXITY_EMAIL_TWO_FA),
        interaction(input_text={"command": "locator('#code')", "input_text": "{otp[0]}"}),
        parameters={"input_parameters": {"email": ["ada@example.test"]}},
    )
    loaded = load_automation(data)
    node = loaded.nodes[0]
    assert isinstance(node, ActionNode)
    step = node.extraction_action
    assert step is not None and step.two_fa_action is not None
    assert (step.two_fa_action.action.type, step.two_fa_action.max_wait_time) == ("email_two_fa_action", 120)


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"code_pattern": "(\\d"}, "code_pattern", "not a usable regular expression: missing )"),
        ({"code_pattern": "(a)(b)"}, "code_pattern", "at most one group"),
        ({"max_wait_time": 0}, "max_wait_time", "greater than 0"),
    ],
)
def test_two_fa_action_bad_fields_are_named(fields: dict[str, Any], path: str, message: str) -> None:
    (problem,) = problems(document(extraction(two_fa_action={**OPTEXITY_EMAIL_TWO_FA, **fields})))
    assert problem.path == f"nodes[0].extraction_action.two_fa_action.{path}"
    assert message in problem.message
