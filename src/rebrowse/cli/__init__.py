"""The `rebrowse` command line: one module per family of commands, registered here."""

from __future__ import annotations

import typer

from rebrowse.cli import replay

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Replay recorded browser automations.")
app.command()(replay.validate)
app.command()(replay.run)
app.command()(replay.demo)
