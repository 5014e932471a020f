"""The JSON Schema and docs/automation-format.md, both generated from the models, agree with load_automation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rebrowse.automation.json_schema import DIALECT, automation_json_schema
from rebrowse.automation.loading import load_automation
from rebrowse.automation.reference import DOC_PATH, EXAMPLES, REGENERATE, Example, render_reference
from rebrowse.errors import AutomationInvalid

ROOT = Path(__file__).resolve().parents[2]
AUTOMATION_FILES = sorted(
    path
    for folder in ("tests", "docs/examples", "src/rebrowse/demo")
    for path in (ROOT / folder).rglob("*.json")
    if {"url", "nodes"} <= set(json.loads(path.read_text()))
)
SMALL: dict[str, Any] = {
    "url": "https://example.test/",
    "parameters": {},
    "nodes": [{"type": "action_node", "sleep_action": {"sleep_time": 1}}],
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = automation_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator: jsonschema.Draft202012Validator, data: object) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(data)]


def test_the_schema_names_its_dialect_and_forbids_unknown_keys_everywhere() -> None:
    schema = automation_json_schema()
    assert schema["$schema"] == DIALECT and schema["$id"] and schema["title"] == "rebrowse automation"
    objects = [schema, *schema["$defs"].values()]
    assert all(definition.get("additionalProperties") is False for definition in objects)


def test_the_schema_carries_docstrings_and_defaults_even_from_factories() -> None:
    loop = automation_json_schema()["$defs"]["ForLoopNode"]
    assert loop["description"].startswith("Run `nodes` once per value")
    assert loop["properties"]["index_variable_name"]["default"] == "index"
    assert loop["properties"]["reset_nodes"]["default"] == []
    assert loop["required"] == ["nodes"]


def test_automation_files_are_found() -> None:
    assert {path.name for path in AUTOMATION_FILES} >= {"automation.json", "stock_search_legacy.json"}


@pytest.mark.parametrize("path", AUTOMATION_FILES, ids=lambda path: path.name)
def test_every_automation_file_loads_and_validates_against_the_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    data = json.loads(path.read_text())
    load_automation(data, allow_python_scripts=True)
    assert schema_errors(validator, data) == []


def test_untyped_legacy_nodes_validate_like_typed_ones(validator: jsonschema.Draft202012Validator) -> None:
    legacy = copy.deepcopy(SMALL)
    del legacy["nodes"][0]["type"]
    legacy["nodes"].append({"condition": "1 > 0", "if_nodes": [{"sleep_action": {"sleep_time": 0}}]})
    load_automation(legacy)
    assert schema_errors(validator, legacy) == []


def test_a_schema_key_for_editors_is_accepted_and_ignored(validator: jsonschema.Draft202012Validator) -> None:
    pointed = {"$schema": "automation.schema.json", **SMALL}
    automation = load_automation(pointed)
    assert "$schema" not in automation.model_dump(by_alias=True) and "schema_url" not in automation.model_dump()
    assert schema_errors(validator, pointed) == []


INVALID = {
    "an unknown top-level key": {**SMALL, "retries": 3},
    "no url": {key: value for key, value in SMALL.items() if key != "url"},
    "an unknown node type": {**SMALL, "nodes": [{"type": "loop_node", "nodes": []}]},
    "a wrong field type": {**SMALL, "nodes": [{"type": "action_node", "sleep_action": {"sleep_time": "soon"}}]},
    "an unknown action key": {**SMALL, "nodes": [{"interaction_action": {"clik_element": {"command": "x"}}}]},
}


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_invalid_automations_are_rejected_by_both(
    data: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    assert schema_errors(validator, data)
    with pytest.raises(AutomationInvalid):
        load_automation(data)


def test_the_committed_reference_is_generated_from_the_models() -> None:
    committed = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    assert committed == render_reference(), f"{DOC_PATH} is out of date: run `{REGENERATE}` from the repository root"


def test_the_reference_lists_every_object_and_field_of_the_schema() -> None:
    reference = render_reference()
    for name, definition in automation_json_schema()["$defs"].items():
        assert f"\n### {name}\n" in reference
        for field in definition.get("properties", {}):
            assert f"| `{field}` |" in reference, (name, field)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.title)
def test_every_example_of_the_reference_loads_and_validates(
    example: Example, validator: jsonschema.Draft202012Validator
) -> None:
    automation = load_automation(example.automation())
    assert automation.nodes
    assert schema_errors(validator, example.automation()) == []
    assert json.dumps(example.automation(), indent=2) in render_reference()
