"""LISTEN/NOTIFY between connections: a notification reaches a listener when its transaction commits."""

from __future__ import annotations

import asyncio
import uuid

from rebrowse.store import notifications
from rebrowse.store.database import Database


async def test_a_notification_reaches_the_listener_once_committed(db: Database) -> None:
    channel = f"rebrowse_test_{uuid.uuid4().hex[:8]}"
    async with notifications.listening(db.url, channel) as listener:
        async with db.transaction() as conn:
            await notifications.notify(conn, channel, "first")
        async with asyncio.timeout(10):
            received = await anext(aiter(listener.notifies()))
    assert (received.channel, received.payload) == (channel, "first")


async def test_a_rolled_back_notification_is_never_sent(db: Database) -> None:
    channel = f"rebrowse_test_{uuid.uuid4().hex[:8]}"
    async with notifications.listening(db.url, channel) as listener:
        async with db.connection() as conn:
            async with conn.transaction(force_rollback=True):
                await notifications.notify(conn, channel, "dropped")
            await notifications.notify(conn, channel, "kept")
        async with asyncio.timeout(10):
            received = await anext(aiter(listener.notifies()))
    assert received.payload == "kept"
