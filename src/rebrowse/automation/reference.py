"""docs/automation-format.md: the format's reference, generated from its JSON Schema, with worked examples.

Run `python -m rebrowse.automation.reference` after changing a model or an example here; a test fails while the
committed file differs. Every example is a whole automation, which that test also loads.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from rebrowse.automation.json_schema import automation_json_schema

DOC_PATH = Path("docs/automation-format.md")
REGENERATE = "python -m rebrowse.automation.reference"
SITE = "https://portal.example.test"
# Constraints pydantic writes into the schema, as the reference shows them after the type.
BOUNDS = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}


class Example(NamedTuple):
    """A worked example: a heading, a sentence about it, and its nodes (parameters when it uses some)."""

    title: str
    text: str
    nodes: list[dict[str, Any]]
    parameters: dict[str, Any]

    def automation(self) -> dict[str, Any]:
        """The whole automation the example shows."""
        return {"url": f"{SITE}/login", "parameters": self.parameters, "nodes": self.nodes}


def interaction(kind: str, **payload: Any) -> dict[str, Any]:
    return {"type": "action_node", "interaction_action": {kind: payload}}


EXAMPLES = (
    Example(
        "Interactions: type, click, select",
        "Element actions locate with `command`, a Playwright locator call; `{name[0]}` is the first value of a "
        "parameter, and `prompt_instructions` lets a model find the element when the locator does not.",
        [
            interaction("input_text", command='get_by_label("Username")', input_text="{username[0]}"),
            interaction("input_text", command='get_by_label("Password")', input_text="{password[0]}"),
            interaction(
                "click_element", command='get_by_role("button", name="Sign in")', prompt_instructions="Sign in"
            ),
            interaction("select_option", command='get_by_label("Region")', select_values=["EU"]),
        ],
        {
            "input_parameters": {"username": ["ada"]},
            "secure_parameters": {"password": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}]},
        },
    ),
    Example(
        "Navigation and tabs",
        "Go to a URL, wait for a link's new tab, then close it and continue in the first tab.",
        [
            interaction("go_to_url", url=f"{SITE}/reports"),
            {**interaction("click_element", command='get_by_role("link", name="Open report")'), "expect_new_tab": True},
            interaction("close_current_tab"),
            interaction("switch_tab", tab_index=0),
        ],
        {},
    ),
    Example(
        "Extraction",
        "A locator's text becomes the variable `total`; a screenshot and an HTTP call are saved with the run.",
        [
            {
                "type": "action_node",
                "extraction_action": {
                    "locator": {
                        "command": 'get_by_test_id("total")',
                        "output_variable_name": "total",
                        "extraction_format": {"total": "str"},
                    }
                },
            },
            {"type": "action_node", "extraction_action": {"screenshot": {"filename": "summary.png"}}},
            {"type": "action_node", "extraction_action": {"api_call": {"url": f"{SITE}/api/status"}}},
        ],
        {},
    ),
    Example(
        "Loops and conditions",
        "Count the rows; if there are any, click the link of each row: `{locator[row]}` is row `row` (0, 1, ...).",
        [
            {
                "type": "action_node",
                "misc_action": {"count_locator": {"locator": 'locator("table tbody tr")', "name": "rows"}},
            },
            {
                "type": "if_else_node",
                "condition": "rows[0] > 0",
                "if_nodes": [
                    {
                        "type": "for_loop_node",
                        "locator": 'locator("table tbody tr")',
                        "index_variable_name": "row",
                        "nodes": [interaction("click_element", command='{locator[row]}.get_by_role("link")')],
                    }
                ],
                "else_nodes": [{"type": "action_node", "fail_state_action": {"failure_message": "No rows"}}],
            },
        ],
        {},
    ),
    Example(
        "Waits, variables and assertions",
        "An explicit pause, a variable set from an expression, and an assertion node that stores whether a "
        "locator became visible.",
        [
            {"type": "action_node", "sleep_action": {"sleep_time": 1.5}},
            {"type": "action_node", "misc_action": {"set_variable": {"name": "next_page", "expression": "2 + 1"}}},
            {
                "type": "assert_locator_node",
                "locator": 'get_by_text("Saved")',
                "assertion": "to_be_visible",
                "output_variable_name": "saved",
            },
        ],
        {},
    ),
)


# ---------------------------------------------------------------------------------------------------------
# The reference tables, from the JSON Schema


def definition_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def type_text(schema: dict[str, Any]) -> str:
    """A short reading of a property's schema: `list of string`, `"fill" | "type"`, [Locator](#locator)."""
    if "$ref" in schema:
        name = definition_name(schema)
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_text(member) for member in schema[key])
    kind = schema.get("type")
    if kind == "array" and "prefixItems" in schema:
        text = f"[{', '.join(type_text(item) for item in schema['prefixItems'])}]"
    elif kind == "array":
        text = f"list of {grouped(schema['items'])}" if "items" in schema else "list"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict) and schema["additionalProperties"]:
        text = f"object of {grouped(schema['additionalProperties'])}"
    else:
        text = str(kind or "any")
    bounds = [f"{sign} {schema[key]}" for key, sign in BOUNDS.items() if key in schema]
    return " ".join([text, *bounds])


