"""The `rebrowse` command line: one module per family of commands, registered here.

The remote commands need only the SDK; the others are imported on first use (cli/lazy.py), so that
`pip install rebrowse` without the `[server]` extra has a working CLI for a remote API.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rebrowse.cli import remote
from rebrowse.cli.lazy import LazyGroup
from rebrowse.cli.schedules import schedules_app
from rebrowse.cli.words import WordsCommand
from rebrowse.version import __version__

PRIVATE_UMASK = 0o077

app = typer.Typer(
    cls=LazyGroup, no_args_is_help=True, add_completion=False, help="Replay recorded browser automations."
)


def print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"rebrowse {__version__}")
        raise typer.Exit()


@app.callback()
def files_are_private(
    version: Annotated[
        bool, typer.Option("--version", callback=print_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    # Every file rebrowse and its Chromium write (artifacts, downloads, screenshots, traces, keys) is the user's
    # alone: other users of the machine must not read what a task saw.
    os.umask(PRIVATE_UMASK)


app.add_typer(remote.keys_app, name="keys")
app.add_typer(remote.automations_app, name="automations")
app.add_typer(schedules_app, name="schedules")
app.command(cls=WordsCommand)(remote.submit)
app.command(cls=WordsCommand)(remote.status)
app.command(cls=WordsCommand)(remote.cancel)
app.command(cls=WordsCommand)(remote.tasks)
