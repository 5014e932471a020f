"""Cached automation benchmark: a flow learned once with the model, then replayed from its cached automation.

For each flow (the demo portal's sign-in and search, and the fixture site's login/search and form/upload flows of
bench/flows/) three versions run on one Chromium:
  (a) the hand-written automation, as it is;
  (b) the same automation with its element steps' commands removed, so the model locates every element; the
      model is a scripted pydantic-ai FunctionModel that answers the snapshot reference of the element each goal
      names (no network); this run, done once, leaves the cached automation;
  (c) that cached automation, replayed with no model configured.
(a) and (c) run alternately, each first in every other pair, and are timed by the engine (context to last step).
The table gives (c)'s median against (a)'s (target ≤ 1.10), the LLM calls all (c) runs made (must be 0) and the
share of the commands (b) generated that find their element by role, label, placeholder or text (target ≥ 90%).
The exit status is non-zero when a run fails or (c) extracts other texts than (a).

Usage: python -m bench.cached [--runs N] [--flow NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from rich.console import Console
from tests.llm_server import snapshot_ref

from bench.baselines import ATTACHMENT_BYTES, INPUTS
from bench.replay import FLOWS_DIR, PLACEHOLDER_ORIGIN, SITE_ROOT, TARGET_RATIO, RunFailed, extracted_texts
from bench.report import Measure, run_alone
from rebrowse.automation.loading import load_automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.automation import DEMO_AUTOMATION, DEMO_SITE, RECORDED_ORIGIN, rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.engine.locators import is_semantic
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.llm.config import LlmConfig

SEMANTIC_TARGET = 0.90
GOAL = re.compile(r"^Goal: (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Flow:
    """A flow: its automation file, the origin its URLs are written for, its site, and for each element goal
    (prompt_instructions, placeholders filled in) the role and name of the element the scripted model picks."""

    file: Path
    origin: str
    site: Path
    elements: dict[str, tuple[str, str]]

    def automation(self) -> dict[str, Any]:
        """The flow's JSON without its state extractions: their session cookies differ from run to run."""
        data: dict[str, Any] = json.loads(self.file.read_text())
        data["nodes"] = [node for node in data["nodes"] if "state" not in node.get("extraction_action", {})]
        return data


FLOWS: dict[str, Flow] = {
    "demo_portal": Flow(
        DEMO_AUTOMATION,
        RECORDED_ORIGIN,
        DEMO_SITE,
        {
            "Type the username into the Username field": ("textbox", "Username"),
            "Type the password into the Password field": ("textbox", "Password"),
            "Click the Sign in button": ("button", "Sign in"),
            "Search the records for invoice": ("searchbox", "Search records"),
        },
    ),
    "login_search": Flow(
        FLOWS_DIR / "login_search.json",
        PLACEHOLDER_ORIGIN,
        SITE_ROOT,
        {
            "Type the username": ("textbox", "Username"),
            "Type the password": ("textbox", "Password"),
            "Click Sign in": ("button", "Sign in"),
            "Open the search page": ("link", "Search"),
            "Search for invoice": ("searchbox", "Search"),
        },
    ),
    "form_upload": Flow(
        FLOWS_DIR / "form_upload.json",
        PLACEHOLDER_ORIGIN,
        SITE_ROOT,
        {
            "Type the full name": ("textbox", "Full name"),
            "Type the email address": ("textbox", "Email"),
            "Choose the region West Europe": ("combobox", "Region"),
            "Tick the newsletter box": ("checkbox", "Subscribe to the newsletter"),
            "Choose the Pro plan": ("radio", "Pro"),
            "Attach the file": ("button", "Attachment"),
            "Type the notes": ("textbox", "Notes"),
            "Submit the form": ("button", "Submit"),
        },
    ),
}


@dataclass
class FlowFigures:
    """One flow's timings, the LLM calls of its cached replays and the commands its learning run generated."""

    name: str
    seconds: dict[str, list[float]] = field(default_factory=lambda: {"hand-written": [], "cached": []})
    cached_calls: int = 0
    commands: list[str] = field(default_factory=list)


