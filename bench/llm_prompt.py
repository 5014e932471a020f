"""LLM prompt benchmark: what one element-location call sends the model, per page of the fixture site.

On each page (tests/site) the engine runs one element step with no command, so the model must find the element.
The model is the tests' OpenAI-compatible server on 127.0.0.1 (tests/llm_server.py), reached over HTTP by the real
provider client; it answers the reference of the element each case names, read from the snapshot in the prompt.
Per page the table gives the snapshot's size in characters, the whole request's size (instructions, snapshot,
goal and the answer's schema, as JSON), the prompt tokens the call recorded (the test server counts a token per
whitespace-separated word, which undercounts a real tokenizer on JSON) and an estimate of a real tokenizer's count
(CHARS_PER_TOKEN characters a token: no tokenizer's vocabulary can be downloaded here). The baseline is the page's
HTML, which the prompt never carries. The target: every call ≤ TOKEN_BUDGET estimated tokens. The exit status is
non-zero when a step fails.

Usage: python -m bench.llm_prompt [--page NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from rich.console import Console
from rich.table import Table
from tests.llm_server import Call, ChatServer, output_tool, snapshot_ref

from bench.report import Measure, run_alone
from rebrowse.automation.loading import load_automation
from rebrowse.browser.launch import launch_chromium
from rebrowse.demo.site import SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import run_automation
from rebrowse.llm.config import LlmConfig

SITE_ROOT = Path(__file__).resolve().parents[1] / "tests" / "site"
TOKEN_BUDGET = 1_500
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English and JSON with GPT-style tokenizers
PAGE_MARK = "\nPage:\n"  # where the snapshot starts in the step's prompt


class StepFailed(Exception):
    """A benchmark step did not succeed."""


@dataclass(frozen=True)
class Case:
    """A page, the step whose element the model finds there, and which element it answers."""

    page: str
    kind: str
    fields: dict[str, Any]
    role: str
    name: str
    after: str = ""


CASES = (
    Case(
        "login.html", "input_text", {"prompt_instructions": "the username", "input_text": "ada"}, "textbox", "Username"
    ),
    Case("search.html", "click_element", {"prompt_instructions": "the Search button"}, "button", "Search"),
    Case("table.html", "click_element", {"prompt_instructions": "open invoice 7"}, "link", "Open", 'cell "Invoice 7"'),
    Case(
        "form.html",
        "select_option",
        {"prompt_instructions": "the region", "select_values": ["eu-west"]},
        "combobox",
        "Region",
    ),
)


@dataclass(frozen=True)
class Sizes:
    """What one call sent."""

    page: str
    snapshot_chars: int
    request_chars: int
    prompt_tokens: int
    html_chars: int

    @property
    def estimated_tokens(self) -> int:
        return round(self.request_chars / CHARS_PER_TOKEN)


def user_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in request["messages"] if m.get("role") == "user")


async def measure(browser: Browser, site: SiteServer, server: ChatServer, case: Case, out_dir: Path) -> Sizes:
    """Run the case's step through the engine and size the one request it made."""
    server.requests.clear()
    server.script = lambda request: Call(
        output_tool(request),
        {"ref": snapshot_ref(user_text(request), case.role, case.name, case.after), "reason": "named in the goal"},
    )
    url = f"{site.url}/{case.page}"
    node = {"type": "action_node", "interaction_action": {case.kind: case.fields}}
    automation = load_automation({"url": url, "parameters": {}, "nodes": [node]})
    options = RunOptions(out_dir=out_dir, llm=LlmConfig(model="bench", base_url=server.base_url, retries=0))
    result = await run_automation(browser, automation, options=options)
    if result.status != "success" or len(server.requests) != 1:
        raise StepFailed(f"{case.page}: {result.error or f'{len(server.requests)} requests'}")
    [request] = server.requests
    return Sizes(
        case.page,
        len(user_text(request).split(PAGE_MARK, 1)[1]),
        len(json.dumps(request)),
        result.steps[0].llm_calls[0]["input_tokens"],
        await html_size(browser, url),
    )


async def html_size(browser: Browser, url: str) -> int:
    """The characters of the page's HTML once loaded: what a prompt of raw HTML would carry."""
    page = await browser.new_page()
    try:
        await page.goto(url)
        return len(await page.content())
    finally:
        await page.close()


async def benchmark(pages: list[str]) -> list[Sizes]:
    """Serve the fixture site and the model, launch Chromium once and measure every case."""
    server = ChatServer()
    server.start()
    try:
        with SiteServer(SITE_ROOT) as site, tempfile.TemporaryDirectory(prefix="bench-llm-") as out:
            async with async_playwright() as playwright:
                browser = await launch_chromium(playwright)
                try:
                    cases = [case for case in CASES if not pages or case.page in pages]
                    return [await measure(browser, site, server, case, Path(out) / case.page) for case in cases]
                finally:
                    await browser.close()
    finally:
        server.stop()


def sizes_table(rows: list[Sizes]) -> Table:
    table = Table(title="One element-location call per page")
    columns = ("page", "snapshot chars", "request chars", "≈ tokens", "server's words", "page HTML chars")
    for column in columns:
        table.add_column(column, justify="left" if column == "page" else "right")
    for row in rows:
        figures = (row.snapshot_chars, row.request_chars, row.estimated_tokens, row.prompt_tokens, row.html_chars)
        table.add_row(row.page, *(f"{n:,}" for n in figures))
    return table


def measures(rows: list[Sizes]) -> list[Measure]:
    """One row per page: the call's estimated prompt tokens against the budget; the ratio is request to page HTML."""
    return [
        Measure(
            f"element prompt, {row.page}",
            f"≤ {TOKEN_BUDGET:,} tokens",
            f"≈ {row.estimated_tokens:,} tokens ({row.request_chars:,} chars, snapshot {row.snapshot_chars:,})",
            f"page HTML {row.html_chars:,} chars",
            row.request_chars / row.html_chars,
            row.estimated_tokens <= TOKEN_BUDGET,
        )
        for row in rows
    ]


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark, print its per-page table and return its measures; StepFailed when a step failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", action="append", choices=[case.page for case in CASES], help="only this page")
    args = parser.parse_args(argv)
    console.print("measuring the prompts of element-location calls…", style="dim")
    rows = asyncio.run(benchmark(args.page or []))
    console.print(sizes_table(rows))
    return measures(rows)


def main(argv: list[str]) -> int:
    return run_alone("LLM prompt benchmark: one element-location call per page", collect, argv, (StepFailed,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
