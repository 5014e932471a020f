"""`rebrowse schema`, `rebrowse new` and `rebrowse import`: writing automations, by hand or from a Playwright script."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rebrowse.automation.json_schema import automation_schema_text
from rebrowse.cli.common import EXIT_INVALID, err, fail, out
from rebrowse.recorder.importing import ScriptUntranslatable, import_script, parse_parameter

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


def import_(
    script: Annotated[Path, typer.Argument(help="Playwright Python script (codegen's python or python-async output)")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the automation JSON here")] = None,
    param: Annotated[
        list[str],
        typer.Option(
            "--param", help="name=literal: the literal, where typed, selected, uploaded or expected, becomes {name[0]}"
        ),
    ] = [],  # noqa: B006
) -> None:
    """Translate a Playwright script (never running it) into an automation; every untranslatable line is an error."""
    try:
        parameters = [parse_parameter(pair) for pair in param]
        source = script.read_text(encoding="utf-8")
    except ValueError as exc:
        raise fail(f"{script}: not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)) from None
    except OSError as exc:
        raise fail(f"{script}: {exc.strerror or exc}") from None
    try:
        data = import_script(source, script.name, parameters)
    except ScriptUntranslatable as exc:
        for problem in exc.errors:
            err.print(f"import error: {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    document = json.dumps(data, indent=2) + "\n"
    if output is None:
        out.print(document, end="", highlight=False, markup=False)
        return
    try:
        output.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}") from None
    pairs = " ".join(f"-p {shlex.quote(f'{p.name}={p.literal}')}" for p in parameters)
    out.print(f"wrote {output} ({len(data['nodes'])} nodes)", highlight=False, markup=False)
    out.print(f"run it: rebrowse run {shlex.quote(str(output))} {pairs}".rstrip(), highlight=False, markup=False)
