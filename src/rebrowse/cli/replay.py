"""`rebrowse validate`, `rebrowse run` and `rebrowse demo`: replaying automations locally."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright
from rich.markup import escape

from rebrowse.automation.loading import check_run_parameters, load_automation_file, summarize
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.schema import Automation
from rebrowse.automation.sealed import with_secure
from rebrowse.browser.egress import EgressPolicy, running_proxies
from rebrowse.browser.launch import find_chrome, launch_chromium
from rebrowse.cli.common import (
    EXIT_FAILED,
    Params,
    err,
    fail,
    file_problem,
    invalid_input_exits,
    out,
    parse_pairs,
    read_settings,
    read_text_file,
)
from rebrowse.demo.automation import DEMO_AUTOMATION, DEMO_SITE, demo_automation
from rebrowse.demo.site import SiteServer
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.flow import message_of
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, result_json, run_automation
from rebrowse.errors import RebrowseError
from rebrowse.llm.config import HOW_TO_CONFIGURE
from rebrowse.secrets.onepassword import OnePasswordResolver
from rebrowse.secrets.resolver import SecretResolver
from rebrowse.settings import EngineSettings, browser_egress_from_env


def load(file: Path, settings: EngineSettings) -> Automation:
    """The automation in `file`; a file that cannot be read or does not validate exits 2, naming the file."""
    with invalid_input_exits(f"automation {file}"):
        try:
            return load_automation_file(
                file, allow_python_scripts=settings.allow_python_scripts, captcha_by_person=settings.captcha_by_person
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(file_problem(file, exc)) from None


def validate(file: Annotated[Path, typer.Argument(help="Automation JSON file")]) -> None:
    """Check an automation: print every error with its JSON path, or a summary."""
    settings = read_settings()
    summary = summarize(load(file, settings))
    out.print("[green]valid[/]")
    out.print(summary.render(), highlight=False, markup=False)
    if summary.model_steps and not settings.llm.configured:
        count = len(summary.model_steps)
        out.print(f"[yellow]note[/]: {count} step(s) ask a model and none is configured: {HOW_TO_CONFIGURE}")


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    text = read_text_file(path, what)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{what} {path}: not JSON ({exc})") from None
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


OUTCOME_MARKS = {"success": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]↷[/]"}


def print_step(record: StepRecord) -> None:
    mark = OUTCOME_MARKS.get(record.outcome, "·")
    where = escape(record.path) + (f" #{record.iteration}" if record.iteration is not None else "")
    target = f" [dim]{escape(record.locator)}[/]" if record.locator else ""
    action = escape(record.action)
    line = f"{mark} {record.index:>3} {where} [bold]{action}[/]{target} [dim]{record.duration_ms:.0f} ms[/]"
    out.print(line, highlight=False)
    if record.error:
        out.print(f"      [red]{escape(record.error)}[/]", highlight=False)


def print_summary(result: RunResult) -> None:
    colour = {"success": "green", "failed": "red", "killed": "red"}[result.status]
    out.print(
        f"\n[{colour} bold]{result.status}[/] in {result.duration_s:.2f} s "
        f"({result.attempts} attempt{'s' if result.attempts > 1 else ''})"
    )
    if result.error:
        out.print(f"[red]{escape(result.error)}[/]", highlight=False)
    for note in result.notes:
        out.print(f"[yellow]note[/] {escape(note)}", highlight=False)
    if result.output_data:
        out.print("[bold]outputs[/]")
        out.print_json(data=result.output_data, default=str)
    for download in result.downloads:
        out.print(f"[bold]download[/] {escape(download.path)} ({download.size} bytes)")
    if result.final_screenshot:
        out.print(f"[bold]final screenshot[/] {escape(result.final_screenshot)}")
    if (usage := result.llm_usage)["calls"] > 0:
        out.print(llm_usage_line(usage))
    print_healed(result.healed)
    if result.trace:
        out.print(f"[bold]trace[/] {escape(result.trace)} (open it: rebrowse trace {escape(result.out_dir)})")
    out.print(f"[dim]artifacts in {escape(result.out_dir)}[/]")


def print_healed(healed: list[dict[str, str]]) -> None:
    """The steps the model healed, each with the command that replaced its failed one: never a silent fix."""
    if not healed:
        return
    out.print(f"[yellow bold]healed {len(healed)} step(s)[/]: their command failed and the model found the element")
    for step in healed:
        out.print(
            f"  {escape(step['path'])}: {escape(step['failed_command'])} → {escape(step['command'])}"
            f" [dim]({escape(step['error'])})[/]",
            highlight=False,
        )


def llm_usage_line(usage: dict[str, int]) -> str:
    """The run's LLM calls and tokens in one line (LlmUsage's fields)."""
    calls = usage["calls"]
    failed = f", {usage['failed_calls']} failed" if usage["failed_calls"] else ""
    return (
        f"[bold]LLM[/] {calls} call{'s' if calls > 1 else ''}{failed}, "
        f"{usage['input_tokens']} tokens in, {usage['output_tokens']} tokens out"
    )


async def replay(
    automation: Automation,
    inputs: dict[str, list[Any]],
    secure: dict[str, list[SecureParameter]],
    options: RunOptions,
    settings: EngineSettings,
    headed: bool,
    show_steps: bool,
    egress: EgressPolicy | None = None,
) -> RunResult:
    """Launch Chromium, replay once, close Chromium; with `egress`, everything goes through a proxy enforcing it."""
    onepassword = OnePasswordResolver(settings.onepassword_token) if settings.onepassword_token else None
    resolver = SecretResolver(aws_endpoint_url=settings.aws_endpoint_url, onepassword=onepassword)
    async with running_proxies(egress, 1) as proxies, async_playwright() as playwright:
        proxy = proxies[0] if proxies else None
        browser = await launch_chromium(
            playwright,
            executable=settings.chromium,
            headless=not headed,
            proxy=proxy.proxy_url if proxy is not None else None,
        )
        try:
            return await run_automation(
                browser,
                automation,
                options=options,
                inputs=inputs,
                secure=secure,
                secrets=resolver,
                listener=print_step if show_steps else None,
                egress=proxy,
            )
        finally:
            await browser.close()


def finish_replay(replaying: Coroutine[Any, Any, RunResult]) -> RunResult:
    """Run the replay; a browser that cannot start or artifacts that cannot be written exit 1 with the reason."""
    try:
        return asyncio.run(replaying)
    except (RebrowseError, PlaywrightError, OSError) as exc:
        raise fail(message_of(exc), EXIT_FAILED) from None


def exit_for(result: RunResult) -> typer.Exit:
    """Exit code 0 for a successful run, 1 for a failed or killed one."""
    return typer.Exit(0 if result.status == "success" else EXIT_FAILED)


def artifacts_dir(given: Path | None) -> Path:
    """Where the run's artifacts go: --out, or a new directory under ./runs."""
    directory = (given or Path("runs") / time.strftime("%Y%m%d-%H%M%S")).resolve()
    if directory.exists() and not directory.is_dir():
        raise fail(f"--out {given}: exists and is not a directory")
    return directory