def model_located(data: dict[str, Any], goals: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The automation with the commands of the element steps the scripted model knows removed."""
    for node in data["nodes"]:
        for action in node.get("interaction_action", {}).values():
            if isinstance(action, dict) and any(goal_matches(action.get("prompt_instructions"), g) for g in goals):
                action.pop("command", None)
    return data


def goal_matches(written: object, goal: str) -> bool:
    """Whether a step's prompt_instructions (placeholders unfilled) is the goal."""
    if not isinstance(written, str):
        return False
    pattern = re.escape(written)
    return re.fullmatch(re.sub(r"\\\{[^}]*\\\}", ".*", pattern), goal) is not None


def scripted_model(goals: dict[str, tuple[str, str]]) -> FunctionModel:
    """The model: the reference of the element the goal of the question names, read from its snapshot."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        first = messages[0]
        assert isinstance(first, ModelRequest)
        prompt = next(str(part.content) for part in first.parts if isinstance(part, UserPromptPart))
        found = GOAL.search(prompt)
        role, name = goals[found[1].strip()] if found else ("", "")
        args = {"ref": snapshot_ref(prompt, role, name), "reason": "the element the goal names"}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(answer)


async def run_once(
    browser: Browser, data: dict[str, Any], name: str, upload_dir: Path, llm: LlmConfig
) -> tuple[RunResult, dict[str, Any] | None]:
    """One run of automation JSON, and the cached automation it left; RunFailed unless it succeeds."""
    with tempfile.TemporaryDirectory(prefix=f"bench-cached-{name}-") as out_dir:
        options = RunOptions(out_dir=Path(out_dir), upload_dirs=(upload_dir,), llm=llm)
        result = await run_automation(browser, load_automation(data), inputs=INPUTS.get(name), options=options)
        if result.status != "success":
            raise RunFailed(f"{name}: {result.status}: {result.error}")
        # Read before the run's directory goes.
        cached = json.loads(Path(result.cached_automation).read_text()) if result.cached_automation else None
    return result, cached


async def measure_flow(browser: Browser, name: str, origin: str, upload_dir: Path, runs: int) -> FlowFigures:
    """Learn the flow once with the model, then alternate hand-written and cached runs (one warm-up each)."""
    flow = FLOWS[name]
    hand_written = rebase_urls(flow.automation(), flow.origin, origin)
    located = rebase_urls(model_located(flow.automation(), flow.elements), flow.origin, origin)
    learning, cached = await run_once(
        browser, located, name, upload_dir, LlmConfig(model=scripted_model(flow.elements))
    )
    if cached is None:
        raise RunFailed(f"{name}: the learning run left no cached automation")
    figures = FlowFigures(name, commands=[str(s.learned["command"]) for s in learning.steps if s.learned])
    versions: dict[str, dict[str, Any]] = {"hand-written": hand_written, "cached": cached}
    texts: dict[str, set[tuple[str, ...]]] = {"hand-written": set(), "cached": set()}
    for number in range(runs + 1):
        order = ("hand-written", "cached") if number % 2 else ("cached", "hand-written")
        for version in order:
            result, _ = await run_once(browser, versions[version], name, upload_dir, LlmConfig())
            texts[version].add(extracted_texts(result.output_data))
            if version == "cached":
                figures.cached_calls += result.llm_usage["calls"]
            if number > 0:
                figures.seconds[version].append(result.duration_s)
    if texts["cached"] != texts["hand-written"] or len(texts["cached"]) != 1:
        raise RunFailed(f"{name}: cached runs extracted {texts['cached']}, hand-written ones {texts['hand-written']}")
    return figures


def measures(results: list[FlowFigures]) -> list[Measure]:
    """Per flow the cached replay against the hand-written one; then the LLM calls and the share of semantic
    commands over all flows."""
    rows = []
    for flow in results:
        cached, hand = statistics.median(flow.seconds["cached"]), statistics.median(flow.seconds["hand-written"])
        ratio = cached / hand
        rows.append(
            Measure(
                f"cached replay {flow.name}, median",
                f"ratio ≤ {TARGET_RATIO:.2f}",
                f"{cached:.3f} s",
                f"hand-written {hand:.3f} s",
                ratio,
                ratio <= TARGET_RATIO,
            )
        )
    calls = sum(flow.cached_calls for flow in results)
    replays = sum(len(flow.seconds["cached"]) + 1 for flow in results)
    rows.append(Measure(f"LLM calls in {replays} cached replays", "0", str(calls), met=calls == 0))
    commands = [command for flow in results for command in flow.commands]
    semantic = sum(map(is_semantic, commands)) / len(commands) if commands else 0.0
    rows.append(
        Measure(
            "generated commands by role, label or text",
            f"≥ {SEMANTIC_TARGET:.0%}",
            f"{semantic:.0%} ({sum(map(is_semantic, commands))} of {len(commands)})",
            met=semantic >= SEMANTIC_TARGET,
        )
    )
    return rows


async def benchmark(names: list[str], runs: int) -> list[FlowFigures]:
    """Serve the sites, launch Chromium once and measure every flow."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as uploads:
        upload_dir = Path(uploads)
        (upload_dir / INPUTS["form_upload"]["attachment"][0]).write_bytes(ATTACHMENT_BYTES)
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                for name in names:
                    with SiteServer(FLOWS[name].site) as site:
                        results.append(await measure_flow(browser, name, site.url, upload_dir, runs))
            finally:
                await browser.close()
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="measured runs per version and flow (default 7)")
    parser.add_argument("--flow", action="append", choices=sorted(FLOWS), help="only this flow (repeatable)")
    return parser.parse_args(argv)


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark and return its measures; RunFailed when a run failed or the versions disagree."""
    args = parse_args(argv)
    console.print("measuring cached automations against hand-written ones…", style="dim")
    return measures(asyncio.run(benchmark(args.flow or list(FLOWS), args.runs)))


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; 1 when something failed (a missed target is reported, not an error)."""
    return run_alone("Cached automations: learned once with the model, replayed without", collect, argv, (RunFailed,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
