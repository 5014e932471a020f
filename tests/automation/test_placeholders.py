"""Placeholders: substitution as values, references, loop expansion."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping

import pytest

from rebrowse.automation.placeholders import (
    Json,
    PlaceholderRef,
    expand_loop,
    expand_loop_in,
    references,
    substitute,
)
from rebrowse.errors import PlaceholderError

API_RESULT = {
    "status_code": 200,
    "body": {"id": 7, "items": [{"name": "a"}, {"name": "b"}], "meta": {"x": 1}},
}


class CountingMapping(Mapping[str, object]):
    """A lazy mapping (like the secret resolver) that records which names were looked up."""

    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
        self.looked_up: list[str] = []

    def __getitem__(self, key: str) -> object:
        self.looked_up.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("substitute must not enumerate the values")

    def __len__(self) -> int:
        raise AssertionError("substitute must not count the values")


def test_list_element_is_substituted() -> None:
    assert substitute("Hello {name[0]} and {name[1]}!", {"name": ["Ada", "Bob"]}) == "Hello Ada and Bob!"


def test_non_string_elements_use_str() -> None:
    values = {"n": [3, 2.5, True]}
    assert substitute("{n[0]}/{n[1]}/{n[2]}", values) == "3/2.5/True"


def test_dot_path_into_a_dict_variable() -> None:
    values = {"api_result": API_RESULT}
    assert substitute("id={api_result.body.id}", values) == "id=7"
    assert substitute("{api_result.body.items[1].name}", values) == "b"


def test_dicts_and_lists_are_json_encoded() -> None:
    values = {"api_result": API_RESULT}
    assert substitute("{api_result.body.meta}", values) == '{"x": 1}'
    assert substitute("{api_result.body.items}", values) == '[{"name": "a"}, {"name": "b"}]'


def test_bare_name_is_substituted_when_bound() -> None:
    assert substitute("{api_result}", {"api_result": {"a": 1}}) == '{"a": 1}'
    assert substitute("{word}", {"word": "plain"}) == "plain"


def test_bare_name_that_is_not_bound_stays() -> None:
    assert substitute("function(){return}", {}) == "function(){return}"


@pytest.mark.parametrize("text", ['{"a": 1}', "{ not a placeholder }", "{}", "{index_of(x)}", "{x[index]}", "{1a}"])
def test_text_that_is_not_a_placeholder_stays(text: str) -> None:
    assert substitute(text, {"a": [1], "x": [1]}) == text


def test_unknown_list_name_raises_naming_the_placeholder() -> None:
    with pytest.raises(PlaceholderError, match=r"\{missing\[0\]\}"):
        substitute("x {missing[0]} y", {"name": ["Ada"]})


def test_unknown_dot_path_name_raises() -> None:
    with pytest.raises(PlaceholderError, match=r"\{missing\.body\}"):
        substitute("{missing.body}", {})


def test_index_out_of_range_raises() -> None:
    with pytest.raises(PlaceholderError, match=r"\{name\[2\]\}.*out of range"):
        substitute("{name[2]}", {"name": ["Ada", "Bob"]})


def test_empty_list_raises() -> None:
    with pytest.raises(PlaceholderError, match=r"\{name\[0\]\}"):
        substitute("{name[0]}", {"name": []})


def test_none_element_raises() -> None:
    with pytest.raises(PlaceholderError, match=r"\{name\[0\]\}.*None"):
        substitute("{name[0]}", {"name": [None]})


def test_missing_dict_key_raises() -> None:
    with pytest.raises(PlaceholderError, match="nope"):
        substitute("{api_result.body.nope}", {"api_result": API_RESULT})


def test_index_on_a_dict_raises() -> None:
    with pytest.raises(PlaceholderError, match="list"):
        substitute("{api_result[0]}", {"api_result": API_RESULT})


def test_error_never_contains_the_value() -> None:
    with pytest.raises(PlaceholderError) as caught:
        substitute("{pw[0]} {pw[1]}", {"pw": ["hunter2-secret"]})
    assert "hunter2-secret" not in str(caught.value)


def test_not_strict_leaves_unbound_placeholders() -> None:
    assert substitute("{a[0]} {b[0]}", {"a": ["x"]}, strict=False) == "x {b[0]}"


def test_only_names_in_the_text_are_looked_up_once() -> None:
    values = CountingMapping({"name": ["Ada"], "secret": ["s3cret"], "other": ["o"]})
    text = "{name[0]} {name[0]} {absent[0]} plain"
    assert substitute(text, values, strict=False) == "Ada Ada {absent[0]} plain"
    assert values.looked_up == ["name", "absent"]


def test_substituted_values_are_not_substituted_again() -> None:
    values = {"a": ["{b[0]}"], "b": ["should not appear"]}
    assert substitute("{a[0]}", values) == "{b[0]}"


def test_injection_value_is_plain_text() -> None:
    payload = '") or __import__("os").system("touch /tmp/x") or ("'
    assert substitute('get_by_text("{v[0]}")', {"v": [payload]}) == f'get_by_text("{payload}")'


def test_references_lists_distinct_placeholders_in_order() -> None:
    refs = references('{b[1]} {a.x[0].y} {b[1]} {c} {d[index]} {"k": 1}')
    assert refs == [
        PlaceholderRef("b", (1,)),
        PlaceholderRef("a", ("x", 0, "y")),
        PlaceholderRef("c"),
    ]
    assert [ref.text for ref in refs] == ["{b[1]}", "{a.x[0].y}", "{c}"]


def test_references_lets_a_caller_spot_an_empty_list() -> None:
    values: dict[str, list[object]] = {"name": []}
    refs = references("{name[0]}")
    assert [ref.name for ref in refs if values.get(ref.name) == []] == ["name"]


def test_expand_loop_binds_every_form() -> None:
    text = "{a[i]} {b[i]} {c[i]} {index_of(a)} {index_of(b)} {i} {i[0]} {j}"
    expanded = expand_loop(text, index_name="i", index=2, loop_variables=["a", "b"], locator=None)
    assert expanded == "{a[2]} {b[2]} {c[i]} 2 2 2 {i[0]} {j}"


def test_expand_loop_then_substitute() -> None:
    text = expand_loop("Item {items[idx]} #{idx}", index_name="idx", index=1, loop_variables=["items"], locator=None)
    assert substitute(text, {"items": ["x", "y"]}) == "Item y #1"


def test_expand_locator_loop() -> None:
    text = '{locator[index]}.get_by_role("link")'
    expanded = expand_loop(text, index_name="index", index=3, loop_variables=[], locator='locator("li")')
    assert expanded == 'locator("li").nth(3).get_by_role("link")'


def test_bare_index_is_bound_last() -> None:
    # An index name that is also a prefix of the longer forms must not break them.
    text = "{index} {v[index]} {locator[index]}"
    expanded = expand_loop(text, index_name="index", index=0, loop_variables=["v"], locator='locator("a")')
    assert expanded == '0 {v[0]} locator("a").nth(0)'


def test_nested_loops_with_distinct_index_names() -> None:
    text = "{rows[r]}/{cols[c]}"
    outer = expand_loop(text, index_name="r", index=1, loop_variables=["rows"], locator=None)
    assert outer == "{rows[1]}/{cols[c]}"
    assert expand_loop(outer, index_name="c", index=4, loop_variables=["cols"], locator=None) == "{rows[1]}/{cols[4]}"


def test_expand_loop_in_deep_copies_and_expands_every_string() -> None:
    node: Json = {
        "action": {"input_text": {"input_text": "{v[i]}", "press_enter": True}},
        "list": ["{i}", 3, None, {"{v[i]}": "key"}],
        "num": 1.5,
    }
    before = copy.deepcopy(node)
    expanded = expand_loop_in(node, index_name="i", index=5, loop_variables=["v"], locator=None)
    assert expanded == {
        "action": {"input_text": {"input_text": "{v[5]}", "press_enter": True}},
        "list": ["5", 3, None, {"{v[5]}": "key"}],
        "num": 1.5,
    }
    assert node == before
    assert isinstance(expanded, dict)
    assert isinstance(node, dict)
    assert expanded["list"] is not node["list"]
