"""The README's snippets run as written: every shell and Python block marked `<!-- runnable -->` (on the line before
its fence) runs, in order, against a real `rebrowse serve --demo`, with REBROWSE_URL and REBROWSE_API_KEY exported as
`make serve` says to. A block marked `<!-- runnable, output checked -->` must also print what the README shows: the
output lines of a `console` transcript, or the block right after a Python one.

Blocks left unmarked need what a test cannot have (`make serve` itself, a screen, an S3 bucket, a model, a mailbox,
files of the reader's own) or show a transcript of one particular run."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving import ADMIN_KEY, Served, serve

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = re.compile(r"^<!-- runnable(?P<checked>, output checked)? -->$")
FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")
SHELLS = ("sh", "bash", "console")
ELIDED = "..."  # an output line the README shortens
BLOCK_DEADLINE_S = 240


@dataclass
class Snippet:
    line: int  # of its fence in the README, for the failure message
    lang: str
    code: str
    output: list[str]  # what it must print (output checked), else empty

    def __str__(self) -> str:
        return f"README.md line {self.line} ({self.lang})"


def fenced_blocks(lines: list[str]) -> Iterator[tuple[int, str, list[str]]]:
    """(line number of the fence, language, lines) of every fenced block."""
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        yield index + 1, opening["lang"], lines[index + 1 : end]
        index = end + 1


def transcript(lines: list[str]) -> tuple[str, list[str]]:
    """A console block's commands (after `$ `, with their `\\` continuation lines) and the output lines shown."""
    commands: list[str] = []
    output: list[str] = []
    continued = False
    for line in lines:
        if continued:
            commands.append(line)
        elif line.startswith("$ "):
            commands.append(line[2:])
        else:
            output.append(line)
        continued = line.endswith("\\")
    return "\n".join(commands) + "\n", output


def runnable_snippets() -> list[Snippet]:
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks = list(fenced_blocks(lines))
    snippets: list[Snippet] = []
    for position, (fence, lang, body) in enumerate(blocks):
        marker = MARKER.match(lines[fence - 2]) if fence >= 2 else None
        if marker is None:
            continue
        assert lang in (*SHELLS, "python"), f"README.md line {fence}: a runnable block must be shell or python"
        if lang == "console":
            code, shown = transcript(body)
        else:
            code, shown = "\n".join(body) + "\n", []
            if lang == "python" and marker["checked"]:
                shown = blocks[position + 1][2]  # the block after a Python one is what it prints
        snippets.append(Snippet(fence, lang, code, shown if marker["checked"] else []))
    return snippets


SNIPPETS = runnable_snippets()


def test_the_readme_marks_its_snippets() -> None:
    assert {s.lang for s in SNIPPETS} >= {"python", "sh", "console"}
    assert any(s.output for s in SNIPPETS)
    # A shell block as written runs: no prompt left in a block that is not a transcript.
    assert [str(s) for s in SNIPPETS if s.lang != "console" and re.search(r"^\$ ", s.code, re.M)] == []


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve("--demo") as running:
        yield running


@pytest.fixture(scope="module")
def reader(served: Served, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A reader's working directory and environment: `rebrowse` on the PATH (this checkout's), the URL and key
    exported, nothing else of the server's."""
    home = tmp_path_factory.mktemp("reader")
    bin_dir = home / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rebrowse"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rebrowse.cli "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REBROWSE_DATA_DIR")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "REBROWSE_URL": served.url,
        "REBROWSE_API_KEY": ADMIN_KEY,
        "COLUMNS": "200",
    }
    return home, env


@pytest.mark.parametrize("snippet", SNIPPETS, ids=str)
def test_a_runnable_snippet_runs_as_written(snippet: Snippet, reader: tuple[Path, dict[str, str]]) -> None:
    cwd, env = reader
    command = [sys.executable, "-c", snippet.code] if snippet.lang == "python" else ["bash", "-e", "-c", snippet.code]

    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_DEADLINE_S, check=False
    )

    printed = done.stdout + done.stderr
    assert done.returncode == 0, f"{snippet} exited {done.returncode}:\n{printed}"
    assert "Traceback" not in printed, printed
    missing = [line for line in snippet.output if line.strip() not in (ELIDED, "") and line.strip() not in printed]
    assert missing == [], f"{snippet} did not print these lines:\n{printed}"
