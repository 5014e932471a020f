"""Replays an automation: attempts in fresh browser contexts, the time limit, post-processing, results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from playwright.async_api import Browser, BrowserContext, Dialog
from playwright.async_api import Error as PlaywrightError

from rebrowse.artifacts.layout import FINAL_SCREENSHOT, RESULT, trace_name
from rebrowse.automation.parameters import ParameterValue, SecureParameter
from rebrowse.automation.schema import Automation
from rebrowse.browser.egress import EgressDenied, EgressProxy
from rebrowse.engine.artifacts import ArtifactWriter, DownloadRecord, StepRecord
from rebrowse.engine.cached import save_cached
from rebrowse.engine.channels import Channel, channel_for
from rebrowse.engine.contexts import BrowserContexts, ContextSource, ContextSpec, context_spec, first_page
from rebrowse.engine.egress import navigate
from rebrowse.engine.flow import SCREENSHOT_TIMEOUT_MS, message_of, run_nodes
from rebrowse.engine.healing import healed_steps
from rebrowse.engine.misc import FailState
from rebrowse.engine.navigation import check_web_url
from rebrowse.engine.options import RunOptions
from rebrowse.engine.sessions import BrowserState, capture, restore
from rebrowse.engine.state import RunState, StepListener
from rebrowse.engine.waits import ACTIVITY_TRACKER
from rebrowse.errors import StepFailed
from rebrowse.llm.client import Llm
from rebrowse.messages.models import Inbox
from rebrowse.secrets.resolver import SecretResolver

Status = Literal["success", "failed", "killed"]


# os_emulation presents a desktop Chrome of that operating system, as Optexity does.
@dataclass
class RunResult:
    """How a run ended and what it produced (secrets already redacted)."""

    status: Status
    error: str | None
    output_data: list[dict[str, Any]]
    for_loop_status: list[list[dict[str, Any]]]
    downloads: list[DownloadRecord]
    final_screenshot: str | None
    steps: list[StepRecord]
    duration_s: float
    attempts: int
    out_dir: str
    llm_usage: dict[str, int]  # what the run's LLM calls cost in all, every attempt's (LlmUsage)
    browser: str = "chromium"  # what the run ran on: chromium, or chrome (browser_channel chrome, Chrome installed)
    notes: list[str] = field(default_factory=list)  # how the run differed from what the automation asks for
    # The steps whose failed command the model replaced: path, failed_command, error, command (engine/healing.py)
    healed: list[dict[str, str]] = field(default_factory=list)
    # cached_automation.json: the automation with what the model decided written in (a successful run's, when the
    # model located elements or did an agentic task), replayable without a model
    cached_automation: str | None = None
    # The browser state the run left (keep_session and a success only): cookies and storage, so never written
    # with the result, never logged; the worker seals it.
    browser_state: BrowserState | None = field(default=None, repr=False)
    # The last attempt's Playwright trace (trace_attempt<N>.zip), when REBROWSE_TRACE kept it
    trace: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON data (without the browser state it kept)."""
        data = asdict(self)
        del data["browser_state"]
        return data


@dataclass
class Attempt:
    """One attempt's outcome, and when its time limit ends (event-loop time)."""

    state: RunState
    status: Status
    error: str | None
    deadline: float
    retryable: bool = True


def merged_parameters(
    declared: Mapping[str, Sequence[Any]], given: Mapping[str, Sequence[Any]] | None
) -> dict[str, list[Any]]:
    """The automation's own parameter values, replaced by the ones given for this run."""
    return {**{k: list(v) for k, v in declared.items()}, **{k: list(v) for k, v in (given or {}).items()}}


