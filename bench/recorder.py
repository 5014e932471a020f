"""Recorder benchmark: what `rebrowse record` makes of fixture-site flows done by a person.

Each flow of tests/recorder/driving.py is done with real X input (xdotool) in a headed Chromium on a virtual screen
while Playwright's recorder runs (a RecordingSession, as `rebrowse record` uses); the draft automation is then
replayed, unchanged, on a headless Chromium with other parameter values. Per flow: the number of nodes, the share
of locators that find their element by role, label, placeholder, text or test id (target ≥ 90%), and whether the
replay succeeded and the site received the new values (target: every flow).

Usage: python -m bench.recorder
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from rich.console import Console
from rich.table import Table
from tests.recorder.driving import (
    DOWNLOAD,
    NEW_TAB,
    Action,
    XInput,
    headed_chromium,
    last_click_on,
    record_flow,
    registration,
    screen,
    signup,
    unique,
)

from bench.report import Measure, run_alone
from rebrowse.automation.loading import load_automation
from rebrowse.automation.parameters import OnePasswordSecret, SecureParameter
from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.recorder.recording import Step, semantic_share
from rebrowse.secrets.resolver import SecretResolver

SITE_ROOT = Path(__file__).resolve().parent.parent / "tests" / "site"
SEMANTIC_TARGET = 0.90
VAULT_PASSWORD = "from-the-vault"  # what the stand-in for 1Password's cloud answers
PASSWORD = SecureParameter(onepassword=OnePasswordSecret(vault_name="bench", item_name="signup", field_name="pw"))


class ReplayFailed(Exception):
    """A recorded flow did not replay as recorded."""


class StandInVault:
    """1Password's cloud is unreachable here: every reference reads the same password."""

    async def resolve(self, reference: str) -> str:
        return VAULT_PASSWORD


Check = Callable[[SiteServer, RunResult, dict[str, list[str]]], bool]


@dataclass(frozen=True)
class Flow:
    """A flow to record: its page, what the person does, when the recorder has seen it all, the values of the
    replay (a function of the recorded parameters) and what the site must have received."""

    name: str
    page: str
    actions: Callable[[], tuple[Action, ...]]
    done: Callable[[list[Step]], bool]
    other_values: Callable[[], dict[str, list[str]]]
    received: Check


def submitted_with(field: str, expected: dict[str, str]) -> Check:
    """The site received one submission whose `field` is the replay's value, with `expected` fields as given."""

    def check(site: SiteServer, result: RunResult, values: dict[str, list[str]]) -> bool:
        found = [s["fields"] for s in site.submissions() if s["fields"].get(field) == values[field][0]]
        return len(found) == 1 and all(found[0].get(key) == value for key, value in expected.items())

    return check


def downloaded(name: str) -> Check:
    return lambda site, result, values: [d.filename for d in result.downloads] == [name]


def ended_on(path: str) -> Check:
    return lambda site, result, values: bool(result.steps) and str(result.steps[-1].url).endswith(path)


FLOWS = (
    Flow(
        "search, then sign up with a password",
        "signup.html",
        lambda: signup(unique("algebra"), unique("grace-"), unique("pw-")),
        last_click_on("Sign up"),
        lambda: {"course_search": [unique("geometry")], "user_name": [unique("hopper-")], "level": ["beginner"]},
        submitted_with("user_name", {"password": VAULT_PASSWORD, "level": "beginner", "terms": "accepted"}),
    ),
    Flow(
        "form: select, checkbox, radio",
        "form.html",
        lambda: registration(unique("Ada "), unique("ada-") + "@example.com"),
        last_click_on("Submit"),
        lambda: {"full_name": [unique("Grace ")], "email": ["grace@example.com"], "region": ["ap-south"]},
        submitted_with("full_name", {"region": "ap-south", "newsletter": "yes", "plan": "pro"}),
    ),
    Flow("download", "downloads.html", lambda: DOWNLOAD, last_click_on("Download"), dict, downloaded("report.txt")),
    Flow("new tab", "downloads.html", lambda: NEW_TAB, last_click_on("Back to tabs"), dict, ended_on("/tab2.html")),
)


@dataclass(frozen=True)
class FlowResult:
    name: str
    nodes: int
    semantic: int
    locators: int
    replayed: bool
    error: str | None


async def replay(browser: Browser, data: dict[str, Any], values: dict[str, list[str]]) -> RunResult:
    automation = load_automation(data)
    secure = {name: [PASSWORD] for name in data["parameters"].get("secure_parameters", {})}
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as out_dir:
        return await run_automation(
            browser,
            automation,
            inputs=values,
            secure=secure,
            options=RunOptions(out_dir=Path(out_dir)),
            secrets=SecretResolver(onepassword=StandInVault()),
        )


async def measure(flow: Flow, headed: Browser, headless: Browser, xinput: XInput, site: SiteServer) -> FlowResult:
    data, steps = await record_flow(headed, xinput, f"{site.url}/{flow.page}", flow.actions(), flow.done)
    semantic, locators = semantic_share(steps)
    values = flow.other_values()
    result = await replay(headless, data, values)
    replayed = result.status == "success" and flow.received(site, result, values)
    error = None if replayed else f"{result.status}: {result.error or 'the site did not receive the new values'}"
    return FlowResult(flow.name, len(data["nodes"]), semantic, locators, replayed, error)


async def benchmark() -> list[FlowResult]:
    with SiteServer(SITE_ROOT) as site:
        async with screen() as display, async_playwright() as playwright:
            headed = await headed_chromium(playwright, display)
            headless = await launch_chromium(playwright)
            xinput = XInput(display.display, display.xauthority)
            try:
                return [await measure(flow, headed, headless, xinput, site) for flow in FLOWS]
            finally:
                await headed.close()
                await headless.close()


def flows_table(results: list[FlowResult]) -> Table:
    table = Table(title="recorded flows")
    for column in ("flow", "nodes", "semantic locators", "replays with other values"):
        table.add_column(column, justify="left" if column == "flow" else "right")
    for row in results:
        table.add_row(row.name, str(row.nodes), f"{row.semantic}/{row.locators}", "yes" if row.replayed else "NO")
    return table


def measures(results: list[FlowResult]) -> list[Measure]:
    semantic = sum(row.semantic for row in results)
    locators = sum(row.locators for row in results)
    share = semantic / locators if locators else 0.0
    replayed = sum(row.replayed for row in results)
    nodes = ", ".join(f"{row.name}: {row.nodes}" for row in results)
    return [
        Measure(
            "recorded flows replayed with other parameters",
            "every flow",
            f"{replayed}/{len(results)}",
            met=replayed == len(results),
        ),
        Measure(
            "recorded locators that are semantic",
            f"≥ {SEMANTIC_TARGET:.0%}",
            f"{share:.0%} ({semantic}/{locators})",
            met=share >= SEMANTIC_TARGET,
        ),
        Measure("nodes per recorded flow", "—", nodes),
    ]


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Record and replay every flow, print the per-flow table and return the measures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    console.print("recording fixture flows with X input, then replaying them…", style="dim")
    results = asyncio.run(benchmark())
    console.print(flows_table(results))
    failed = [f"{row.name}: {row.error}" for row in results if row.error]
    if failed:
        raise ReplayFailed("; ".join(failed))
    return measures(results)


def main(argv: list[str]) -> int:
    return run_alone("Recorder benchmark: recorded fixture flows", collect, argv, (ReplayFailed,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
