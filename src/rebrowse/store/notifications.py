"""PostgreSQL's LISTEN/NOTIFY between our processes: a NOTIFY reaches every listener, on any host, when its
transaction commits. Each channel is named where its meaning lives (tasks.WAKE_CHANNEL, messages.NOTIFY_CHANNEL,
callbacks.CHANNEL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql

from rebrowse.store.database import Connection

Listener = psycopg.AsyncConnection[tuple[object, ...]]


async def notify(conn: Connection, channel: str, payload: str = "") -> None:
    """Announce `payload` on `channel` when the connection's transaction commits (at once in autocommit)."""
    await conn.execute("SELECT pg_notify(%(channel)s, %(payload)s)", {"channel": channel, "payload": payload})


@asynccontextmanager
async def listening(url: str, channel: str) -> AsyncIterator[Listener]:
    """A connection of its own that listens on `channel` (read them with its `notifies()`) for the block.

    Its own connection, not one of the pool's: it stays open as long as the listener waits."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        yield conn
