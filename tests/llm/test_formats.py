"""Extraction formats: type strings read by our grammar (never evaluated), models and schemas, load-time errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rebrowse.automation.formats import FormatError, format_problems, parse_type
from rebrowse.automation.loading import load_automation
from rebrowse.errors import AutomationInvalid
from rebrowse.llm.formats import format_model, requested_model


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("str", str),
        ("int", int),
        ("float", float),
        ("bool", bool),
        ("List[str]", list[str]),
        ("list[int]", list[int]),
        ("typing.List[float]", list[float]),
        ("Optional[str]", str | None),
        ("str | None", str | None),
        ("Union[int, str]", int | str),
        ("Dict[str, List[int]]", dict[str, list[int]]),
        (" List [ Optional[bool] ] ", list[bool | None]),
    ],
)
def test_type_strings_become_python_types(text: str, expected: Any) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("money", "'money'"),
        ("List[str", "ends early"),
        ("List[str]]", "unexpected ']'"),
        ("__import__('os').system('x')", "unexpected '('"),
        ("Dict[int, str]", "keys must be str"),
        ("", "empty type"),
        ("Optional[str, int]", "not understood"),
    ],
)
def test_unreadable_type_strings_are_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(FormatError) as exc:
        parse_type(text)
    assert fragment in str(exc.value)


def test_a_format_becomes_a_model_whose_fields_keep_their_keys_and_may_be_null() -> None:
    model = format_model({"title": "str", "unit price": "float", "items": [{"name": "str", "qty": "int"}]})
    answer = model.model_validate({"title": "Desk", "items": [{"name": "leg", "qty": 4}]})
    assert answer.data() == {"title": "Desk", "unit price": None, "items": [{"name": "leg", "qty": 4}]}
    schema = model.model_json_schema()
    assert set(schema["properties"]) == {"title", "unit price", "items"}


def test_an_answer_off_the_format_does_not_validate() -> None:
    model = format_model({"qty": "int", "extra": {"ok": "bool"}})
    with pytest.raises(ValidationError):
        model.model_validate({"qty": "many"})
    with pytest.raises(ValidationError):
        model.model_validate({"qty": 1, "unknown": 2})
    with pytest.raises(ValidationError):
        model.model_validate({"extra": {"ok": "perhaps"}})


def test_format_problems_name_the_json_path() -> None:
    fmt = {"a": "str", "b": {"c": "decimal"}, "d": [{"e": "List[money]"}], "f": 3, "g": ["str", "int"]}
    paths = [path for path, _ in format_problems(fmt, "fmt")]
    assert paths == ["fmt.b.c", "fmt.d[0].e", "fmt.f", "fmt.g"]


def llm_node(fmt: dict[str, Any]) -> dict[str, Any]:
    payload = {"llm": {"extraction_format": fmt, "extraction_instructions": "read it"}}
    return {"type": "action_node", "extraction_action": payload}


def test_a_bad_format_is_refused_at_load_with_its_path() -> None:
    data = {
        "url": "http://example.test",
        "parameters": {},
        "nodes": [
            llm_node({"price": "str"}),
            llm_node({"price": "currency"}),
            {
                "type": "action_node",
                "misc_action": {"llm_query": {"output_format": {"n": "List[in]"}, "prompt_instructions": "count"}},
            },
        ],
    }
    with pytest.raises(AutomationInvalid) as exc:
        load_automation(data)
    assert [error.path for error in exc.value.errors] == [
        "nodes[1].extraction_action.llm.extraction_format.price",
        "nodes[2].misc_action.llm_query.output_format.n",
    ]
    assert "'currency'" in exc.value.errors[0].message


def test_a_locator_format_is_checked_only_when_it_has_an_llm_fallback() -> None:
    def locator(**fields: Any) -> dict[str, Any]:
        payload = {"command": "locator('#p')", "output_variable_name": "p", "extraction_format": {"p": "text"}}
        return {"type": "action_node", "extraction_action": {"locator": {**payload, **fields}}}

    base = {"url": "http://example.test", "parameters": {}}
    load_automation({**base, "nodes": [locator()]})
    with pytest.raises(AutomationInvalid) as exc:
        load_automation({**base, "nodes": [locator(extraction_instructions="the price")]})
    (error,) = exc.value.errors
    assert error.path == "nodes[0].extraction_action.locator.extraction_format.p"
    assert "'text' is not understood" in error.message


@pytest.mark.parametrize(
    ("name", "provider", "expected"),
    [
        (None, "openai", None),
        ("gpt-4.1-mini", None, "gpt-4.1-mini"),
        ("gemini-2.5-flash", "gemini", "gemini/gemini-2.5-flash"),
        ("gemini/gemini-2.5-flash", "openai", "gemini/gemini-2.5-flash"),
        ("anthropic:claude-sonnet-4-5", "openai", "anthropic:claude-sonnet-4-5"),
    ],
)
def test_model_name_and_provider_make_one_name(name: str | None, provider: str | None, expected: str | None) -> None:
    assert requested_model(name, provider) == expected
