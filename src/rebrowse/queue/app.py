"""The queue adapter: everything the rest of rebrowse does with procrastinate goes through these functions.

A task is one job of JOB_NAME. Its `lock` is the task's serialization key, so at most one task per login runs
at a time; its priority maps Optexity's (lower first, None last) onto procrastinate's (higher first); pinned
tasks go to their worker's own queue. The API defers, aborts and counts jobs; a worker runs its job loop
(`work`) with the job registered (`register_worker_job`); recovery retries, releases and cancels jobs by id.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryDecision
from procrastinate.exceptions import ConnectorException
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Job, Status

from rebrowse.errors import RebrowseError
from rebrowse.store import tasks
from rebrowse.store.database import DATABASE_DOWN, Connection
from rebrowse.store.tasks import NewTask, Task

JOB_NAME = "rebrowse.run_task"
DEFAULT_QUEUE = "default"
# procrastinate's priority is a PostgreSQL integer; None must sort below every real priority.
PRIORITY_LIMIT = 2**31 - 1
PRIORITY_OF_NONE = -(2**31)
MAX_DATABASE_BACKOFF_S = 60

Queue = procrastinate.App  # what make_queue returns; its users hand it to the functions here
# What the queue raises when the database fails under it (its cause says how: see api/errors.database_down).
QueueError = ConnectorException
JOB_COLUMNS = {"job_queue": "text", "job_priority": "integer"}  # per task, beside the task's own columns


def queued_tasks_statement() -> str:
    """New tasks and their jobs in one statement, each column given as an array with one value per task.

    The jobs are inserted the way procrastinate's defer does (`procrastinate_defer_jobs_v1` is this INSERT; the
    table's triggers notify the workers), in a CTE whose RETURNING gives each task its job's id.
    """
    arrays = ", ".join(f"%({name})s::{kind}[]" for name, kind in {**tasks.NEW_TASK_COLUMNS, **JOB_COLUMNS}.items())
    names = ", ".join([*tasks.NEW_TASK_COLUMNS, *JOB_COLUMNS])
    columns = ", ".join(f"new.{name}" for name in tasks.NEW_TASK_COLUMNS)
    return (
        f"WITH new AS (SELECT * FROM unnest({arrays}) AS new({names})),"
        " job AS (INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, args)"
        "  SELECT job_queue, %(job_name)s, job_priority, serialization_key, jsonb_build_object('task_id', id::text)"
        "  FROM new RETURNING id, (args->>'task_id')::uuid AS task_id)"
        f" INSERT INTO tasks ({', '.join(tasks.NEW_TASK_COLUMNS)}, job_id)"
        f" SELECT {columns}, job.id FROM new JOIN job ON job.task_id = new.id RETURNING *"
    )


QUEUED_TASKS = queued_tasks_statement()
WAITING_JOBS = "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'todo' AND queue_name = ANY(%(queues)s)"


class WorkerStopping(RebrowseError):
    """The worker stopped before the task ended; the task goes back to the queue."""


@dataclass(frozen=True)
class JobRun:
    """What a task's runner may ask of the job that runs it."""

    context: JobContext

    def aborted_by_user(self) -> bool:
        """Whether the job is being stopped because its task was cancelled (not because its worker stops)."""
        return self.context.abort_reason() is AbortReason.USER_REQUEST


JobFunction = Callable[[JobRun, str], Awaitable[None]]


class RetryInterruptedRuns(procrastinate.BaseRetryStrategy):
    """Retry a job only when it was interrupted: its worker stopped, or the database went away under it.

    A task's own failures are not retried here: the task retries inside its job, as its automation says.
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, WorkerStopping):
            return RetryDecision(retry_in={"seconds": 0})
        if isinstance(exception, DATABASE_DOWN):
            return RetryDecision(retry_in={"seconds": min(MAX_DATABASE_BACKOFF_S, 2**job.attempts)})
        return None


def make_queue(database_url: str, *, max_connections: int = 10) -> Queue:
    """The procrastinate app on the deployment's database (open it with `async with app.open_async()`)."""
    connector = procrastinate.PsycopgConnector(conninfo=database_url, min_size=1, max_size=max_connections)
    return procrastinate.App(connector=connector)


def register_worker_job(app: Queue, run: JobFunction) -> None:
    """Make `run(job, task_id)` the job JOB_NAME in this (worker) process."""

    # A coroutine function, not just any callable returning one: procrastinate cancels only those on abort.
    async def run_task(context: JobContext, task_id: str) -> None:
        await run(JobRun(context), task_id)

    app.task(name=JOB_NAME, pass_context=True, retry=RetryInterruptedRuns())(run_task)


@dataclass(frozen=True)
class JobLoop:
    """How a worker's job loop takes jobs and stops."""

    concurrency: int  # jobs at once: the worker's slots
    heartbeat_interval_s: float
    stalled_after_s: float  # a worker without a heartbeat for this long is presumed dead
    # Fallbacks only: new jobs, freed locks and abort requests arrive by LISTEN/NOTIFY.
    fetch_polling_interval_s: float
    abort_polling_interval_s: float
    grace_period_s: float  # on stop, how long running jobs may take to finish before they are aborted


SCHEDULES_QUEUE = "rebrowse.schedules"
TICK_JOB_NAME = "rebrowse.fire_schedules"
EVERY_MINUTE = "* * * * *"
TickFunction = Callable[[datetime], Awaitable[object]]


