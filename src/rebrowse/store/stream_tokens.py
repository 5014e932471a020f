"""Stream tokens already spent: each opens one live-view connection."""

from __future__ import annotations

import uuid

from rebrowse.store.database import Connection


async def spend(conn: Connection, token_id: uuid.UUID, expires_at: float) -> bool:
    """Record the token as used (until it expires, epoch seconds); False when it was used before. Expired
    records go: an expired token is refused before it gets here."""
    await conn.execute("DELETE FROM spent_stream_tokens WHERE expires_at < now()")
    cursor = await conn.execute(
        "INSERT INTO spent_stream_tokens (id, expires_at) VALUES (%(id)s, to_timestamp(%(expires)s))"
        " ON CONFLICT (id) DO NOTHING",
        {"id": token_id, "expires": expires_at},
    )
    return cursor.rowcount == 1
