"""The safe expression evaluator: values bound as values, no code reachable from an expression."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rebrowse.automation.expressions import MAX_EXPRESSION_LENGTH, check_expression, evaluate, evaluate_condition
from rebrowse.errors import ExpressionInvalid, PlaceholderError

NAMES: dict[str, object] = {
    "flag": ["yes"],
    "count": ["5"],
    "numbers": [1, 2, 3],
    "name": ["Ada"],
    "last": ["Lovelace"],
    "empty": [],
    "api_result": {"status_code": 200, "body": {"status": "done", "items": [{"id": 1}], "keys": "k"}},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("2 ** 10", 1024),
        ("-3 + abs(-4)", 1),
        ("10 / 4", 2.5),
        ("int(count[0]) + 1", 6),
        ("float(count[0]) / 2", 2.5),
        ("round(2.567, 1)", 2.6),
        ("'a' * 3", "aaa"),
        ("'a' + 'b'", "ab"),
        ("numbers[-1]", 3),
        ("numbers[0:2]", [1, 2]),
        ("len(numbers)", 3),
        ("sum(numbers)", 6),
        ("min(numbers) + max(numbers)", 4),
        ("sorted([3, 1, 2], reverse=True)", [3, 2, 1]),
        ("any([False, True]) and all([1, 2])", True),
        ("str(5) + 'x'", "5x"),
        ("bool('')", False),
        ("{'a': 1}['a']", 1),
        ("(1, 2)[1]", 2),
        ("'yes' if flag[0] == 'yes' else 'no'", "yes"),
        ("name[0].lower().startswith('a')", True),
        ("' x '.strip().upper()", "X"),
        ("'a,b'.split(',')", ["a", "b"]),
        ("api_result.body.get('status')", "done"),
        ("len(api_result.body.items)", 1),
    ],
)
def test_values(expression: str, expected: object) -> None:
    assert evaluate(expression, NAMES) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("numbers[0] < numbers[1] <= 2", True),
        ("count[0] != '5'", False),
        ("3 in numbers", True),
        ("9 not in numbers", True),
        ("'Ad' in name[0]", True),
        ("not empty", True),
        ("flag and empty", False),
        ("api_result.status_code == 200", True),
        ("api_result.body.status is not None", True),
    ],
)
def test_conditions(expression: str, expected: bool) -> None:
    assert evaluate_condition(expression, NAMES) is expected


def test_dict_attribute_falls_back_to_item_access() -> None:
    assert evaluate("api_result.body.status", NAMES) == "done"
    assert evaluate("api_result.body.items[0].id", NAMES) == 1


def test_dict_keys_win_over_dict_methods() -> None:
    # A JSON body with a key named like a dict method must give the key's value.
    assert evaluate("api_result.body.keys", NAMES) == "k"


def test_dict_views_become_lists_a_variable_can_hold() -> None:
    api = {"status": "done", "count": 2}
    assert evaluate("api.items()", {"api": api}) == [["status", "done"], ["count", 2]]
    assert evaluate("api.keys()", {"api": api}) == ["status", "count"]
    assert evaluate("sorted(api.values(), key=str)", {"api": api}) == [2, "done"]
    assert evaluate("(1, {2})", {}) == [1, [2]]


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("api.items", "gives a builtin_function_or_method, which is not a value a variable can hold"),
        ('float("nan")', "gives nan, which is not a number"),
        ('float("inf") * 2', "gives inf, which is not a number"),
        ("{(1, 2): 3}", "gives an object with a tuple as a key"),
    ],
)
def test_results_no_variable_can_hold_are_clear_errors(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionInvalid, match=f"expression `{re.escape(expression)}` {re.escape(reason)}"):
        evaluate(expression, {"api": {"a": 1}})


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("api.items(", "is not valid"),
        ("x" * (MAX_EXPRESSION_LENGTH + 1), "longer than"),
        ("+".join(["1"] * 500), "too complex"),
    ],
)
def test_an_expression_that_can_never_run_is_told_before_any_value(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionInvalid, match=reason):
        check_expression(expression)
    check_expression("{flag[0]} == 'yes' and api.items()")  # placeholders and unknown names are fine until it runs


def test_braces_of_bound_placeholders_are_stripped() -> None:
    assert evaluate_condition('{flag[0]} == "yes"', NAMES) is True
    assert evaluate_condition('{api_result.body.status} == "done"', NAMES) is True
    assert evaluate("{numbers[1]} + {numbers[2]}", NAMES) == 5
    assert evaluate("{api_result}['status_code']", NAMES) == 200


def test_braces_of_unbound_names_are_not_stripped() -> None:
    with pytest.raises(ExpressionInvalid, match="`ghost`"):
        evaluate('{ghost[0]} == "yes"', NAMES)


def test_placeholders_inside_string_literals_become_their_values() -> None:
    assert evaluate("'{name[0]} {last[0]}'", NAMES) == "Ada Lovelace"
    assert evaluate("'{name[0]}'.upper()", NAMES) == "ADA"
    assert evaluate("'{api_result.body.status}' == 'done'", NAMES) is True
    assert evaluate("'{unknown[0]}'", NAMES) == "{unknown[0]}"


def test_placeholder_out_of_range_in_a_literal_is_an_error() -> None:
    with pytest.raises(PlaceholderError, match=r"\{name\[5\]\}"):
        evaluate("'{name[5]}'", NAMES)


def test_unknown_names_are_named() -> None:
    with pytest.raises(ExpressionInvalid, match="unknown name `missing`"):
        evaluate("missing + 1", NAMES)


def test_errors_carry_the_expression_and_reason() -> None:
    with pytest.raises(ExpressionInvalid, match=r"`1 / 0`.*ZeroDivisionError"):
        evaluate("1 / 0", NAMES)
    with pytest.raises(ExpressionInvalid, match=r"`numbers\[9\]`.*IndexError"):
        evaluate("numbers[9]", NAMES)
    with pytest.raises(ExpressionInvalid, match="no attribute or key `nope`"):
        evaluate("api_result.body.nope", NAMES)
    with pytest.raises(ExpressionInvalid, match="not valid"):
        evaluate("1 +", NAMES)


@pytest.mark.parametrize(
    "expression",
    [
        '__import__("os").system("id")',
        "import os",
        "().__class__",
        "().__class__.__bases__[0].__subclasses__()",
        "numbers.__class__",
        "name[0].__class__.__mro__",
        "api_result.__dict__",
        "len.__self__",
        "open('/etc/passwd')",
        "eval('1')",
        "exec('1')",
        "getattr(numbers, 'append')",
        "type(1)",
        "globals()",
        "str.lower('A')",
        "numbers.append(4)",
        "api_result.pop('status_code')",
        "api_result.update({})",
        "name[0].format()",
        "'{0.__class__}'.format(1)",
        "'x'.join(['a', 'b'])",
        "' '.center(10 ** 9)",
        "'%999999999d' % 1",
        "9 ** 999999",
        "(2 ** 4096) ** 2",
        "round(5, -10 ** 9)",
        "'a' * 10 ** 9",
        "numbers * 1000000",
        "[[1]] * 3",
        "sum([[1]], [])",
        "sum(['a', 'b'])",
        "[c for c in 'abc']",
        "(c for c in 'abc')",
        "{k: 1 for k in 'ab'}",
        "f'{numbers}'",
        "lambda: 1",
        "(lambda: 1)()",
        "(x := 1)",
        "1; 2",
        "print(1)",
        "list(numbers)",
        "dict(a=1)",
    ],
)
def test_dangerous_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ExpressionInvalid):
        evaluate(expression, NAMES)


def test_length_is_bounded() -> None:
    with pytest.raises(ExpressionInvalid, match="longer"):
        evaluate("1" + " + 1" * MAX_EXPRESSION_LENGTH, NAMES)
    with pytest.raises(ExpressionInvalid, match="complex"):
        evaluate(" + ".join(["numbers[0]"] * 150), NAMES)


def test_bound_variables_are_never_mutated() -> None:
    names: dict[str, object] = {"items": [1, 2], "result": {"a": 1}}
    for expression in (
        "items.append(3)",
        "items.clear()",
        "result.pop('a')",
        "result.clear()",
        "items.sort()",
    ):
        with pytest.raises(ExpressionInvalid):
            evaluate(expression, names)
    assert names == {"items": [1, 2], "result": {"a": 1}}


def test_injection_values_bound_as_values_are_inert(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f'") or __import__("os").system("touch {marker}") or ("'
    names: dict[str, object] = {"value": [payload], "api_result": {"body": {"status": payload}}}

    assert evaluate_condition('{value[0]} == "done"', names) is False
    assert evaluate("{value[0]}", names) == payload
    assert evaluate("'{value[0]}'", names) == payload
    assert evaluate("api_result.body.status.upper()", names) == payload.upper()
    assert not marker.exists()
