"""The callback outbox: one event per finished task with a callback URL, and every delivery attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb

from rebrowse.store.database import Connection

CHANNEL = "rebrowse_callbacks"  # senders LISTEN here; a NOTIFY is delivered only when its transaction commits

EventState = Literal["pending", "delivered", "failed"]
DELIVERY_WINDOW_S = 24 * 3600  # an event is retried this long before it is given up


@dataclass(frozen=True)
class CallbackEvent:
    id: uuid.UUID
    task_id: uuid.UUID
    account_id: uuid.UUID
    url: str
    payload: dict[str, Any]
    state: EventState
    attempts: int
    next_attempt_at: datetime
    give_up_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    api_key: bytes | None = field(default=None, repr=False)  # sealed


@dataclass(frozen=True)
class CallbackAttempt:
    id: int
    event_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class EventHistory:
    """An event with its attempts, oldest first."""

    event: CallbackEvent
    attempts: list[CallbackAttempt]


def event_of(row: dict[str, Any]) -> CallbackEvent:
    values = {name: row[name] for name in CallbackEvent.__dataclass_fields__}
    if values["api_key"] is not None:
        values["api_key"] = bytes(values["api_key"])
    return CallbackEvent(**values)


def attempt_of(row: dict[str, Any]) -> CallbackAttempt:
    return CallbackAttempt(**{name: row[name] for name in CallbackAttempt.__dataclass_fields__})


async def insert_event(
    conn: Connection,
    *,
    event_id: uuid.UUID,
    task_id: uuid.UUID,
    account_id: uuid.UUID,
    url: str,
    api_key: bytes | None,
    payload: dict[str, Any],
    created_at: datetime,
) -> CallbackEvent:
    """Queue an event for delivery now, to be retried until DELIVERY_WINDOW_S after created_at."""
    row = await (
        await conn.execute(
            "INSERT INTO callback_events (id, task_id, account_id, url, api_key, payload, created_at, give_up_at)"
            " VALUES (%(id)s, %(task)s, %(account)s, %(url)s, %(api_key)s, %(payload)s, %(created)s,"
            " %(created)s + make_interval(secs => %(window)s)) RETURNING *",
            {
                "id": event_id,
                "task": task_id,
                "account": account_id,
                "url": url,
                "api_key": api_key,
                "payload": Jsonb(payload),
                "created": created_at,
                "window": DELIVERY_WINDOW_S,
            },
        )
    ).fetchone()
    assert row is not None
    return event_of(row)


async def claim_due(conn: Connection, *, limit: int, lease_s: float) -> list[CallbackEvent]:
    """Take up to `limit` due events, hiding them from other senders for `lease_s` (a crashed sender's come back)."""
    rows = await (
        await conn.execute(
            "UPDATE callback_events SET next_attempt_at = now() + make_interval(secs => %(lease)s)"
            " WHERE id IN (SELECT id FROM callback_events WHERE state = 'pending' AND next_attempt_at <= now()"
            " ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING *",
            {"lease": lease_s, "limit": limit},
        )
    ).fetchall()
    return [event_of(row) for row in rows]


async def seconds_until_due(conn: Connection) -> float | None:
    """How long until the next pending event is due (0 when one is due now); None when none is pending."""
    # Not greatest(0, ...) in SQL: greatest ignores NULL, which turned "none pending" into "one due now" and
    # had the sender query the database in a busy loop.
    row = await (
        await conn.execute(
            "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 AS wait"
            " FROM callback_events WHERE state = 'pending'"
        )
    ).fetchone()
    return None if row is None or row["wait"] is None else max(0.0, float(row["wait"]))


async def record_attempt(
    conn: Connection, event_id: uuid.UUID, *, status_code: int | None, error: str | None, duration_ms: float
) -> None:
    """Keep one delivery attempt and count it on its event."""
    await conn.execute(
        "INSERT INTO callback_attempts (event_id, status_code, error, duration_ms)"
        " VALUES (%(event)s, %(status)s, %(error)s, %(duration)s)",
        {"event": event_id, "status": status_code, "error": error, "duration": duration_ms},
    )
    await conn.execute(
        "UPDATE callback_events SET attempts = attempts + 1, last_error = %(error)s WHERE id = %(id)s",
        {"error": error, "id": event_id},
    )


async def mark_delivered(conn: Connection, event_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE callback_events SET state = 'delivered', delivered_at = now(), last_error = NULL WHERE id = %(id)s",
        {"id": event_id},
    )


async def mark_failed(conn: Connection, event_id: uuid.UUID) -> None:
    await conn.execute("UPDATE callback_events SET state = 'failed' WHERE id = %(id)s", {"id": event_id})


async def schedule_retry(conn: Connection, event_id: uuid.UUID, delay_s: float) -> EventState:
    """Retry after `delay_s`, or at the deadline at the latest; an event past its deadline is failed instead."""
    row = await (
        await conn.execute(
            "UPDATE callback_events SET"
            " state = CASE WHEN now() >= give_up_at THEN 'failed' ELSE 'pending' END,"
            " next_attempt_at = least(now() + make_interval(secs => %(delay)s), give_up_at)"
            " WHERE id = %(id)s RETURNING state",
            {"delay": delay_s, "id": event_id},
        )
    ).fetchone()
    assert row is not None
    state: EventState = row["state"]
    return state


async def list_for_task(conn: Connection, account_id: uuid.UUID, task_id: uuid.UUID) -> list[EventHistory]:
    """The task's events with their attempts; empty for another account's task."""
    events = await (
        await conn.execute(
            "SELECT * FROM callback_events WHERE task_id = %(task)s AND account_id = %(account)s ORDER BY created_at",
            {"task": task_id, "account": account_id},
        )
    ).fetchall()
    attempts = await (
        await conn.execute(
            "SELECT a.* FROM callback_attempts a JOIN callback_events e ON e.id = a.event_id"
            " WHERE e.task_id = %(task)s AND e.account_id = %(account)s ORDER BY a.attempted_at, a.id",
            {"task": task_id, "account": account_id},
        )
    ).fetchall()
    by_event: dict[uuid.UUID, list[CallbackAttempt]] = {}
    for row in attempts:
        by_event.setdefault(row["event_id"], []).append(attempt_of(row))
    return [EventHistory(event_of(row), by_event.get(row["id"], [])) for row in events]


async def reset_for_redelivery(conn: Connection, account_id: uuid.UUID, task_id: uuid.UUID) -> list[CallbackEvent]:
    """Make the task's events pending again with a fresh window (same ids; `attempts` restarts, history is kept)."""
    rows = await (
        await conn.execute(
            "UPDATE callback_events SET state = 'pending', attempts = 0, next_attempt_at = now(),"
            " give_up_at = now() + make_interval(secs => %(window)s), delivered_at = NULL, last_error = NULL"
            " WHERE task_id = %(task)s AND account_id = %(account)s RETURNING *",
            {"window": DELIVERY_WINDOW_S, "task": task_id, "account": account_id},
        )
    ).fetchall()
    return [event_of(row) for row in rows]
