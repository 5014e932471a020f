"""The `rebrowse` command line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from playwright.async_api import async_playwright
from rich.console import Console

from rebrowse.automation.loading import check_run_parameters, load_automation_file, summarize
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.schema import Automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.automation import DEMO_AUTOMATION, DEMO_SITE, demo_automation
from rebrowse.demo.site import SiteServer
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.errors import AutomationInvalid, RebrowseError
from rebrowse.secrets.onepassword import OnePasswordResolver
from rebrowse.secrets.resolver import SecretResolver
from rebrowse.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Replay recorded browser automations.")
out = Console()
err = Console(stderr=True)

EXIT_FAILED = 1
EXIT_INVALID = 2
OUTCOME_MARKS = {"success": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]↷[/]"}


def fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    """Print a message for a person and return the Exit to raise."""
    err.print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def invalid_input_exits() -> Iterator[None]:
    """Turn invalid automations and parameters into a list of errors and exit code 2."""
    try:
        yield
    except AutomationInvalid as exc:
        err.print("[red]invalid:[/]")
        for problem in exc.errors:
            err.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except ValueError as exc:
        raise fail(str(exc)) from None


def read_settings() -> Settings:
    with invalid_input_exits():
        return Settings.from_env()


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Automation JSON file")]) -> None:
    """Check an automation: print every error with its JSON path, or a summary."""
    settings = read_settings()
    with invalid_input_exits():
        automation = load_automation_file(file, allow_python_scripts=settings.allow_python_scripts)
    summary = summarize(automation)
    out.print("[green]valid[/]")
    out.print(summary.render(), highlight=False)


def parse_pairs(pairs: list[str]) -> dict[str, list[str]]:
    """`name=value` pairs; a name given twice collects both values in order."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"-p expects name=value, got {pair!r}")
        values.setdefault(name.strip(), []).append(value)
    return values


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path}: expected a JSON object of name -> list of values")
    return data


def as_lists(data: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: v if isinstance(v, list) else [v] for k, v in data.items()}


def gather_inputs(pairs: list[str], params_json: Path | None) -> dict[str, list[Any]]:
    inputs = as_lists(read_json_file(params_json, "--params-json")) if params_json else {}
    inputs.update(parse_pairs(pairs))
    return inputs


def gather_secure(secure_json: Path | None) -> dict[str, list[SecureParameter]]:
    if secure_json is None:
        return {}
    raw = as_lists(read_json_file(secure_json, "--secure-json"))
    try:
        return {k: [SecureParameter.model_validate(v) for v in values] for k, values in raw.items()}
    except ValueError as exc:
        raise ValueError(f"--secure-json: {exc}") from None


def print_step(record: StepRecord) -> None:
    mark = OUTCOME_MARKS.get(record.outcome, "·")
    where = f"{record.path}" + (f" #{record.iteration}" if record.iteration is not None else "")
    target = f" [dim]{record.locator}[/]" if record.locator else ""
    line = f"{mark} {record.index:>3} {where} [bold]{record.action}[/]{target} [dim]{record.duration_ms:.0f} ms[/]"
    out.print(line, highlight=False)
    if record.error:
        out.print(f"      [red]{record.error}[/]", highlight=False)


def print_summary(result: RunResult) -> None:
    colour = {"success": "green", "failed": "red", "killed": "red"}[result.status]
    out.print(
        f"\n[{colour} bold]{result.status}[/] in {result.duration_s:.2f} s "
        f"({result.attempts} attempt{'s' if result.attempts > 1 else ''})"
    )
    if result.error:
        out.print(f"[red]{result.error}[/]", highlight=False)
    if result.output_data:
        out.print("[bold]outputs[/]")
        out.print_json(data=result.output_data)
    for download in result.downloads:
        out.print(f"[bold]download[/] {download.path} ({download.size} bytes)")
    if result.final_screenshot:
        out.print(f"[bold]final screenshot[/] {result.final_screenshot}")
    out.print(f"[dim]artifacts in {result.out_dir}[/]")


async def replay(
    automation: Automation,
    inputs: dict[str, list[Any]],
    secure: dict[str, list[SecureParameter]],
    options: RunOptions,
    settings: Settings,
    headed: bool,
    show_steps: bool,
) -> RunResult:
    """Launch Chromium, replay once, close Chromium."""
    onepassword = OnePasswordResolver(settings.onepassword_token) if settings.onepassword_token else None
    resolver = SecretResolver(aws_endpoint_url=settings.aws_endpoint_url, onepassword=onepassword)
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright, executable=settings.chromium, headless=not headed)
        try:
            return await run_automation(
                browser,
                automation,
                options=options,
                inputs=inputs,
                secure=secure,
                secrets=resolver,
                listener=print_step if show_steps else None,
            )
        finally:
            await browser.close()


def default_out_dir() -> Path:
    return Path("runs") / time.strftime("%Y%m%d-%H%M%S")


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Automation JSON file")],
    param: Annotated[list[str], typer.Option("-p", "--param", help="Input parameter name=value (repeatable)")] = [],  # noqa: B006
    params_json: Annotated[Path | None, typer.Option(help="JSON file of input parameters")] = None,
    secure_json: Annotated[Path | None, typer.Option(help="JSON file of secure parameters")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Directory for the run's artifacts")] = None,
    upload_dir: Annotated[list[Path], typer.Option(help="Extra directory upload_file may read (repeatable)")] = [],  # noqa: B006
    timeout_minutes: Annotated[float, typer.Option(help="Time limit of each attempt")] = 10.0,
    headed: Annotated[bool, typer.Option(help="Show the browser window")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of progress")] = False,
) -> None:
    """Replay an automation on Chromium and report its outputs."""
    settings = read_settings()
    with invalid_input_exits():
        automation = load_automation_file(file, allow_python_scripts=settings.allow_python_scripts)
        inputs = gather_inputs(param, params_json)
        secure = gather_secure(secure_json)
        check_run_parameters(automation, inputs, secure)
    options = RunOptions(
        out_dir=(out_dir or default_out_dir()).resolve(),
        timeout_minutes=timeout_minutes,
        screenshots=settings.screenshots,
        trace=settings.trace,
        upload_dirs=(file.resolve().parent, Path.cwd(), *(d.resolve() for d in upload_dir)),
        allow_python_scripts=settings.allow_python_scripts,
    )
    try:
        result = asyncio.run(replay(automation, inputs, secure, options, settings, headed, not as_json))
    except RebrowseError as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), default=str) + "\n")
    else:
        print_summary(result)
    raise typer.Exit(0 if result.status == "success" else EXIT_FAILED)


@app.command()
def demo(headed: Annotated[bool, typer.Option(help="Show the browser window")] = False) -> None:
    """Serve the bundled demo site on 127.0.0.1 and replay the bundled demo automation against it."""
    settings = read_settings()
    with SiteServer(DEMO_SITE) as site:
        out.print(f"[bold]demo site[/] {site.url}/login.html")
        with invalid_input_exits():
            automation = demo_automation(site.url)
        out.print(f"[bold]replaying[/] {DEMO_AUTOMATION}\n")
        options = RunOptions(out_dir=default_out_dir().resolve(), screenshots=settings.screenshots)
        result = asyncio.run(replay(automation, {}, {}, options, settings, headed, True))
    print_summary(result)
    raise typer.Exit(0 if result.status == "success" else EXIT_FAILED)
