"""Tasks seen through their jobs: the queries of recovery that join the tasks to procrastinate's job table."""

from __future__ import annotations

from rebrowse.store.database import Connection
from rebrowse.store.tasks import Task, task_of


async def list_unqueued(conn: Connection, older_than_s: float, *, check_jobs: bool, limit: int = 100) -> list[Task]:
    """Queued tasks no job will run: never deferred, or (check_jobs: a full scan) whose job ended."""
    dead_job = (
        "NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.id = t.job_id AND j.status IN ('todo', 'doing'))"
        if check_jobs
        else "t.job_id IS NULL"
    )
    rows = await (
        await conn.execute(
            f"SELECT * FROM tasks t WHERE t.status = 'queued' AND {dead_job}"
            " AND t.created_at < now() - make_interval(secs => %(older)s) ORDER BY t.created_at LIMIT %(limit)s",
            {"older": older_than_s, "limit": limit},
        )
    ).fetchall()
    return [task_of(row) for row in rows]


async def list_taken_suspects(
    conn: Connection, settle_s: float, margin_s: float, limit: int = 100
) -> list[tuple[Task, str | None]]:
    """Tasks allocated over `settle_s` ago whose job is not live, or that have outlived one attempt's limit
    plus `margin_s`; each with its job's status (None when the job is missing)."""
    rows = await (
        await conn.execute(
            "SELECT t.*, j.status::text AS job_status FROM tasks t LEFT JOIN procrastinate_jobs j ON j.id = t.job_id"
            " WHERE t.status IN ('allocated', 'running') AND t.allocated_at < now() - make_interval(secs => %(settle)s)"
            " AND (j.status IS NULL OR j.status NOT IN ('todo', 'doing')"
            "  OR t.allocated_at < now() - make_interval(secs => t.max_timeout_in_minutes * 60 + %(margin)s))"
            " ORDER BY t.allocated_at LIMIT %(limit)s",
            {"settle": settle_s, "margin": margin_s, "limit": limit},
        )
    ).fetchall()
    return [(task_of(row), row["job_status"]) for row in rows]


async def list_held_by(conn: Connection, worker_name: str) -> list[Task]:
    """The tasks a worker has taken (allocated or running) whose job is still being processed."""
    rows = await (
        await conn.execute(
            "SELECT t.* FROM tasks t JOIN procrastinate_jobs j ON j.id = t.job_id"
            " WHERE t.status IN ('allocated', 'running') AND t.worker_name = %(worker)s AND j.status = 'doing'",
            {"worker": worker_name},
        )
    ).fetchall()
    return [task_of(row) for row in rows]


async def list_jobs_of_ended_tasks(conn: Connection, job_name: str, older_than_s: float) -> list[int]:
    """Jobs still running on a live worker although their task ended a while ago (or no task refers to them)."""
    rows = await (
        await conn.execute(
            "SELECT j.id FROM procrastinate_jobs j LEFT JOIN tasks t ON t.job_id = j.id"
            " WHERE j.status = 'doing' AND j.worker_id IS NOT NULL AND j.task_name = %(job_name)s"
            " AND (t.id IS NULL OR (t.status IN ('success', 'failed', 'killed', 'cancelled')"
            "  AND t.completed_at < now() - make_interval(secs => %(older)s)))",
            {"job_name": job_name, "older": older_than_s},
        )
    ).fetchall()
    return [row["id"] for row in rows]
