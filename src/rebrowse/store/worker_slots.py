"""Where each running task can be watched: the worker_slots rows workers keep and the API reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rebrowse.store.database import Connection


@dataclass(frozen=True)
class VncAddress:
    """The TCP address of a slot's VNC server, as the API reaches it."""

    host: str
    port: int


@dataclass(frozen=True)
class TaskSlot:
    """The slot a task runs in; no address when that worker runs without live view."""

    worker_name: str
    slot: int
    vnc: VncAddress | None


async def publish(
    conn: Connection, worker_name: str, slot: int, task_id: uuid.UUID | None, vnc: VncAddress | None
) -> None:
    """Record what the slot runs (None: nothing) and where its VNC server listens (None: no live view)."""
    await conn.execute(
        """
        INSERT INTO worker_slots (worker_name, slot, vnc_host, vnc_port, task_id)
        VALUES (%(worker)s, %(slot)s, %(host)s, %(port)s, %(task)s)
        ON CONFLICT (worker_name, slot) DO UPDATE
            SET vnc_host = EXCLUDED.vnc_host, vnc_port = EXCLUDED.vnc_port, task_id = EXCLUDED.task_id,
                updated_at = now()
        """,
        {
            "worker": worker_name,
            "slot": slot,
            "host": vnc.host if vnc else None,
            "port": vnc.port if vnc else None,
            "task": task_id,
        },
    )


async def task_slot(conn: Connection, task_id: uuid.UUID) -> TaskSlot | None:
    """The slot running the task, while the task is running; None otherwise."""
    row = await (
        await conn.execute(
            """
            SELECT s.worker_name, s.slot, s.vnc_host, s.vnc_port
            FROM worker_slots s JOIN tasks t ON t.id = s.task_id
            WHERE s.task_id = %(task)s AND t.status = 'running'
            ORDER BY s.updated_at DESC
            LIMIT 1
            """,
            {"task": task_id},
        )
    ).fetchone()
    if row is None:
        return None
    has_vnc = row["vnc_host"] is not None and row["vnc_port"] is not None
    vnc = VncAddress(row["vnc_host"], row["vnc_port"]) if has_vnc else None
    return TaskSlot(row["worker_name"], row["slot"], vnc)
