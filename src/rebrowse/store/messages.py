"""Inbound messages per account (sealed at rest, kept a bounded time) and the account's message sources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from rebrowse.messages.models import Channel, Message
from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer

NOTIFY_CHANNEL = "rebrowse_messages"  # 013_messages.sql: every insert notifies it with the account's id
SourceKind = Literal["imap", "slack", "twilio"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)


async def add_message(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, message: Message, *, source_key: str | None = None
) -> uuid.UUID | None:
    """Store a message (waking its account's waits); None when the source already delivered it (`source_key`)."""
    sealed = sealer.seal_json({"sender": message.sender, "receiver": message.receiver, "text": message.text})
    row = await (
        await conn.execute(
            "INSERT INTO messages (id, account_id, channel, received_at, source_key, sealed)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (account_id, channel, source_key) WHERE source_key IS NOT NULL DO NOTHING RETURNING id",
            (uuid.uuid4(), account_id, message.channel, message.received_at, source_key, sealed),
        )
    ).fetchone()
    return None if row is None else row["id"]


async def received(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, channel: Channel, since: datetime, until: datetime
) -> list[tuple[uuid.UUID, Message]]:
    """The account's messages of a channel received in [since, until], newest first, opened."""
    rows = await (
        await conn.execute(
            "SELECT id, channel, received_at, sealed FROM messages"
            " WHERE account_id = %s AND channel = %s AND received_at BETWEEN %s AND %s"
            " ORDER BY received_at DESC, created_at DESC",
            (account_id, channel, since, until),
        )
    ).fetchall()
    return [(row["id"], opened(sealer, row)) for row in rows]


def opened(sealer: Sealer, row: dict[str, Any]) -> Message:
    content = sealer.open_json(row["sealed"])
    return Message(row["channel"], content["sender"], content["receiver"], content["text"], row["received_at"])


async def delete_expired(conn: Connection, retention_s: float) -> int:
    """Delete the messages stored more than `retention_s` ago; how many went."""
    cursor = await conn.execute(
        "DELETE FROM messages WHERE created_at < now() - make_interval(secs => %s)", (retention_s,)
    )
    return cursor.rowcount


async def set_source(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, kind: SourceKind, config: dict[str, Any]
) -> None:
    """Configure (or replace) one of the account's message sources; its settings are sealed whole."""
    await conn.execute(
        "INSERT INTO message_sources (account_id, kind, sealed) VALUES (%s, %s, %s)"
        " ON CONFLICT (account_id, kind) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()",
        (account_id, kind, sealer.seal_json(config)),
    )


async def get_source(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, kind: SourceKind
) -> dict[str, Any] | None:
    """The settings of one of the account's message sources, opened; None when it has none."""
    row = await (
        await conn.execute("SELECT sealed FROM message_sources WHERE account_id = %s AND kind = %s", (account_id, kind))
    ).fetchone()
    if row is None:
        return None
    config: dict[str, Any] = sealer.open_json(row["sealed"])
    return config


async def delete_source(conn: Connection, account_id: uuid.UUID, kind: SourceKind) -> bool:
    """Remove one of the account's message sources; False when it had none."""
    cursor = await conn.execute("DELETE FROM message_sources WHERE account_id = %s AND kind = %s", (account_id, kind))
    return cursor.rowcount == 1


async def list_sources(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID
) -> list[tuple[SourceKind, dict[str, Any], datetime]]:
    """The account's message sources: (kind, settings opened, when they were last set), by kind."""
    rows = await (
        await conn.execute(
            "SELECT kind, sealed, updated_at FROM message_sources WHERE account_id = %s ORDER BY kind", (account_id,)
        )
    ).fetchall()
    return [(row["kind"], sealer.open_json(row["sealed"]), row["updated_at"]) for row in rows]


async def account_exists(conn: Connection, account_id: uuid.UUID) -> bool:
    row = await (await conn.execute("SELECT 1 FROM accounts WHERE id = %s", (account_id,))).fetchone()
    return row is not None
