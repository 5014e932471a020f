"""Runs the scenarios one after another against one embedded PostgreSQL and prints one table.

Usage: python -m reliability [--only N ...] [--tasks N]
Exit status 1 when any scenario fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import tempfile
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reliability import (
    api_fuzz,
    bad_inputs,
    browser_crash,
    database_outage,
    multihost,
    receiver_outage,
    security_review,
    worker_kill,
)
from reliability.harness import Postgres, Row

Scenario = tuple[str, Callable[[Postgres, Path, argparse.Namespace], Awaitable[Row]]]

SCENARIOS: dict[str, Scenario] = {
    "1": (worker_kill.NAME, lambda pg, work, args: worker_kill.run(pg, work, args.tasks)),
    "2": (database_outage.NAME, lambda pg, work, args: database_outage.run(pg, work, args.outage)),
    "3": (receiver_outage.NAME, lambda pg, work, args: receiver_outage.run(pg, work, args.receiver_down)),
    "4": (browser_crash.NAME, lambda pg, work, args: browser_crash.run(pg, work)),
    "5": (api_fuzz.NAME, lambda pg, work, args: api_fuzz.run(pg, work, args.examples)),
    "6": (bad_inputs.NAME, lambda pg, work, args: bad_inputs.run(pg, work)),
    "7": (security_review.NAME, lambda pg, work, args: security_review.run(pg, work)),
    "8": (multihost.NAME, lambda pg, work, args: multihost.run(pg, work)),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="run only these scenarios")
    parser.add_argument("--tasks", type=int, default=200, help="tasks of scenario 1 (200)")
    parser.add_argument("--outage", type=float, default=20.0, help="seconds PostgreSQL is down in scenario 2 (20)")
    parser.add_argument("--examples", type=int, default=25, help="schemathesis examples per operation (25)")
    parser.add_argument("--receiver-down", type=float, default=60.0, help="seconds of scenario 3's outage (60)")
    return parser.parse_args(argv)


async def run_one(name: str, scenario: Callable[[], Awaitable[Row]], console: Console) -> Row:
    """One scenario; an exception fails its row instead of stopping the suite."""
    console.print(f"running {name}…", style="dim", highlight=False)
    started = time.monotonic()
    try:
        row = await scenario()
    except Exception as exc:
        console.print(traceback.format_exc(), style="dim", highlight=False, markup=False)
        row = Row(name, problems=[f"{type(exc).__name__}: {exc}"])
    elapsed = time.monotonic() - started
    console.print(f"  {name}: {'passed' if row.passed else 'FAILED'} in {elapsed:.0f} s", highlight=False)
    for note in row.notes:
        console.print(f"  {note}", style="dim", highlight=False, markup=False)
    return row


async def run_all(args: argparse.Namespace, work_dir: Path, console: Console) -> list[Row]:
    postgres = Postgres(work_dir)
    try:
        rows = []
        for key in args.only or sorted(SCENARIOS):
            name, scenario = SCENARIOS[key]
            rows.append(await run_one(name, partial(scenario, postgres, work_dir, args), console))
        return rows
    finally:
        postgres.cleanup()


def table(rows: list[Row]) -> Table:
    title = f"Reliability suite ({os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()})"
    result = Table(title=title)
    for column in ("scenario", "tasks", "terminal", "lost", "duplicates", "5xx", "result"):
        result.add_column(column, justify="left" if column in ("scenario", "result") else "right")
    for row in rows:
        verdict = "[green]pass[/]" if row.passed else "[red]FAIL[/]: " + "; ".join(row.problems)
        result.add_row(
            row.scenario,
            str(row.tasks),
            str(row.terminal),
            str(row.lost),
            str(row.duplicates),
            str(row.server_errors),
            verdict,
        )
    return result


def main(argv: list[str]) -> int:
    """Run the suite; 1 when a scenario failed."""
    args = parse_args(argv)
    # The embedded server's helper library warns about a desktop-session variable servers never have.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    console = Console(width=max(Console().width, 150))
    work_dir = Path(tempfile.mkdtemp(prefix="rebrowse-reliability-"))
    work_dir.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    try:
        rows = asyncio.run(run_all(args, work_dir, console))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    console.print(table(rows))
    return 0 if all(row.passed for row in rows) else 1
