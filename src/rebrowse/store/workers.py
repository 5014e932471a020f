"""Workers by name: each notes it is alive; tasks pinned to one that is gone are found."""

from __future__ import annotations

from rebrowse.store.database import Connection
from rebrowse.store.tasks import Task, task_of


async def beat(conn: Connection, worker_name: str) -> None:
    """Note that the worker is alive now."""
    await conn.execute(
        "INSERT INTO worker_heartbeats (worker_name) VALUES (%(worker)s)"
        " ON CONFLICT (worker_name) DO UPDATE SET last_seen = now()",
        {"worker": worker_name},
    )


async def leave(conn: Connection, worker_name: str) -> None:
    """The worker stopped: tasks can no longer be pinned to it."""
    await conn.execute("DELETE FROM worker_heartbeats WHERE worker_name = %(worker)s", {"worker": worker_name})


async def alive(conn: Connection, worker_name: str, within_s: float) -> bool:
    """Whether the worker was seen alive in the last `within_s` seconds."""
    row = await (
        await conn.execute(
            "SELECT 1 FROM worker_heartbeats"
            " WHERE worker_name = %(worker)s AND last_seen > now() - make_interval(secs => %(within)s)",
            {"worker": worker_name, "within": within_s},
        )
    ).fetchone()
    return row is not None


async def list_pinned_to_gone(conn: Connection, gone_for_s: float, limit: int = 100) -> list[Task]:
    """Queued tasks pinned to a worker not seen alive for `gone_for_s` seconds (queued longer than that too)."""
    rows = await (
        await conn.execute(
            "SELECT * FROM tasks t WHERE t.status = 'queued' AND t.pinned_worker IS NOT NULL"
            " AND t.created_at < now() - make_interval(secs => %(gone_for)s)"
            " AND NOT EXISTS (SELECT 1 FROM worker_heartbeats w WHERE w.worker_name = t.pinned_worker"
            "  AND w.last_seen > now() - make_interval(secs => %(gone_for)s))"
            " ORDER BY t.created_at LIMIT %(limit)s",
            {"gone_for": gone_for_s, "limit": limit},
        )
    ).fetchall()
    return [task_of(row) for row in rows]