async def run_automation(
    browser: Browser | ContextSource,
    automation: Automation,
    *,
    options: RunOptions,
    inputs: Mapping[str, Sequence[ParameterValue]] | None = None,
    secure: Mapping[str, Sequence[SecureParameter]] | None = None,
    secrets: SecretResolver | None = None,
    listener: StepListener | None = None,
    on_attempt: Callable[[int], Awaitable[None]] | None = None,
    egress: EgressProxy | None = None,
    inbox: Inbox | None = None,
    session: BrowserState | None = None,
    keep_session: bool = False,
) -> RunResult:
    """Replay `automation` in fresh contexts of `browser` (or from a context source such as a worker slot), with
    `automation.max_retries` extra attempts.

    `on_attempt(n)` is awaited before attempt n (1-based) starts, so a worker can record its progress. With
    `egress`, every context goes through that proxy, and what it denies fails steps or is listed on them.
    `inbox` is where two_fa_action steps wait for their messages.
    Every attempt's context starts from `session` (a warm session's state) when given; with `keep_session`, a
    successful run's result carries the state its context ended with.
    """
    resolver = secrets or SecretResolver()
    writer = ArtifactWriter(options.out_dir, resolver.redactor)
    params = automation.parameters
    run_inputs = merged_parameters(params.input_parameters, inputs)
    run_secure = merged_parameters(params.secure_parameters, secure)
    started = time.perf_counter()
    given = BrowserContexts(browser) if isinstance(browser, Browser) else browser
    proxy = egress.proxy_url if egress is not None else None
    total = automation.max_retries + 1
    llm = Llm(options.llm)
    async with channel_for(automation, given, options, proxy) as channel:
        spec = context_spec(automation, options, proxy)
        # A browser of the run's own is headless: its windows are on no display to place them on.
        spec = replace(spec, window=None) if channel.own_browser else spec
        for number in range(1, total + 1):
            if on_attempt is not None:
                await on_attempt(number)
            context = await new_context(channel.contexts, spec, options)
            if egress is not None:
                egress.take_denials()  # those of an earlier run or attempt are not this attempt's
            try:
                if session is not None:
                    await restore(context, session)
                state = RunState(
                    context,
                    await first_page(context),
                    run_inputs,
                    run_secure,
                    resolver,
                    writer,
                    options,
                    number,
                    listener,
                    egress,
                    llm,
                    inbox,
                )
                attempt = await run_attempt(state, automation)
                if attempt.status == "success" or number == total or not attempt.retryable:
                    return await finish(state, automation, attempt, started, number, channel, keep_session)
                await close_context(state, discard_downloads=True, failed=True)
            finally:
                # A cancelled run (or an unexpected error) must not leave the context open in a long-lived browser.
                await context.close()
            await asyncio.sleep(options.retry_backoff_s * 2 ** (number - 1))
    raise AssertionError("unreachable: the last attempt always finishes the run")


async def new_context(contexts: ContextSource, spec: ContextSpec, options: RunOptions) -> BrowserContext:
    """A fresh context: nothing shared with other runs, the activity tracker in every page, its dialogs accepted."""
    context = await contexts.new_run_context(spec)
    await context.add_init_script(ACTIVITY_TRACKER)
    context.on("dialog", accept_dialog)
    if options.trace != "never":
        # DOM snapshots (each action's before and after, what the trace viewer shows), console and network; not the
        # screencast filmstrip: it cost every traced run about 15% more (bench.replay), while the step records have
        # their own screenshots.
        await context.tracing.start(screenshots=False, snapshots=True)
    return context


async def accept_dialog(dialog: Dialog) -> None:
    """Accept an alert, confirm or prompt (with an empty answer) as Optexity does, whatever enable_browser_alerts says:
    a dialog left open would block its page."""
    with contextlib.suppress(PlaywrightError):  # the page closed it (or closed) first
        await dialog.accept()


def time_limit(options: RunOptions) -> str:
    return f"time limit of {options.timeout_minutes:g} minute(s)"


async def run_attempt(state: RunState, automation: Automation) -> Attempt:
    """Open the start URL and run the nodes within the attempt's time limit."""
    deadline = asyncio.get_running_loop().time() + state.options.timeout_minutes * 60
    try:
        async with asyncio.timeout_at(deadline):
            await open_start_url(state, automation.url)
            await run_nodes(state, automation.nodes, "nodes")
    except TimeoutError:
        return Attempt(state, "killed", f"the attempt exceeded its {time_limit(state.options)}", deadline)
    except FailState as exc:
        return Attempt(state, "failed", str(exc), deadline, retryable=False)
    except StepFailed as exc:
        return Attempt(state, "failed", str(exc), deadline)
    return Attempt(state, "success", None, deadline)


async def open_start_url(state: RunState, url: str) -> None:
    """Load the automation's start URL; a failed load (or one the egress policy denies) fails the attempt."""
    check_web_url(url, "the automation's url")
    try:
        await navigate(state, state.page, url, state.options.navigation_timeout_s)
    except EgressDenied as exc:
        raise StepFailed(f"the automation's url: {exc}") from None
    except PlaywrightError as exc:
        raise StepFailed(f"could not open {url}: {message_of(exc)}") from None


