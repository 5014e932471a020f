"""`rebrowse trace`: open a run's Playwright trace, from a run directory or a task of the server."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from rebrowse.cli.common import EXIT_FAILED, fail, out
from rebrowse.cli.remote import Key, Url, api_client

TRACE_FILES = "trace_attempt*.zip"
TASK_ID = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def trace(
    target: Annotated[
        str, typer.Argument(metavar="TASK_ID|DIR", help="A run directory (or its trace zip), or a task's id")
    ],
    open_viewer: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the trace viewer, or only say where the trace is")
    ] = True,
    url: Url = None,
    api_key: Key = None,
) -> None:
    """Open a run's Playwright trace (every action with DOM snapshots, console and network) in Playwright's viewer."""
    path = Path(target)
    if path.exists():
        found = local_trace(path)
    elif TASK_ID.fullmatch(target):
        found = downloaded_trace(target, url, api_key)
    else:
        raise fail(f"{target}: no such run directory or trace file, and not a task id")
    out.print(f"[bold]trace[/] {escape(str(found))}")
    if open_viewer:
        # Playwright's own viewer on the local file; it returns when its window is closed.
        raise typer.Exit(subprocess.call([sys.executable, "-m", "playwright", "show-trace", str(found)]))


def local_trace(path: Path) -> Path:
    """The trace at `path`: the file itself, or the last attempt's in a run directory."""
    if path.is_file():
        if path.suffix != ".zip":
            raise fail(f"{path}: not a trace (a .zip that `rebrowse run` writes)")
        return path
    traces = sorted(path.glob(TRACE_FILES), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    if not traces:
        raise fail(f"{path}: no trace in this directory (REBROWSE_TRACE=always keeps one for every run)")
    return traces[-1]


def downloaded_trace(task_id: str, url: str | None, key: str | None) -> Path:
    """The task's trace fetched from the API with the key, into a private temporary directory; the viewer's URL
    in the dashboard is printed too."""
    with api_client(url, key) as client:
        content = client.trace(task_id)
        viewer = client.request("GET", f"/api/v1/tasks/{task_id}/steps")["trace_viewer"]
    if viewer:
        out.print(f"[bold]in the dashboard[/] {escape(viewer)}")
    target = Path(tempfile.mkdtemp(prefix="rebrowse-trace-")) / f"trace-{task_id}.zip"
    try:
        target.write_bytes(content)
    except OSError as exc:
        raise fail(f"could not write the trace to {target}: {exc.strerror or exc}", EXIT_FAILED) from None
    return target
