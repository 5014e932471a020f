"""What every command shares: the consoles, exit codes and turning bad input into a message and exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rebrowse.errors import AutomationInvalid

if TYPE_CHECKING:
    from rebrowse.settings import EngineSettings

# Soft wrap: a long line (an error with its node path and locator) stays one line when piped or captured.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED = 1
EXIT_INVALID = 2

DataDir = Annotated[
    Path | None, typer.Option(metavar="DIR", help="Data directory: embedded PostgreSQL, artifacts, secret key")
]
# What a run is given, alike wherever one is asked for (submit, run, schedules set).
Params = Annotated[list[str], typer.Option("-p", "--param", metavar="NAME=VALUE", help="Input parameter (repeatable)")]
Unique = Annotated[
    list[str], typer.Option(metavar="NAME", help="Parameter that serializes tasks (one login at a time)")
]
Priority = Annotated[int | None, typer.Option(metavar="NUMBER", help="Lower runs first among waiting tasks of a key")]


def fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    """Print a message for a person and return the Exit to raise."""
    err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


@contextmanager
def invalid_input_exits(what: str) -> Iterator[None]:
    """Turn an invalid automation, parameters or setting into a list of errors and exit code 2."""
    try:
        yield
    except AutomationInvalid as exc:
        err.print(f"[red]invalid {escape(what)}:[/]", highlight=False)
        for problem in exc.errors:
            err.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except ValueError as exc:
        raise fail(str(exc)) from None


def file_problem(path: Path, exc: OSError | UnicodeDecodeError) -> str:
    """`PATH: why` for a file that cannot be read or written, the path once (OSError's own text repeats it)."""
    return f"{path}: {'not UTF-8 text' if isinstance(exc, UnicodeDecodeError) else exc.strerror or exc}"


def read_text_file(path: Path, what: str = "") -> str:
    """The UTF-8 text of `path`; a missing, unreadable or directory path is a ValueError of one line."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {file_problem(path, exc)}".lstrip()) from None


def read_settings() -> EngineSettings:
    from rebrowse.settings import EngineSettings  # imports the engine and LLM modules: server parts

    with invalid_input_exits("settings"):
        return EngineSettings.from_env()


def parse_pairs(pairs: list[str]) -> dict[str, list[str]]:
    """`name=value` pairs; a name given twice collects both values in order."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"-p expects name=value, got {pair!r}")
        values.setdefault(name.strip(), []).append(value)
    return values
