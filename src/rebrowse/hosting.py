"""What every process that hosts a part of rebrowse needs, whichever part: the sealing key and an HTTP server whose
signals its caller handles. Here rather than in server.py so that worker/ need not import the composition root."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn

from rebrowse.settings import ServerSettings
from rebrowse.store.sealing import key_from_file


def secret_key(settings: ServerSettings) -> bytes:
    """REBROWSE_SECRET_KEY, or the key kept in the data directory (separate API and worker hosts must share it)."""
    return settings.secret_key or key_from_file(settings.data_dir / "secret.key")


class CallerSignals(uvicorn.Server):
    """A uvicorn server that leaves signals to its caller, who stops it through `should_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
