"""Replay benchmark: the rebrowse engine against hand-written Playwright on the same three flows.

For each flow in bench/flows/ the engine and the baseline of bench/baselines.py run alternately on one
Chromium against the fixture site (tests/site), each side first in every other pair. Each run is timed
from the creation of its BrowserContext to the end of the flow. The table shows the medians and their
ratio; the target is rebrowse ≤ 1.10 x Playwright. A third side runs the engine as servers do by default, with
REBROWSE_TRACE=on_failure (Playwright tracing on, the trace thrown away after a success): its rows give what that
costs against the untraced engine. The exit status is non-zero when a run fails or the two
sides extract different texts (a missed target is reported, not an error).

Usage: python -m bench.replay [--runs N] [--warmup N] [--flow NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from playwright.async_api import Browser, async_playwright
from rich.console import Console

from bench.baselines import ATTACHMENT_BYTES, BASELINES, INPUTS
from bench.report import Measure, run_alone
from rebrowse.automation.loading import load_automation
from rebrowse.automation.schema import Automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.automation import rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import run_automation
from rebrowse.settings import TraceMode

REPO_ROOT = Path(__file__).resolve().parents[1]
FLOWS_DIR = Path(__file__).parent / "flows"
SITE_ROOT = REPO_ROOT / "tests" / "site"
PLACEHOLDER_ORIGIN = "http://127.0.0.1:0"  # the flows' URLs point here; the real server's URL replaces it
TARGET_RATIO = 1.10

Side = Literal["rebrowse", "traced", "playwright"]
SIDES: tuple[Side, ...] = ("rebrowse", "traced", "playwright")


class RunFailed(Exception):
    """A benchmark run did not complete its flow."""


@dataclass
class FlowMeasurements:
    """Timings and outcomes of one flow's runs."""

    name: str
    seconds: dict[Side, list[float]] = field(default_factory=lambda: {side: [] for side in SIDES})
    outputs: dict[Side, set[tuple[str, ...]]] = field(default_factory=lambda: {side: set() for side in SIDES})
    failures: list[str] = field(default_factory=list)

    def median(self, side: Side) -> float | None:
        """The median time of one side's measured runs, if any succeeded."""
        return statistics.median(self.seconds[side]) if self.seconds[side] else None

    def check_outputs(self) -> None:
        """Every side must have extracted the same texts on every run."""
        found = {side: self.outputs[side] for side in SIDES if self.outputs[side]}
        if len(set().union(*found.values())) > 1:
            by_side = ", ".join(f"{side} {sorted(texts)}" for side, texts in found.items())
            self.failures.append(f"extracted texts differ: {by_side}")


def load_flow(name: str, origin: str) -> Automation:
    """The flow's automation, aimed at the fixture site served at `origin`."""
    data = json.loads((FLOWS_DIR / f"{name}.json").read_text())
    return load_automation(rebase_urls(data, PLACEHOLDER_ORIGIN, origin))


def extracted_texts(output_data: list[dict[str, Any]]) -> tuple[str, ...]:
    """The values of the run's extractions, in order."""
    return tuple(str(value) for entry in output_data for value in (entry.get("json_data") or {}).values())


async def run_engine(
    browser: Browser, name: str, origin: str, upload_dir: Path, trace: TraceMode = "never"
) -> tuple[float, tuple[str, ...]]:
    """One engine run: its own measured duration and what it extracted."""
    automation = load_flow(name, origin)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as out_dir:
        options = RunOptions(out_dir=Path(out_dir), upload_dirs=(upload_dir,), trace=trace)
        result = await run_automation(browser, automation, inputs=INPUTS[name], options=options)
    if result.status != "success":
        raise RunFailed(f"{result.status}: {result.error}")
    return result.duration_s, extracted_texts(result.output_data)


async def run_baseline(browser: Browser, name: str, origin: str) -> tuple[float, tuple[str, ...]]:
    """One baseline run, timed like the engine: from the new context to the end of the flow."""
    started = time.perf_counter()
    context = await browser.new_context()
    try:
        texts = await BASELINES[name](context, origin)
        elapsed = time.perf_counter() - started
    finally:
        await context.close()
    return elapsed, tuple(texts)


