"""Every command's help says what to give in words, never a Python type, in both of Typer's help formats."""

from __future__ import annotations

import re

import pytest
import typer
import typer.core
from typer._click import Context
from typer.testing import CliRunner

from rebrowse.cli import app
from rebrowse.cli.words import InWords

# What Typer prints by default: `<str>`, `<list[str]>`, `<bool>` for a flag (and `{endpoint}` in the usage line).
PYTHON_TYPES = re.compile(r"<[a-z][a-zA-Z_\[\], |]*>|list\[|\bbool\b")


def command_paths() -> list[list[str]]:
    """The words that reach every command and group of `rebrowse`, the top level included."""
    found: list[list[str]] = []

    def walk(command: typer.core.TyperGroup | typer.core.TyperCommand, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, typer.core.TyperGroup):
            ctx = Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])  # type: ignore[arg-type]

    walk(typer.main.get_command(app), [])  # type: ignore[arg-type]
    return found


PATHS = command_paths()


def test_the_walk_reaches_every_command() -> None:
    names = {" ".join(path) for path in PATHS}
    assert {"", "run", "submit", "trace", "serve", "keys create", "automations push"} <= names
    assert len(names) > 20


@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "rebrowse")
def test_help_names_what_to_give_in_words(path: list[str], rich: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typer.core, "HAS_RICH", rich)
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, terminal_width=200)

    assert shown.exit_code == 0, shown.output
    assert "Usage:" in shown.output
    assert PYTHON_TYPES.findall(shown.output) == [], shown.output
    usage = next(line for line in shown.output.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage


def test_an_argument_and_an_option_show_their_words() -> None:
    shown = CliRunner().invoke(app, ["submit", "--help"], terminal_width=200)

    usage = next(line for line in shown.output.splitlines() if "Usage:" in line)
    assert usage.rstrip().endswith("submit [OPTIONS] ENDPOINT")
    assert re.search(r"--param\s+-p\s+NAME=VALUE", shown.output)
    assert re.search(r"--proxy-session-id\s+ID\s", shown.output)
    assert re.search(r"--use-proxy\s+--no-use-proxy\s+Go through", shown.output)


def test_every_command_is_made_with_the_words_classes() -> None:
    group = typer.main.get_command(app)
    ctx = Context(group)
    assert isinstance(group, InWords)
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        assert isinstance(group.get_command(ctx, name), InWords), name  # type: ignore[attr-defined]
