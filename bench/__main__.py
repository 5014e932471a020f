"""`make bench`: every benchmark under bench/, one after the other, and one table of all their measures.

Usage: python -m bench [--markdown FILE] [--quick]
  --markdown FILE  also write the table, the machine and how to reproduce it to FILE (docs/benchmarks.md)
  --quick          fewer samples and a shallower queue: a check that every benchmark runs, not a measurement
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench import api, cached, density, live_view, llm_prompt, recorder, replay, warm_session
from bench.report import Collect, Measure, measures_markdown, measures_table, wide_console

# Each benchmark, with its arguments for a full run and for a quick one.
BENCHMARKS: tuple[tuple[str, Collect, list[str], list[str]], ...] = (
    ("replay", replay.collect, [], ["--runs", "2"]),
    ("api", api.collect, [], ["--seconds", "3", "--samples", "5", "--queued", "2000"]),
    ("density", density.collect, [], ["--levels", "1", "2", "--hold", "3"]),
    ("live_view", live_view.collect, [], ["--samples", "3", "--seconds", "2"]),
    ("llm_prompt", llm_prompt.collect, [], []),
    ("cached", cached.collect, [], ["--runs", "1"]),
    ("recorder", recorder.collect, [], []),
    ("warm_session", warm_session.collect, [], ["--pairs", "1"]),
)


def machine() -> str:
    """The machine the figures come from."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"{os.cpu_count()} cores, {memory_gb:.0f} GB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {chromium or 'Chromium'}"
    )


def markdown(rows: list[Measure], elapsed_s: float, quick: bool) -> str:
    """docs/benchmarks.md: the latest table, where it ran and how to run it again."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick check (`python -m bench --quick`), not a measurement" if quick else "full run (`make bench`)"
    return (
        "# Benchmarks\n\n"
        "The measures of success of rebrowse, each against its target and against a baseline measured in the same "
        "run. Reproduce with `make bench` (about "
        f"{elapsed_s / 60:.0f} minutes); each benchmark also runs alone: `python -m bench.replay`, "
        "`python -m bench.api`, `python -m bench.density`, `python -m bench.live_view`, `python -m bench.llm_prompt`, "
        "`python -m bench.cached`, `python -m bench.warm_session` "
        "(their docstrings say "
        "exactly what they measure).\n\n"
        f"Latest: {when}, {kind}, on {machine()}.\n\n" + measures_markdown(rows)
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--quick", action="store_true", help="a check that every benchmark runs")
    args = parser.parse_args(argv)
    console = wide_console()
    started = time.perf_counter()
    rows: list[Measure] = []
    failed = []
    for name, collect, full, quick in BENCHMARKS:
        try:
            rows += collect(quick if args.quick else full, console)
        except Exception as exc:  # one benchmark failing must not hide the others' figures
            failed.append(name)
            Console(stderr=True).print(f"[red]FAILED[/] {name}: {exc}", highlight=False)
    console.print(measures_table(f"rebrowse benchmarks ({machine()})", rows))
    if args.markdown:
        args.markdown.write_text(markdown(rows, time.perf_counter() - started, args.quick))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