async def measure_flow(
    browser: Browser, name: str, origin: str, upload_dir: Path, runs: int, warmup: int
) -> FlowMeasurements:
    """Alternate the sides' runs of one flow, the order rotating every round (so that what one run leaves behind, a
    renderer still closing say, weighs on every side alike); warm-up runs are checked but not timed."""
    measurements = FlowMeasurements(name)
    for number in range(1, warmup + runs + 1):
        shift = number % len(SIDES)
        for side in SIDES[shift:] + SIDES[:shift]:
            try:
                if side == "playwright":
                    seconds, texts = await run_baseline(browser, name, origin)
                else:
                    trace: TraceMode = "on_failure" if side == "traced" else "never"
                    seconds, texts = await run_engine(browser, name, origin, upload_dir, trace)
            except Exception as exc:  # any failure is reported in the summary and fails the benchmark
                measurements.failures.append(f"{side} run {number}: {type(exc).__name__}: {exc}")
                continue
            measurements.outputs[side].add(texts)
            if number > warmup:
                measurements.seconds[side].append(seconds)
    measurements.check_outputs()
    return measurements


def measures(results: list[FlowMeasurements]) -> list[Measure]:
    """Per flow: rebrowse's median against hand-written Playwright's, measured alternately, and what tracing as servers
    do by default costs."""
    return [measure for flow in results for measure in (speed_measure(flow), tracing_measure(flow))]


def speed_measure(flow: FlowMeasurements) -> Measure:
    """The engine's median against the baseline's."""

    engine, baseline = flow.median("rebrowse"), flow.median("playwright")
    ratio = engine / baseline if engine is not None and baseline else None
    return Measure(
        f"replay {flow.name}, median",
        f"ratio ≤ {TARGET_RATIO:.2f}",
        seconds_or_dash(engine),
        "—" if baseline is None else f"Playwright {baseline:.3f} s",
        ratio,
        None if ratio is None else ratio <= TARGET_RATIO,
    )


def tracing_measure(flow: FlowMeasurements) -> Measure:
    """The traced engine's median against the untraced one's (context: no target of its own)."""
    traced, engine = flow.median("traced"), flow.median("rebrowse")
    ratio = traced / engine if traced is not None and engine else None
    baseline = "—" if engine is None else f"untraced {engine:.3f} s"
    name = f"replay {flow.name}, REBROWSE_TRACE=on_failure, median"
    return Measure(name, "—", seconds_or_dash(traced), baseline, ratio)


def seconds_or_dash(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.3f} s"


async def benchmark(flows: list[str], runs: int, warmup: int) -> list[FlowMeasurements]:
    """Serve the fixture site, launch Chromium once and measure every flow."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as uploads, SiteServer(SITE_ROOT) as site:
        upload_dir = Path(uploads)
        (upload_dir / INPUTS["form_upload"]["attachment"][0]).write_bytes(ATTACHMENT_BYTES)
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                for name in flows:
                    results.append(await measure_flow(browser, name, site.url, upload_dir, runs, warmup))
            finally:
                await browser.close()
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="measured runs per side and flow (default 9)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per side first (default 1)")
    parser.add_argument("--flow", action="append", choices=sorted(BASELINES), help="only this flow (repeatable)")
    return parser.parse_args(argv)


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark and return its measures; RunFailed when a run failed or the two sides disagree."""
    args = parse_args(argv)
    console.print("measuring replay speed against hand-written Playwright…", style="dim")
    results = asyncio.run(benchmark(args.flow or list(BASELINES), args.runs, args.warmup))
    failures = [f"{flow.name}: {failure}" for flow in results for failure in flow.failures]
    if failures:
        raise RunFailed("; ".join(failures))
    return measures(results)


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; 1 when something failed (a missed target is reported, not an error)."""
    return run_alone("Replay benchmark: rebrowse against hand-written Playwright", collect, argv, (RunFailed,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
