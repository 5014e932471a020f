"""The `rebrowse` command line: one module per family of commands, registered here."""

from __future__ import annotations

import typer

from rebrowse.cli import remote, replay, server

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Replay recorded browser automations.")
app.command()(replay.validate)
app.command()(replay.run)
app.command()(replay.demo)
app.command()(server.serve)
app.command()(server.api)
app.command()(server.worker)
app.command()(server.migrate)
app.command()(server.inference)
app.add_typer(remote.keys_app, name="keys")
app.add_typer(remote.automations_app, name="automations")
app.command()(remote.submit)
app.command()(remote.status)
app.command()(remote.tasks)