def make_schedule_queue(database_url: str, fire: TickFunction) -> Queue:
    """An app of its own whose periodic job calls `fire(tick)` every minute on SCHEDULES_QUEUE.

    procrastinate defers one job per tick across every process that runs this (its periodic_defers table). A tick
    missed while no process ran is skipped, as cron does: only a tick less than a minute old is deferred late.
    """
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=database_url, min_size=1, max_size=2),
        periodic_defaults={"max_delay": 59},
    )

    async def fire_schedules(timestamp: int) -> None:
        await fire(datetime.fromtimestamp(timestamp, UTC))

    task = app.task(name=TICK_JOB_NAME, queue=SCHEDULES_QUEUE)(fire_schedules)
    app.periodic(cron=EVERY_MINUTE, periodic_id="schedules")(task)
    return app


async def work_schedules(app: Queue, name: str, loop: JobLoop) -> None:
    """The job loop of a schedule queue: its ticks one at a time, never behind a task run (another queue); a tick's
    job is deleted once it succeeded (the store records the ticks that fired)."""
    await work(app, name, [SCHEDULES_QUEUE], replace(loop, concurrency=1), delete_succeeded=True)


async def work(app: Queue, name: str, queues: list[str], loop: JobLoop, *, delete_succeeded: bool = False) -> None:
    """Take and run jobs of these queues as the worker `name` until cancelled (its graceful stop: no new jobs, the
    grace period, then aborts) or until it ends on its own (e.g. the database was lost)."""
    await app.run_worker_async(
        name=name,
        queues=queues,
        concurrency=loop.concurrency,
        wait=True,
        install_signal_handlers=False,
        listen_notify=True,
        delete_jobs="successful" if delete_succeeded else "never",
        update_heartbeat_interval=loop.heartbeat_interval_s,
        stalled_worker_timeout=loop.stalled_after_s,
        fetch_job_polling_interval=loop.fetch_polling_interval_s,
        abort_job_polling_interval=loop.abort_polling_interval_s,
        shutdown_graceful_timeout=loop.grace_period_s,
    )


def job_priority(priority: int | None) -> int:
    """Optexity's priority (lower first, None last) as procrastinate's (higher first)."""
    if priority is None:
        return PRIORITY_OF_NONE
    return -max(-PRIORITY_LIMIT, min(PRIORITY_LIMIT, priority))


def worker_queue(worker_name: str) -> str:
    """The queue of tasks pinned to one worker."""
    return f"worker.{worker_name}"


def queue_of(task: Task | NewTask) -> str:
    """The queue of the task's job."""
    return worker_queue(task.pinned_worker) if task.pinned_worker else DEFAULT_QUEUE


async def create_queued_tasks(conn: Connection, news: Sequence[NewTask]) -> list[Task]:
    """Store new tasks with their jobs deferred (what `tasks.create_task` then `enqueue` do for each) in one
    statement, so each task exists with its job or not at all; the tasks are returned in the order given."""
    rows = [tasks.new_task_values(uuid.uuid4(), new) | job_values(new) for new in news]
    columns = {name: [row[name] for row in rows] for name in [*tasks.NEW_TASK_COLUMNS, *JOB_COLUMNS]}
    created = await (await conn.execute(QUEUED_TASKS, {**columns, "job_name": JOB_NAME})).fetchall()
    by_id = {row["id"]: tasks.task_of(row) for row in created}
    return [by_id[row["id"]] for row in rows]


def job_values(new: NewTask) -> dict[str, Any]:
    """The values of JOB_COLUMNS: where the task's job waits, and its priority."""
    return {"job_queue": queue_of(new), "job_priority": job_priority(new.priority)}


async def enqueue(app: Queue, task: Task) -> int:
    """Defer the task's job and store its id on the task (both in one transaction); returns the job id."""
    connector = app.connector
    # make_queue builds the app on psycopg; its pool lets the job and the task's job_id be written together.
    assert isinstance(connector, procrastinate.PsycopgConnector)
    async with connector.pool.connection() as conn, conn.transaction():
        job_id = await app.configure_task(
            JOB_NAME,
            lock=task.serialization_key,
            priority=job_priority(task.priority),
            queue=queue_of(task),
            connection=conn,
        ).defer_async(task_id=str(task.id))
        await tasks.set_job_id(conn, task.id, job_id)
    return job_id


async def abort(app: Queue, task: Task) -> None:
    """Ask the worker running the task's job to stop it (a job still waiting is cancelled outright)."""
    if task.job_id is not None:
        await app.job_manager.cancel_job_by_id_async(task.job_id, abort=True)


async def cancel_waiting(app: Queue, job_id: int) -> None:
    """Cancel a job that has not started (one that has started, or ended, is left as it is)."""
    with contextlib.suppress(ConnectorException):
        await app.job_manager.cancel_job_by_id_async(job_id)


async def count_waiting(app: Queue, queues: list[str]) -> int:
    """How many jobs wait in these queues."""
    row = await app.connector.execute_query_one_async(WAITING_JOBS, queues=queues)
    return int(row["n"])


async def retry_now(app: Queue, job_id: int) -> None:
    """Put a job that was taken back in its queue, to be taken again at once."""
    await app.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))


async def release(app: Queue, job_id: int) -> None:
    """End a job that no longer runs anything, freeing its serialization lock (ended meanwhile is as good)."""
    with contextlib.suppress(ConnectorException):
        await app.job_manager.finish_job_by_id_async(job_id, status=Status.FAILED, delete_job=False)


async def stalled_jobs(app: Queue, stalled_after_s: float) -> list[int]:
    """The jobs of task runs whose worker has sent no heartbeat for `stalled_after_s` (presumed dead)."""
    stalled = await app.job_manager.get_stalled_jobs(task_name=JOB_NAME, seconds_since_heartbeat=stalled_after_s)
    return [job.id for job in stalled if job.id is not None]


async def forget_stalled_workers(app: Queue, stalled_after_s: float) -> None:
    """Drop the workers without a heartbeat for `stalled_after_s` (after their jobs were recovered)."""
    await app.job_manager.prune_stalled_workers(stalled_after_s)
