"""`rebrowse schema`, `rebrowse new`, `rebrowse import` and `rebrowse record`: writing automations, by hand, from a
Playwright script, or by doing the task once in a browser."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright
from rich.markup import escape

from rebrowse.automation.json_schema import automation_schema_text
from rebrowse.automation.loading import load_automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.cli.common import (
    EXIT_INVALID,
    err,
    fail,
    file_problem,
    invalid_input_exits,
    out,
    read_settings,
    read_text_file,
)
from rebrowse.errors import RebrowseError, first_line
from rebrowse.recorder.importing import ScriptUntranslatable, import_script, parse_parameter
from rebrowse.recorder.recording import RecordingInvalid, Step, describe_step
from rebrowse.recorder.session import RecordingSession

SCHEMA_FILE = "automation.schema.json"  # what `rebrowse new` points `$schema` at, beside the new file

OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write to this file instead of stdout")
]


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
        raise fail(file_problem(target, exc)) from None


def schema(output: OutputOption = None) -> None:
    """Print the JSON Schema of the automation format (for editors: completion and checks as you type)."""
    text = automation_schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(file_problem(output, exc)) from None
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
    output: Annotated[
        Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write the automation JSON here")
    ] = None,
    param: Annotated[
        list[str],
        typer.Option(
            "--param",
            metavar="NAME=LITERAL",
            help="The literal, where typed, selected, uploaded or expected, becomes {name[0]}",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Translate a Playwright script (never running it) into an automation; every untranslatable line is an error."""
    try:
        parameters = [parse_parameter(pair) for pair in param]
        source = read_text_file(script)
    except ValueError as exc:
        raise fail(str(exc)) from None
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
        raise fail(file_problem(output, exc)) from None
    pairs = " ".join(f"-p {shlex.quote(f'{p.name}={p.literal}')}" for p in parameters)
    out.print(f"wrote {output} ({len(data['nodes'])} nodes)", highlight=False, markup=False)
    out.print(f"run it: rebrowse run {shlex.quote(str(output))} {pairs}".rstrip(), highlight=False, markup=False)


# ---------------------------------------------------------------------------------------------------------
# rebrowse record

NO_DISPLAY = (
    "recording needs a screen to show the browser on: set DISPLAY (e.g. DISPLAY=:0), or run under a virtual one"
    " with `xvfb-run rebrowse record URL`"
)
SECRETS_FILE = "secrets.json"


def start_url(url: str) -> str:
    """The URL to record from; a clear error for anything a browser would not open as a web page."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"URL {url!r} is not an http:// or https:// address of a site")
    return url


def default_output(url: str) -> Path:
    """`example.com.json` for https://example.com/...: named from the site."""
    return Path(f"{urlsplit(url).hostname}.json")


class StepPrinter:
    """Prints each step once it is complete: a later one began (or the recording stopped), and for typed text, the
    field is known to be a password field or not."""

    def __init__(self) -> None:
        self.printed = 0

    def changed(self, steps: list[Step]) -> None:
        self.flush(steps[:-1])

    def flush(self, steps: list[Step]) -> None:
        for step in steps[self.printed :]:
            if step.kind == "fill" and step.secret is None:
                return  # printed once its field is checked: masked or not
            self.printed += 1
            out.print(f"  {self.printed:>3}. {describe_step(step)}", highlight=False, markup=False)


async def record_until_closed(url: str, executable: str | None, printer: StepPrinter) -> tuple[dict[str, Any], int]:
    """Record in a headed Chromium until its window closes or Ctrl+C; the draft automation and its step count."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    display = os.environ["DISPLAY"]
    async with async_playwright() as playwright:
        try:
            browser = await launch_chromium(playwright, executable=executable, headless=False, display=display)
        except PlaywrightError as exc:
            raise fail(f"Chromium could not open a window on DISPLAY={display}: {first_line(exc)}") from None
        browser.on("disconnected", lambda _: stopped.set())
        context = await browser.new_context(no_viewport=True)
        context.on("close", lambda _: stopped.set())
        session = await RecordingSession.start(context, on_change=printer.changed)

        def closed(_: object) -> None:
            if not context.pages:
                stopped.set()  # the last window closed

        context.on("page", lambda page: page.on("close", closed))
        page = await context.new_page()
        page.on("close", closed)
        try:
            await page.goto(url)
        except PlaywrightError as exc:
            await browser.close()
            raise fail(f"cannot open {url}: {first_line(exc)}") from None
        out.print("recording: do the task in the browser; close its window or press Ctrl+C to stop", highlight=False)
        await stopped.wait()
        try:
            return await session.stop(url), len(session.steps)
        finally:
            printer.flush(session.steps)
            if browser.is_connected():
                await browser.close()


def run_line(output: Path, data: dict[str, Any]) -> str:
    """The command that runs the recording with the values typed while recording (each can be changed)."""
    words = ["rebrowse", "run", shlex.quote(str(output))]
    for name, values in data["parameters"]["input_parameters"].items():
        words += [f"-p {shlex.quote(f'{name}={value}')}" for value in values]
    if data["parameters"].get("secure_parameters"):
        words.append(f"--secure-json {SECRETS_FILE}")
    return " ".join(words)


def record(
    url: Annotated[str, typer.Argument(help="The page to start from (http:// or https://)")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write the automation here (default: SITE.json)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the output file if it exists")] = False,
) -> None:
    """Record an automation by doing the task once in a headed Chromium: every step is printed as it is recorded."""
    start_url(url)
    target = output or default_output(url)
    if target.exists() and not force:
        raise fail(f"{target} already exists: choose another name with -o, or pass --force to overwrite it")
    if not os.environ.get("DISPLAY"):
        raise fail(NO_DISPLAY)
    settings = read_settings()
    printer = StepPrinter()
    try:
        data, count = asyncio.run(record_until_closed(url, settings.chromium, printer))
    except RecordingInvalid as exc:
        for problem in exc.errors:
            err.print(f"recording error: {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except RebrowseError as exc:
        raise fail(str(exc)) from None
    with invalid_input_exits("recording"):
        load_automation(data)
    document = json.dumps(data, indent=2) + "\n"
    if force:
        try:
            target.write_text(document, encoding="utf-8")
        except OSError as exc:
            raise fail(file_problem(target, exc)) from None
    else:
        write_new(target, document)
    out.print(f"wrote {target} ({len(data['nodes'])} nodes from {count} recorded steps)", highlight=False)
    if data["parameters"].get("secure_parameters"):
        names = ", ".join(data["parameters"]["secure_parameters"])
        out.print(
            f"secure parameters ({names}) have no value stored: put where each is kept in {SECRETS_FILE}"
            ' (name -> [{"onepassword": ...}] or [{"amazon_secrets_manager": ...}])',
            highlight=False,
            markup=False,
        )
    out.print(f"run it: {run_line(target, data)}", highlight=False, markup=False)
