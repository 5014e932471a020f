"""Every command's help says what to give in words, never a Python type, in both of Typer's help formats."""

from __future__ import annotations

import re

import pytest
import typer
import typer.core
from typer._click import Command, Context
from typer.testing import CliRunner

from rebrowse.cli import app
from rebrowse.cli.words import InWords

# What Typer prints by default: `<str>`, `<list[str]>`, `<bool>` for a flag (and `{endpoint}` in the usage line).
PYTHON_TYPES = re.compile(r"<[a-z][a-zA-Z_\[\], |]*>|list\[|\bbool\b")


def all_commands() -> dict[str, Command]:
    """Every command and group of `rebrowse` (the top level included) by the words that reach it."""
    found: dict[str, Command] = {}

    def walk(command: Command, path: list[str]) -> None:
        found[" ".join(path)] = command
        if isinstance(command, typer.core.TyperGroup):
            ctx = Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_commands()
PATHS = [path.split() for path in COMMANDS]


def test_the_walk_reaches_every_command() -> None:
    assert {"", "run", "submit", "trace", "serve", "keys create", "automations push"} <= set(COMMANDS)
    assert len(COMMANDS) > 20


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
    # A command registered without cls=WordsCommand (or a group without WordsGroup) would print Python types.
    assert [path for path, command in COMMANDS.items() if not isinstance(command, InWords)] == []
