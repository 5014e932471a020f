"""`rebrowse schema` and `rebrowse new`: what an editor needs to write automations."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rebrowse.automation.json_schema import automation_schema_text
from rebrowse.cli.common import err, fail

SCHEMA_FILE = "automation.schema.json"  # what `rebrowse new` points `$schema` at, beside the new file

OutputOption = Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file instead of stdout")]


def starter_automation() -> dict[str, Any]:
    """A small automation that validates: a search with a parameter, a click and a text read back."""

    def interaction(kind: str, **payload: str | bool) -> dict[str, Any]:
        return {"type": "action_node", "interaction_action": {kind: payload}}

    return {
        "$schema": SCHEMA_FILE,
        "url": "https://example.com/",
        "automation_description": "Search for a term and read the first result's title",
        "parameters": {"input_parameters": {"query": ["rebrowse"]}},
        "nodes": [
            interaction(
                "input_text",
                command='get_by_role("searchbox")',
                input_text="{query[0]}",
                press_enter=True,
                prompt_instructions="Type the search term into the search box",
            ),
            interaction(
                "click_element",
                command='get_by_role("link").first',
                prompt_instructions="Open the first result",
            ),
            {
                "type": "action_node",
                "extraction_action": {
                    "locator": {
                        "command": 'get_by_role("heading", level=1)',
                        "output_variable_name": "title",
                        "extraction_format": {"title": "str"},
                    }
                },
            },
        ],
    }


def write_new(target: Path, text: str) -> None:
    """Create `target` with `text`; an existing file is never overwritten."""
    try:
        with target.open("x", encoding="utf-8") as created:
            created.write(text)
    except FileExistsError:
        raise fail(f"{target} already exists: choose another name or remove it first") from None
    except OSError as exc:
        raise fail(f"{target}: {exc.strerror or exc}") from None


def schema(output: OutputOption = None) -> None:
    """Print the JSON Schema of the automation format (for editors: completion and checks as you type)."""
    text = automation_schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}") from None
    err.print(f"[green]schema[/] written to {escape(str(output))}")


def new(output: OutputOption = None) -> None:
    """Start an automation: print a small valid one, or write it to a new file with the schema beside it."""
    text = json.dumps(starter_automation(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    write_new(output, text)
    beside = output.parent / SCHEMA_FILE
    if not beside.exists():
        write_new(beside, automation_schema_text())
    err.print(
        f"[green]wrote[/] {escape(str(output))} (its $schema is {escape(str(beside))}): "
        f"edit it, then `rebrowse validate {escape(str(output))}`"
    )
