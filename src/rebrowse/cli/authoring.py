"""`rebrowse import`: a Playwright Python script turned into an automation."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from rebrowse.cli.common import EXIT_INVALID, err, fail, out
from rebrowse.recorder.importing import ScriptUntranslatable, import_script, parse_parameter


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