def upload_dirs(file: Path, extra: list[Path]) -> tuple[Path, ...]:
    """Directories upload_file may read: the automation's own, the current one and every --upload-dir."""
    for directory in extra:
        if not directory.is_dir():
            raise fail(f"--upload-dir {directory}: not a directory")
    return (file.resolve().parent, Path.cwd(), *(d.resolve() for d in extra))


def run(
    file: Annotated[Path, typer.Argument(help="Automation JSON file")],
    param: Params = [],  # noqa: B006
    params_json: Annotated[Path | None, typer.Option(metavar="FILE", help="JSON file of input parameters")] = None,
    secure_json: Annotated[Path | None, typer.Option(metavar="FILE", help="JSON file of secure parameters")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="DIR", help="Directory for the run's artifacts")
    ] = None,
    upload_dir: Annotated[
        list[Path], typer.Option(metavar="DIR", help="Extra directory upload_file may read (repeatable)")
    ] = [],  # noqa: B006
    timeout_minutes: Annotated[float, typer.Option(metavar="MINUTES", help="Time limit of each attempt")] = 10.0,
    headed: Annotated[bool, typer.Option(help="Show the browser window")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of progress")] = False,
    deny_internal: Annotated[
        bool,
        typer.Option(
            help="Apply the workers' egress policy: no loopback, link-local or this machine's addresses (see "
            "REBROWSE_BROWSER_ALLOW_HOSTS, REBROWSE_BROWSER_DENY_PRIVATE)"
        ),
    ] = False,
    healing: Annotated[
        bool | None,
        typer.Option(
            "--healing/--no-healing",
            help="Whether a step whose command fails falls back to the model (default: REBROWSE_HEALING, on)",
            show_default=False,
        ),
    ] = None,
    save_cached: Annotated[
        Path | None,
        typer.Option(
            metavar="OUT.json",
            help="Write the cached automation to OUT.json: the automation with every element the model located "
            "given its deterministic command, and every agentic_task written out as the actions it took, so it "
            "replays without a model. Only a successful run writes it; a run that asked the model nothing a replay "
            "needs says so and writes nothing (the exit code is the run's: 0 or 1)",
        ),
    ] = None,
) -> None:
    """Replay an automation on Chromium and report its outputs."""
    settings = read_settings()
    egress = egress_policy() if deny_internal else None
    if save_cached is not None:
        check_writable(save_cached)
    automation = load(file, settings)
    with invalid_input_exits("parameters"):
        inputs = gather_inputs(param, params_json)
        secure = gather_secure(secure_json)
        check_run_parameters(automation, inputs, secure)
    options = RunOptions(
        out_dir=artifacts_dir(out_dir),
        timeout_minutes=timeout_minutes,
        screenshots=settings.screenshots,
        trace=settings.trace,
        upload_dirs=upload_dirs(file, upload_dir),
        allow_python_scripts=settings.allow_python_scripts,
        llm=settings.llm,
        healing=settings.healing if healing is None else healing,
        chrome=find_chrome(settings.chrome),
    )
    result = finish_replay(replay(automation, inputs, secure, options, settings, headed, not as_json, egress))
    if as_json:
        sys.stdout.write(result_json(result) + "\n")
    else:
        print_summary(result)
    if save_cached is not None:
        write_cached(result, automation, save_cached)
    raise exit_for(result)


