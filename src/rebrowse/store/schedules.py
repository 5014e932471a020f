"""Scheduled runs: a named cron schedule per account that submits a task of its automation at every matching tick,
and the ticks that fired (one row per schedule and tick, so a tick fired twice creates one task)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from rebrowse.store.database import Connection
from rebrowse.store.tasks import TaskStatus

# A schedule with the status of its last task (NULL when it has none, or that task was deleted).
SELECT_SCHEDULES = (
    "SELECT s.*, t.status AS last_task_status FROM schedules s LEFT JOIN tasks t ON t.id = s.last_task_id"
)


@dataclass(frozen=True)
class ScheduleSpec:
    """What a PUT sets: when to run and the task to submit (its secrets sealed by the caller)."""

    cron: str
    timezone: str
    endpoint_name: str
    request: dict[str, Any]  # the task request's fields without its secrets
    sealed_request: bytes | None  # its secrets, sealed; None when it has none
    paused: bool


@dataclass(frozen=True)
class Schedule:
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    cron: str
    timezone: str
    endpoint_name: str
    request: dict[str, Any]
    paused: bool
    last_run_at: datetime | None
    last_task_id: uuid.UUID | None
    last_task_status: TaskStatus | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sealed_request: bytes | None = field(default=None, repr=False)


def schedule_of(row: dict[str, Any]) -> Schedule:
    return Schedule(**{name: row[name] for name in Schedule.__dataclass_fields__})


async def put_schedule(conn: Connection, account_id: uuid.UUID, name: str, spec: ScheduleSpec) -> Schedule:
    """Create or replace the account's schedule (a replaced one keeps its id, its ticks and its last run)."""
    await conn.execute(
        "INSERT INTO schedules (id, account_id, name, cron, timezone, endpoint_name, request, sealed_request, paused)"
        " VALUES (%(id)s, %(account)s, %(name)s, %(cron)s, %(timezone)s, %(endpoint)s, %(request)s, %(sealed)s,"
        "  %(paused)s)"
        " ON CONFLICT (account_id, name) DO UPDATE SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone,"
        "  endpoint_name = EXCLUDED.endpoint_name, request = EXCLUDED.request,"
        "  sealed_request = EXCLUDED.sealed_request, paused = EXCLUDED.paused, last_error = NULL, updated_at = now()",
        {
            "id": uuid.uuid4(),
            "account": account_id,
            "name": name,
            "cron": spec.cron,
            "timezone": spec.timezone,
            "endpoint": spec.endpoint_name,
            "request": Jsonb(spec.request),
            "sealed": spec.sealed_request,
            "paused": spec.paused,
        },
    )
    stored = await get_schedule(conn, account_id, name)
    assert stored is not None
    return stored


async def get_schedule(conn: Connection, account_id: uuid.UUID, name: str) -> Schedule | None:
    row = await (
        await conn.execute(
            f"{SELECT_SCHEDULES} WHERE s.account_id = %(account)s AND s.name = %(name)s",
            {"account": account_id, "name": name},
        )
    ).fetchone()
    return schedule_of(row) if row else None


async def list_schedules(conn: Connection, account_id: uuid.UUID) -> list[Schedule]:
    rows = await (
        await conn.execute(
            f"{SELECT_SCHEDULES} WHERE s.account_id = %(account)s ORDER BY s.name", {"account": account_id}
        )
    ).fetchall()
    return [schedule_of(row) for row in rows]


async def list_active(conn: Connection) -> list[Schedule]:
    """Every account's schedules that are not paused (the ones a tick may fire)."""
    rows = await (await conn.execute(f"{SELECT_SCHEDULES} WHERE NOT s.paused ORDER BY s.id")).fetchall()
    return [schedule_of(row) for row in rows]


async def set_paused(conn: Connection, account_id: uuid.UUID, name: str, paused: bool) -> bool:
    """Pause or resume the account's schedule; False when it has none of that name."""
    cursor = await conn.execute(
        "UPDATE schedules SET paused = %(paused)s, updated_at = now()"
        " WHERE account_id = %(account)s AND name = %(name)s",
        {"paused": paused, "account": account_id, "name": name},
    )
    return cursor.rowcount > 0


async def delete_schedule(conn: Connection, account_id: uuid.UUID, name: str) -> bool:
    """Delete the account's schedule (its tasks stay); False when it has none of that name."""
    cursor = await conn.execute(
        "DELETE FROM schedules WHERE account_id = %(account)s AND name = %(name)s",
        {"account": account_id, "name": name},
    )
    return cursor.rowcount > 0


async def claim_tick(conn: Connection, schedule_id: uuid.UUID, tick: datetime) -> bool:
    """Record that the schedule fires for this tick; False when it already has (in a transaction: a concurrent
    firing of the same tick waits here until this one commits, then finds the row)."""
    row = await (
        await conn.execute(
            "INSERT INTO schedule_ticks (schedule_id, tick) VALUES (%(id)s, %(tick)s)"
            " ON CONFLICT DO NOTHING RETURNING tick",
            {"id": schedule_id, "tick": tick},
        )
    ).fetchone()
    return row is not None


async def record_tick(
    conn: Connection, schedule_id: uuid.UUID, tick: datetime, task_id: uuid.UUID | None, error: str | None
) -> None:
    """What a claimed tick did: the task it created, or why it could not (shown as the schedule's last_error)."""
    params = {"id": schedule_id, "tick": tick, "task": task_id, "error": error}
    await conn.execute(
        "UPDATE schedule_ticks SET task_id = %(task)s, error = %(error)s"
        " WHERE schedule_id = %(id)s AND tick = %(tick)s",
        params,
    )
    await conn.execute(
        "UPDATE schedules SET last_run_at = %(tick)s, last_error = %(error)s,"
        " last_task_id = coalesce(%(task)s, last_task_id) WHERE id = %(id)s",
        params,
    )
