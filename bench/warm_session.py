"""Warm session benchmark: the login_search flow of bench/flows/, made login-checking, run twice for one login.

The flow opens the fixture site's dashboard, reads whether it is signed in, signs in only when it is not (the
three login steps of login_search.json, after opening the login page), then searches and reads the results as
login_search does. Each pair of runs is one login: the first run starts from a fresh context and keeps its state
(as a task with reuse_session does), the second starts from that state and skips the login. Both are timed from
the call that opens the context to the end of the run (the state's capture included). The table gives the median
second run against the median first run (target ≤ 0.50). The exit status is non-zero when a run fails, the second
run signs in again, or the two extract different texts.

Usage: python -m bench.warm_session [--pairs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from rich.console import Console

from bench.baselines import INPUTS
from bench.replay import FLOWS_DIR, PLACEHOLDER_ORIGIN, SITE_ROOT, RunFailed, extracted_texts
from bench.report import Measure, run_alone
from rebrowse.automation.loading import load_automation
from rebrowse.automation.schema import Automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.automation import rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.engine.sessions import BrowserState

TARGET_RATIO = 0.50
LOGIN_STEPS = 3  # login_search.json begins with: username, password, Sign in


def login_checking(origin: str) -> Automation:
    """login_search.json, starting at the dashboard and signing in only when the dashboard says it is not."""
    data: dict[str, Any] = json.loads((FLOWS_DIR / "login_search.json").read_text())
    sign_in = [
        {"type": "action_node", "interaction_action": {"go_to_url": {"url": f"{PLACEHOLDER_ORIGIN}/login.html"}}},
        *data["nodes"][:LOGIN_STEPS],
    ]
    check = {
        "type": "action_node",
        "extraction_action": {
            "locator": {
                "command": 'locator("#status.checked")',
                "output_variable_name": "signed_in",
                "extraction_format": {"signed_in": "str"},
            }
        },
    }
    data["url"] = f"{PLACEHOLDER_ORIGIN}/dashboard.html"
    data["nodes"] = [
        check,
        {"type": "if_else_node", "condition": 'signed_in[0] == "Not signed in"', "if_nodes": sign_in},
        *data["nodes"][LOGIN_STEPS:],
    ]
    return load_automation(rebase_urls(data, PLACEHOLDER_ORIGIN, origin))


async def timed_run(browser: Browser, automation: Automation, session: BrowserState | None) -> tuple[float, RunResult]:
    """One run that keeps its state, started from `session`; its wall time and result."""
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as out_dir:
        options = RunOptions(out_dir=Path(out_dir))
        started = time.perf_counter()
        result = await run_automation(
            browser, automation, inputs=INPUTS["login_search"], options=options, session=session, keep_session=True
        )
        elapsed = time.perf_counter() - started
    if result.status != "success":
        raise RunFailed(f"{result.status}: {result.error}")
    return elapsed, result


async def measure(pairs: int) -> dict[str, list[float]]:
    """`pairs` logins (plus one warm-up), each run cold then warm."""
    seconds: dict[str, list[float]] = {"first": [], "second": []}
    with SiteServer(SITE_ROOT) as site:
        automation = login_checking(site.url)
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                for number in range(pairs + 1):
                    logins = site.state.logins
                    first_s, first = await timed_run(browser, automation, None)
                    second_s, second = await timed_run(browser, automation, first.browser_state)
                    if site.state.logins != logins + 1:
                        raise RunFailed("the second run of the login signed in again")
                    if extracted_texts(first.output_data)[1:] != extracted_texts(second.output_data)[1:]:
                        raise RunFailed("the two runs of a login extracted different texts")
                    if number > 0:
                        seconds["first"].append(first_s)
                        seconds["second"].append(second_s)
            finally:
                await browser.close()
    return seconds


def measures(seconds: dict[str, list[float]]) -> list[Measure]:
    first, second = statistics.median(seconds["first"]), statistics.median(seconds["second"])
    ratio = second / first
    return [
        Measure(
            "warm session login_search, second run of a login, median",
            f"ratio ≤ {TARGET_RATIO:.2f}",
            f"{second:.3f} s",
            f"first run {first:.3f} s",
            ratio,
            ratio <= TARGET_RATIO,
        ),
        Measure("warm session: time a login's second run saves, median", "—", f"{first - second:.3f} s"),
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=9, help="measured logins, each run twice (default 9)")
    return parser.parse_args(argv)


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark and return its measure; RunFailed when a run failed or the second one signed in."""
    args = parse_args(argv)
    console.print("measuring warm sessions: the second run of a login against its first…", style="dim")
    return measures(asyncio.run(measure(args.pairs)))


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; 1 when something failed (a missed target is reported, not an error)."""
    return run_alone("Warm sessions: the second run of a login against its first", collect, argv, (RunFailed,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
