"""Variables and control flow replayed on the fixture site: set_variable, count_locator, sleep, fail_state,
assert_locator_node, if_else, for_loop_node and post_processing_nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rebrowse.automation.loading import load_automation
from rebrowse.errors import AutomationInvalid
from tests.engine.conftest import ORIGIN, Replay, action, automation
from tests.engine.test_extraction import FAST, click, extract, go_to, json_outputs, read_text, remember


def compute(name: str, expression: str) -> dict[str, Any]:
    payload = {"set_variable": {"name": name, "expression": expression, "output_variable_name": name}}
    return action("misc_action", payload)


def go_back() -> dict[str, Any]:
    return action("interaction_action", {"go_back": {}})


def fail_state(message: str) -> dict[str, Any]:
    return action("fail_state_action", {"failure_message": message})


def if_else(condition: str, if_nodes: list[dict[str, Any]], else_nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "if_else_node", "condition": condition, "if_nodes": if_nodes, "else_nodes": else_nodes}


def loop(nodes: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"type": "for_loop_node", "nodes": nodes, **fields}


def inputs(**values: list[str]) -> dict[str, Any]:
    return {"input_parameters": values}


def statuses(loop_status: list[dict[str, Any]]) -> list[str]:
    return [entry["status"] for entry in loop_status]


# ---------------------------------------------------------------------------------------------------------
# set_variable, count_locator, sleep, fail_state


async def test_set_variable_stores_values_and_safe_expressions(replay: Replay) -> None:
    nodes = [
        remember("greeting", "hello {who[0]}"),
        compute("shout", "greeting[0].upper() + '!'"),
        compute("double", "len(who) * 2"),
    ]
    result = await replay(automation("table.html", nodes, parameters=inputs(who=["ada", "grace"])))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"greeting": "hello ada"}, {"shout": "HELLO ADA!"}, {"double": 4}]


async def test_set_variable_of_an_api_results_items_stores_plain_pairs(replay: Replay) -> None:
    # The review found `api.items()` stored as a dict view that no output, artifact or database row can hold: the
    # task failed as an unexpected worker error instead of running.
    nodes = [
        extract("api_call", {"url": f"{ORIGIN}/api/job?id=x", "output_variable_names": ["api"]}),
        compute("pairs", "api.body.items()"),
        compute("names", "api.keys()"),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    outputs = json_outputs(result.output_data)
    assert outputs[1] == {"pairs": [["id", "x"], ["status", "pending"]]}
    assert outputs[2] == {"names": ["status_code", "headers", "body"]}
    assert json.loads(json.dumps(result.output_data)) == result.output_data  # what the database stores


async def test_set_variable_of_a_method_fails_its_step_clearly(replay: Replay) -> None:
    nodes = [
        extract("api_call", {"url": f"{ORIGIN}/api/job?id=x", "output_variable_names": ["api"]}),
        compute("pairs", "api.body.items"),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert "nodes[1] (set_variable)" in result.error
    assert "expression `api.body.items` gives a builtin_function_or_method" in result.error
    assert "call the method" in result.error


@pytest.mark.parametrize(
    ("node", "field"),
    [
        (compute("x", "api.items("), "nodes[0].misc_action.set_variable.expression"),
        (if_else("api.items(", [], []), "nodes[0].condition"),
        (
            extract("api_call", {"url": f"{ORIGIN}/api/job?id=x", "poll_condition": "api.items("}),
            "nodes[0].extraction_action.api_call.poll_condition",
        ),
    ],
)
def test_an_expression_that_is_not_python_is_refused_at_load(node: dict[str, Any], field: str) -> None:
    with pytest.raises(AutomationInvalid) as caught:
        load_automation(automation("table.html", [node]))
    assert [(problem.path, "`api.items(` is not valid" in problem.message) for problem in caught.value.errors] == [
        (field, True)
    ]


async def test_count_locator_counts_the_table_rows(replay: Replay) -> None:
    count = {"count_locator": {"locator": 'locator("#rows tr")', "name": "rows", "output_variable_name": "rows"}}
    nodes = [action("misc_action", count), remember("said", "{rows[0]} rows")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"rows": 10}, {"said": "10 rows"}]


async def test_an_empty_misc_action_is_a_skipped_step_that_does_nothing(replay: Replay) -> None:
    nodes = [action("misc_action", {}), remember("after", "went on")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert [(s.action, s.outcome, s.detail) for s in result.steps] == [
        ("misc_action", "skipped", "empty misc_action: nothing to do"),
        ("set_variable", "success", None),
    ]
    assert json_outputs(result.output_data) == [{"after": "went on"}]


async def test_explicit_sleep_is_a_recorded_step(replay: Replay) -> None:
    nodes = [action("sleep_action", {"sleep_time": 0.05}), remember("after", "slept")]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert [(s.path, s.action, s.outcome) for s in result.steps] == [
        ("nodes[0]", "sleep", "success"),
        ("nodes[1]", "set_variable", "success"),
    ]
    assert json_outputs(result.output_data) == [{"after": "slept"}]


async def test_fail_state_fails_with_its_message_and_is_not_retried(replay: Replay) -> None:
    nodes = [remember("before", "ran"), fail_state("Invoice {who[0]} is locked"), remember("after", "ran")]
    data = automation("table.html", nodes, parameters=inputs(who=["7"]), max_retries=2)
    result = await replay(data)
    assert result.status == "failed"
    assert result.attempts == 1
    assert result.error == "nodes[1] (fail_state): Invoice 7 is locked"
    assert json_outputs(result.output_data) == [{"before": "ran"}]


# ---------------------------------------------------------------------------------------------------------
# assert_locator_node and if_else


def assert_node(command: str, assertion: str, name: str, timeout: float = 0.3) -> dict[str, Any]:
    return {
        "type": "assert_locator_node",
        "locator": command,
        "assertion": assertion,
        "output_variable_name": name,
        "timeout": timeout,
    }


async def test_assert_locator_stores_true_or_false_and_drives_if_else(replay: Replay) -> None:
    nodes = [
        assert_node('locator("#rows")', "to_be_visible", "table_shown"),
        assert_node('locator("#rows")', "to_be_hidden", "table_hidden"),
        assert_node('locator("#no-such-element")', "to_be_hidden", "ghost_hidden"),
        if_else("{table_shown[0]}", [remember("shown", "yes")], [remember("shown", "no")]),
        if_else("table_hidden[0]", [remember("hidden", "yes")], [remember("hidden", "no")]),
        if_else("{ghost_hidden[0]} == True", [remember("ghost", "gone")], []),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"shown": "yes"}, {"hidden": "no"}, {"ghost": "gone"}]
    assert [s.detail for s in result.steps[:3]] == [
        "assertion held",
        "assertion did not hold",
        "assertion held",
    ]
    assert [s.outcome for s in result.steps[:3]] == ["success"] * 3


async def test_if_else_conditions_over_inputs_and_generated_variables(replay: Replay, tmp_path: Path) -> None:
    nodes = [
        if_else('{flag[0]} == "yes"', [remember("by_input", "if")], [remember("by_input", "else")]),
        read_text('locator("#status")', "status"),
        if_else('status[0] == "10 invoices" and {flag[0]} != "no"', [remember("both", "if")], []),
        if_else('"{status[0]}".startswith("9")', [], [remember("quoted", "else")]),
    ]
    yes = await replay(automation("table.html", nodes, parameters=inputs(flag=["yes"])))
    assert yes.status == "success", yes.error
    assert json_outputs(yes.output_data) == [
        {"by_input": "if"},
        {"status": "10 invoices"},
        {"both": "if"},
        {"quoted": "else"},
    ]
    no = await replay(automation("table.html", nodes, parameters=inputs(flag=["no"])), out_dir=tmp_path / "second")
    assert no.status == "success", no.error
    assert json_outputs(no.output_data) == [{"by_input": "else"}, {"status": "10 invoices"}, {"quoted": "else"}]


async def test_if_else_with_an_unknown_name_fails_clearly(replay: Replay) -> None:
    nodes = [if_else('{nowhere[0]} == "x"', [remember("ran", "if")], [remember("ran", "else")])]
    result = await replay(automation("table.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (if_else):")
    assert "unknown name `nowhere`" in result.error
    assert result.output_data == []


# ---------------------------------------------------------------------------------------------------------
# for_loop_node


async def test_loop_over_a_variable_list(replay: Replay) -> None:
    body = [go_to("detail.html?id={ids[index]}"), read_text('locator("#detail-name")', "name")]
    nodes = [loop(body, variable_name="ids")]
    result = await replay(automation("table.html", nodes, parameters=inputs(ids=["3", "5", "8"])))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"name": "Invoice 3"}, {"name": "Invoice 5"}, {"name": "Invoice 8"}]
    (status,) = result.for_loop_status
    assert status == [
        {"variable_name": "ids", "index": i, "value": v, "status": "success", "error": None}
        for i, v in enumerate(["3", "5", "8"])
    ]
    assert [s.iteration for s in result.steps] == [0, 0, 1, 1, 2, 2]
    assert [s.path for s in result.steps[:2]] == ["nodes[0].nodes[0]", "nodes[0].nodes[1]"]


async def test_loop_over_a_comma_list_with_index_of(replay: Replay) -> None:
    nodes = [loop([remember("pair", "{index_of(a)}:{a[index]}-{b[index]}")], variable_name="a, b")]
    result = await replay(automation("table.html", nodes, parameters=inputs(a=["x", "y"], b=["1", "2", "3"])))
    assert result.status == "success", result.error
    # The first name sets the number of iterations.
    assert json_outputs(result.output_data) == [{"pair": "0:x-1"}, {"pair": "1:y-2"}]


async def test_locator_loop_opens_each_detail_page_and_goes_back(replay: Replay) -> None:
    body = [
        click('{locator[index]}.locator("a.detail-link")'),
        read_text('locator("#detail-id")', "id"),
    ]
    nodes = [
        loop(body, locator='locator("#rows tr")', reset_nodes=[go_back()], max_iterations=4),
        read_text('locator("#status")', "last_page"),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [
        {"id": "1"},
        {"id": "2"},
        {"id": "3"},
        {"id": "4"},
        {"last_page": "Showing invoice 4"},  # reset nodes run between iterations, not after the last
    ]
    (status,) = result.for_loop_status
    assert [(s["index"], s["value"], s["status"]) for s in status] == [(i, i, "success") for i in range(4)]
    assert [s.action for s in result.steps if s.path.endswith("reset_nodes[0]")] == ["go_back"] * 3


def open_then_check(on_error: str) -> dict[str, Any]:
    """Open invoice ids[i]; where broken[i] is "yes", then click an element that is not there."""
    body = [
        click('locator("#row-{ids[index]} a.detail-link")'),
        if_else('{broken[index]} == "yes"', [click('locator("#detail-{ids[index]}-missing")', **FAST)], []),
        read_text('locator("#detail-id")', "id"),
    ]
    return loop(body, variable_name="ids, broken", reset_nodes=[go_back()], on_error_in_loop=on_error)


LOOP_INPUTS = inputs(ids=["1", "2", "3"], broken=["no", "yes", "no"])


async def test_loop_error_raise_stops_the_run(replay: Replay) -> None:
    result = await replay(automation("table.html", [open_then_check("raise")], parameters=LOOP_INPUTS))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[0].nodes[1].if_nodes[0] (click_element on locator("#detail-2-missing"))')
    (status,) = result.for_loop_status
    assert statuses(status) == ["success", "error"]
    assert status[1]["error"] == result.error
    assert json_outputs(result.output_data) == [{"id": "1"}]


async def test_loop_error_continue_runs_reset_nodes_and_the_next_items(replay: Replay) -> None:
    result = await replay(automation("table.html", [open_then_check("continue")], parameters=LOOP_INPUTS))
    assert result.status == "success", result.error
    (status,) = result.for_loop_status
    assert statuses(status) == ["success", "error", "success"]
    assert '"#detail-2-missing"' in status[1]["error"]
    assert status[0]["error"] is None and status[2]["error"] is None
    # The failed iteration was left on detail page 2; item 3 opens row 3 of the table, so going back ran.
    assert json_outputs(result.output_data) == [{"id": "1"}, {"id": "3"}]
    resets = [s for s in result.steps if s.path == "nodes[0].reset_nodes[0]"]
    assert [(s.iteration, s.outcome) for s in resets] == [(0, "success"), (1, "success")]


async def test_loop_error_break_skips_the_remaining_items(replay: Replay) -> None:
    result = await replay(automation("table.html", [open_then_check("break")], parameters=LOOP_INPUTS))
    assert result.status == "success", result.error
    (status,) = result.for_loop_status
    assert statuses(status) == ["success", "error", "skipped"]
    assert status[2] == {"variable_name": "ids, broken", "index": 2, "value": "3", "status": "skipped", "error": None}
    assert json_outputs(result.output_data) == [{"id": "1"}]


async def test_nested_loops_with_distinct_index_names(replay: Replay) -> None:
    inner = loop([remember("cell", "{row[i]}{col[j]}:{i}{j}")], variable_name="col", index_variable_name="j")
    nodes = [loop([inner], variable_name="row", index_variable_name="i")]
    result = await replay(automation("table.html", nodes, parameters=inputs(row=["a", "b"], col=["1", "2", "3"])))
    assert result.status == "success", result.error
    assert [o["cell"] for o in json_outputs(result.output_data)] == [
        "a1:00",
        "a2:01",
        "a3:02",
        "b1:10",
        "b2:11",
        "b3:12",
    ]
    outer, first_inner, second_inner = result.for_loop_status
    assert [s["value"] for s in outer] == ["a", "b"]
    assert [s["value"] for s in first_inner] == [s["value"] for s in second_inner] == ["1", "2", "3"]


async def test_default_output_names_inside_a_loop(replay: Replay) -> None:
    # node1 is the loop, node2 the extraction, node3 the assertion: the names hold in every iteration.
    body = [
        read_text('locator("#detail-id")'),
        {"type": "assert_locator_node", "locator": 'locator("#detail-name")', "assertion": "to_be_visible"},
        remember("seen", "{node2_output[0]}={node3_output[0]}"),
        go_to("detail.html?id=9"),
    ]
    result = await replay(
        automation("detail.html?id=4", [loop(body, variable_name="xs")], parameters=inputs(xs=["a", "b"]))
    )
    assert result.status == "success", result.error
    assert [o for o in json_outputs(result.output_data) if "seen" in o] == [{"seen": "4=True"}, {"seen": "9=True"}]


async def test_locator_loop_with_an_invalid_locator_names_the_loop(replay: Replay) -> None:
    result = await replay(
        automation("table.html", [loop([remember("x", "y")], locator='locator("#rows tr").click()')]), unchecked=True
    )
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[0] (for_loop on locator("#rows tr").click()): ')
    assert result.for_loop_status == []


async def test_loop_over_a_missing_variable_fails(replay: Replay) -> None:
    result = await replay(automation("table.html", [loop([remember("x", "y")], variable_name="ghost")]), unchecked=True)
    assert result.status == "failed"
    assert result.error == "nodes[0]: loop variable 'ghost' is not an input or generated variable"


# ---------------------------------------------------------------------------------------------------------
# post_processing_nodes


async def test_post_processing_runs_after_success(replay: Replay) -> None:
    data = automation(
        "table.html",
        [remember("main", "done")],
        post_processing_nodes=[read_text('locator("#status")', "post")],
    )
    result = await replay(data)
    assert result.status == "success", result.error
    assert json_outputs(result.output_data) == [{"main": "done"}, {"post": "10 invoices"}]
    assert result.steps[-1].path == "post_processing_nodes[0]"


async def test_post_processing_runs_after_failure_and_keeps_the_first_error(replay: Replay) -> None:
    data = automation(
        "table.html",
        [click('locator("#no-such-button")', **FAST), remember("main", "never")],
        post_processing_nodes=[go_to("detail.html?id=5"), read_text('locator("#status")', "post")],
    )
    result = await replay(data)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (click_element on ")
    assert json_outputs(result.output_data) == [{"post": "Showing invoice 5"}]