def grouped(schema: dict[str, Any]) -> str:
    """The type of a list's items or an object's values, in parentheses when it is a union."""
    text = type_text(schema)
    return f"({text})" if " | " in text else text


def referenced(schema: object) -> Iterator[str]:
    """The definitions a schema refers to, in document order."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            yield definition_name(schema)
        for key, value in schema.items():
            if key != "discriminator":
                yield from referenced(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from referenced(item)


def definitions_in_order(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The root then every definition, each once, depth first in the order the fields name them."""
    definitions: dict[str, dict[str, Any]] = schema["$defs"]
    seen: dict[str, dict[str, Any]] = {}
    pending: list[tuple[str, dict[str, Any]]] = [("Automation", schema)]
    while pending:
        name, found = pending.pop()
        if name in seen:
            continue
        seen[name] = found
        pending += [(child, definitions[child]) for child in reversed(list(referenced(found.get("properties"))))]
    return list(seen.items())


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def field_rows(definition: dict[str, Any], described: bool) -> Iterator[str]:
    required = set(definition.get("required", []))
    for name, prop in definition["properties"].items():
        columns = [
            f"`{name}`",
            type_text(prop),
            "required" if name in required else f"`{json.dumps(prop.get('default'))}`",
        ]
        if described:
            columns.append(prop.get("description", ""))
        yield "| " + " | ".join(cell(column) for column in columns) + " |"


def definition_section(name: str, definition: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", "", " ".join(definition.get("description", "").split()), ""]
    properties = definition.get("properties")
    if properties:
        # Few fields have a description of their own: the column is there only where one does.
        described = any("description" in prop for prop in properties.values())
        header = "| field | type | default |" + (" about |" if described else "")
        lines += [header, "|---" * header.count(" |") + "|", *field_rows(definition, described), ""]
    else:
        lines += ["No fields: write `{}`.", ""]
    return lines


def example_section(example: Example) -> list[str]:
    body = json.dumps(example.automation(), indent=2, ensure_ascii=False)
    return [f"### {example.title}", "", example.text, "", "```json", body, "```", ""]


INTRO = f"""\
# The automation format

<!-- Generated by `{REGENERATE}` from the models: do not edit by hand. -->

An automation is one JSON object: the `url` it starts on, its `parameters` and its `nodes`, run in order.
Every object is strict: a key that is not listed here is an error (with the nearest field name), so a typo
never passes silently. Text fields may hold placeholders: `{{name[0]}}` is the first value of a parameter or
variable, `{{name}}` a loop's value or index. `rebrowse validate FILE` checks a file and lists every problem
with its JSON path.

Editors: `rebrowse schema -o automation.schema.json` writes the JSON Schema of this format (the API serves it
at `GET /api/v1/schemas/automation.json`); `"$schema": "automation.schema.json"` at the top of a file, or
VS Code's `json.schemas` setting, gives completion and checks as you type. `rebrowse new -o FILE` writes a
starting file.

Fields marked "not supported by rebrowse" are accepted by the schema, so recordings from Optexity open in an
editor, and refused by `rebrowse validate` and the API with the reason.
"""


def render_reference() -> str:
    """The whole of docs/automation-format.md."""
    lines = [INTRO, "## Examples", ""]
    for example in EXAMPLES:
        lines += example_section(example)
    lines += ["## Reference", "", "Every object, from the top of the file down; `required` fields have no default.", ""]
    for name, definition in definitions_in_order(automation_json_schema()):
        lines += definition_section(name, definition)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    """Write docs/automation-format.md (or the path given) from the models."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DOC_PATH
    path.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