def check_writable(target: Path) -> None:
    """Refuse, before the run, a --save-cached path that cannot be written (the run's learning would be lost)."""
    if target.is_dir() or not target.parent.is_dir():
        raise fail(f"--save-cached {target}: not a file in an existing directory")


def write_cached(result: RunResult, automation: Automation, target: Path) -> None:
    """Write the run's cached automation to `target` with the automation's own secure parameters (the run's copy
    has them sealed), or say on stderr why there is none."""
    if result.status != "success":
        err.print(f"[yellow]--save-cached[/]: the run {result.status}: nothing written to {escape(str(target))}")
    elif result.cached_automation is None:
        err.print(
            "[yellow]--save-cached[/]: the run asked the model nothing a replay needs (no element located, no "
            f"agentic_task): nothing written to {escape(str(target))}"
        )
    else:
        cached = json.loads(Path(result.cached_automation).read_text())
        secure = automation.model_dump(mode="json", exclude_unset=True)["parameters"].get("secure_parameters", {})
        try:
            target.write_text(json.dumps(with_secure(cached, secure), indent=2) + "\n")
        except OSError as exc:
            raise fail(f"--save-cached {file_problem(target, exc)}", EXIT_FAILED) from None
        err.print(f"[green]cached automation[/] written to {escape(str(target))}: it replays without a model")


def egress_policy() -> EgressPolicy:
    """The egress policy of REBROWSE_BROWSER_ALLOW_HOSTS and REBROWSE_BROWSER_DENY_PRIVATE."""
    with invalid_input_exits("settings"):
        allow_hosts, deny_private = browser_egress_from_env()
    return EgressPolicy.from_settings(allow_hosts, deny_private)


def demo(headed: Annotated[bool, typer.Option(help="Show the browser window")] = False) -> None:
    """Serve the bundled demo site on 127.0.0.1 and replay the bundled demo automation against it."""
    settings = read_settings()
    with SiteServer(DEMO_SITE) as site:
        out.print(f"[bold]demo site[/] {site.url}/login.html")
        with invalid_input_exits("demo automation"):
            automation = demo_automation(site.url)
        out.print(f"[bold]replaying[/] {escape(str(DEMO_AUTOMATION))}\n")
        options = RunOptions(out_dir=artifacts_dir(None), screenshots=settings.screenshots)
        result = finish_replay(replay(automation, {}, {}, options, settings, headed, True))
    print_summary(result)
    raise exit_for(result)