async def post_process(state: RunState, automation: Automation, attempt: Attempt) -> tuple[Status, str | None]:
    """Run the post-processing nodes in what is left of the attempt's time; the attempt's error stays first.

    A killed attempt has no time left, so they do not run after it (in Optexity the kill ends the worker).
    """
    try:
        async with asyncio.timeout_at(attempt.deadline):
            await run_nodes(state, automation.post_processing_nodes, "post_processing_nodes")
    except TimeoutError:
        message = f"post_processing_nodes exceeded the attempt's {time_limit(state.options)}"
        return ("killed", message) if attempt.error is None else (attempt.status, attempt.error)
    except StepFailed as exc:
        return "failed", attempt.error or str(exc)
    return attempt.status, attempt.error


async def finish(
    state: RunState,
    automation: Automation,
    attempt: Attempt,
    started: float,
    attempts: int,
    channel: Channel,
    keep_session: bool = False,
) -> RunResult:
    """Post-processing, final screenshot, the state to keep (a success's), artifacts; then close the context."""
    status, error = attempt.status, attempt.error
    if automation.post_processing_nodes and status != "killed":
        status, error = await post_process(state, automation, attempt)
    duration = time.perf_counter() - started
    final_screenshot = await take_final_screenshot(state) if automation.take_final_screenshot else None
    kept = await capture(state.context) if keep_session and status == "success" else None
    trace = await close_context(state, discard_downloads=False, failed=status != "success")
    redact = state.secrets.redactor
    notes = [channel.note] if channel.note else []
    cached = save_cached(state, automation, notes) if status == "success" else None
    result = RunResult(
        status=status,
        error=redact.redact_text(error) if error else None,
        output_data=redact.redact(outputs_without_images(state.output_data)),
        for_loop_status=redact.redact(state.for_loop_status),
        downloads=[replace(d, metadata=redact.redact(d.metadata)) for d in state.downloads],
        final_screenshot=final_screenshot,
        steps=state.steps,
        duration_s=round(duration, 4),
        attempts=attempts,
        out_dir=str(state.writer.out_dir),
        llm_usage=state.llm.usage.to_json(),
        browser=channel.browser,
        notes=notes,
        healed=healed_steps(state.steps),
        cached_automation=cached,
        browser_state=kept,
        trace=trace,
    )
    write_result(state.writer, result)
    return result


def outputs_without_images(output_data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs with screenshots referenced by file name instead of inlined as base64."""
    cleaned = []
    for entry in output_data:
        shot = entry.get("screenshot")
        cleaned.append({**entry, "screenshot": {"filename": shot["filename"]}} if shot else entry)
    return cleaned


async def take_final_screenshot(state: RunState) -> str | None:
    """A full-page screenshot of where the run ended; None when the page can no longer be captured."""
    path = state.writer.out_dir / FINAL_SCREENSHOT
    try:
        await state.page.screenshot(
            path=path, full_page=True, timeout=SCREENSHOT_TIMEOUT_MS, mask=state.screenshot_mask()
        )
    except PlaywrightError:
        return None
    return str(path)


async def close_context(state: RunState, *, discard_downloads: bool, failed: bool) -> str | None:
    """Close the attempt's context, saving its trace when REBROWSE_TRACE keeps it (the path, or None); a retried
    attempt's downloads are thrown away."""
    trace = await stop_trace(state, failed)
    await state.context.close()
    if discard_downloads:
        for download in state.downloads:
            Path(download.path).unlink(missing_ok=True)
    return trace


async def stop_trace(state: RunState, failed: bool) -> str | None:
    """Stop the attempt's tracing: written to trace_attempt<N>.zip when the mode keeps it, else thrown away."""
    mode = state.options.trace
    if mode == "never":
        return None
    if mode == "always" or failed:
        path = state.writer.out_dir / trace_name(state.attempt)
        await state.context.tracing.stop(path=path)
        return str(path)
    await state.context.tracing.stop()
    return None


def write_result(writer: ArtifactWriter, result: RunResult) -> None:
    """Write the run's result files."""
    data = result.to_json()
    writer.write_json(RESULT, {k: v for k, v in data.items() if k != "steps"})
    writer.write_json("output_data.json", data["output_data"])
    writer.write_json("for_loop_status.json", data["for_loop_status"])
    writer.write_json("downloads.json", data["downloads"])


def result_json(result: RunResult) -> str:
    """The result as the one JSON object `rebrowse run --json` prints."""
    return json.dumps(result.to_json(), default=str)
