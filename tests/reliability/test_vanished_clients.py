"""rebrowse's connections ask PostgreSQL to drop them once their client's host is gone: without that a worker host
cut off in the middle of a recovery pass keeps the recovery lock for hours (reliability scenario 8 found it).

The settings only exist on TCP connections, so this runs a PostgreSQL of its own on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import tuple_row
from reliability.multihost import prepared_postgres

from rebrowse.store.database import Database
from tests.serving import stop_group
from tests.waiting import eventually, free_port


@pytest.fixture(scope="module")
def tcp_postgres() -> Iterator[str]:
    work = Path(tempfile.mkdtemp(prefix="rebrowse-tcp-pg-"))
    work.chmod(0o755)  # the server runs as its own user when we are root
    port = free_port()
    server = subprocess.Popen(
        prepared_postgres(work / "pgdata", "127.0.0.1/32", "127.0.0.1", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop_group(server)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
async def tcp_url(tcp_postgres: str) -> AsyncIterator[str]:
    async def accepting() -> bool:
        try:
            await (await psycopg.AsyncConnection.connect(tcp_postgres, connect_timeout=2)).close()
        except psycopg.OperationalError:
            return False
        return True

    await eventually(accepting, timeout_s=60, what="PostgreSQL on 127.0.0.1")
    yield tcp_postgres


async def shown(conn: psycopg.AsyncConnection[Any], names: tuple[str, ...]) -> dict[str, str]:
    """What the server says these settings are for this connection."""
    cursor = conn.cursor(row_factory=tuple_row)
    await cursor.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%(names)s)", {"names": list(names)})
    return {name: setting for name, setting in await cursor.fetchall()}


# probed after 5 s of silence, dropped after 3 unanswered probes 5 s apart, or after 20 s of unacknowledged data
EXPECTED = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "20000",
}


async def test_every_pooled_connection_is_dropped_soon_after_its_client_vanishes(tcp_url: str) -> None:
    db = Database(tcp_url, min_size=2, max_size=2)
    await db.open()
    try:
        async with db.connection() as first, db.connection() as second:
            for conn in (first, second):
                assert await shown(conn, tuple(EXPECTED)) == EXPECTED
    finally:
        await db.close()
    async with await psycopg.AsyncConnection.connect(tcp_url) as plain:
        assert await shown(plain, ("tcp_user_timeout",)) == {"tcp_user_timeout": "0"}  # the server's default
