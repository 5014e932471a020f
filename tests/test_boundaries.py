"""Boundaries inside the package, read from the source: the queue library behind queue/, SQL in store/ and queue/
only, named parameters, advisory locks from store/locks.py."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "rebrowse"
QUEUE = PACKAGE / "queue"
STORE = PACKAGE / "store"


def sources(*suffixes: str) -> list[Path]:
    return [path for suffix in suffixes for path in PACKAGE.rglob(f"*{suffix}") if "static" not in path.parts]


def outside(path: Path, *folders: Path) -> bool:
    return not any(path.is_relative_to(folder) for folder in folders)


def offenders(pattern: str, paths: list[Path]) -> list[str]:
    found = re.compile(pattern, re.MULTILINE)
    return [
        f"{path.relative_to(PACKAGE)}:{text[: match.start()].count(chr(10)) + 1}: {match.group(0)}"
        for path in paths
        for text in [path.read_text()]
        for match in found.finditer(text)
    ]


def test_only_the_queue_adapter_knows_procrastinate() -> None:
    python = [path for path in sources(".py") if outside(path, QUEUE)]
    assert offenders(r"^\s*(import|from) procrastinate\b", python) == []
    assert offenders(r"procrastinate_\w+", [*python, *[p for p in sources(".sql") if outside(p, QUEUE)]]) == []


def test_sql_runs_only_in_the_store_and_the_queue_adapter() -> None:
    python = [path for path in sources(".py") if outside(path, QUEUE, STORE)]
    assert offenders(r"\.execute\(|execute_query|pg_notify|pg_advisory|\bLISTEN \{|\bNOTIFY \{", python) == []


def test_statements_take_named_parameters_only() -> None:
    python = [path for path in sources(".py") if not outside(path, QUEUE, STORE)]
    assert offenders(r"%s\b", python) == []


def test_advisory_locks_are_taken_through_the_one_list() -> None:
    python = [path for path in sources(".py") if path != STORE / "locks.py"]
    assert offenders(r"pg_(try_)?advisory_\w+", python) == []
