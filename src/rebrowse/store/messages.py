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
            " VALUES (%(id)s, %(account)s, %(channel)s, %(received)s, %(source_key)s, %(sealed)s)"
            " ON CONFLICT (account_id, channel, source_key) WHERE source_key IS NOT NULL DO NOTHING RETURNING id",
            {
                "id": uuid.uuid4(),
                "account": account_id,
                "channel": message.channel,
                "received": message.received_at,
                "source_key": source_key,
                "sealed": sealed,
            },
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
            " WHERE account_id = %(account)s AND channel = %(channel)s AND received_at BETWEEN %(since)s AND %(until)s"
            " ORDER BY received_at DESC, created_at DESC",
            {"account": account_id, "channel": channel, "since": since, "until": until},
        )
    ).fetchall()
    return [(row["id"], opened(sealer, row)) for row in rows]


def opened(sealer: Sealer, row: dict[str, Any]) -> Message:
    content = sealer.open_json(row["sealed"])
    return Message(row["channel"], content["sender"], content["receiver"], content["text"], row["received_at"])


async def delete_expired(conn: Connection, retention_s: float) -> int:
    """Delete the messages stored more than `retention_s` ago; how many went."""
    cursor = await conn.execute(
        "DELETE FROM messages WHERE created_at < now() - make_interval(secs => %(retention)s)",
        {"retention": retention_s},
    )
    return cursor.rowcount


async def set_source(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, kind: SourceKind, config: dict[str, Any]
) -> None:
    """Configure (or replace) one of the account's message sources; its settings are sealed whole."""
    await conn.execute(
        "INSERT INTO message_sources (account_id, kind, sealed) VALUES (%(account)s, %(kind)s, %(sealed)s)"
        " ON CONFLICT (account_id, kind) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()",
        {"account": account_id, "kind": kind, "sealed": sealer.seal_json(config)},
    )


async def get_source(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID, kind: SourceKind
) -> dict[str, Any] | None:
    """The settings of one of the account's message sources, opened; None when it has none."""
    row = await (
        await conn.execute(
            "SELECT sealed FROM message_sources WHERE account_id = %(account)s AND kind = %(kind)s",
            {"account": account_id, "kind": kind},
        )
    ).fetchone()
    if row is None:
        return None
    config: dict[str, Any] = sealer.open_json(row["sealed"])
    return config


async def delete_source(conn: Connection, account_id: uuid.UUID, kind: SourceKind) -> bool:
    """Remove one of the account's message sources; False when it had none."""
    cursor = await conn.execute(
        "DELETE FROM message_sources WHERE account_id = %(account)s AND kind = %(kind)s",
        {"account": account_id, "kind": kind},
    )
    return cursor.rowcount == 1


async def list_sources(
    conn: Connection, sealer: Sealer, account_id: uuid.UUID
) -> list[tuple[SourceKind, dict[str, Any], datetime]]:
    """The account's message sources: (kind, settings opened, when they were last set), by kind."""
    rows = await (
        await conn.execute(
            "SELECT kind, sealed, updated_at FROM message_sources WHERE account_id = %(account)s ORDER BY kind",
            {"account": account_id},
        )
    ).fetchall()
    return [(row["kind"], sealer.open_json(row["sealed"]), row["updated_at"]) for row in rows]


async def account_exists(conn: Connection, account_id: uuid.UUID) -> bool:
    row = await (await conn.execute("SELECT 1 FROM accounts WHERE id = %(id)s", {"id": account_id})).fetchone()
    return row is not None
