"""The procrastinate app: deferring a task's job with its lock and priority, aborting it, registering the job.

A task is one job of JOB_NAME. Its `lock` is the task's serialization key, so at most one task per login runs
at a time; its priority maps Optexity's (lower first, None last) onto procrastinate's (higher first); pinned
tasks go to their worker's own queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import procrastinate
import psycopg
from procrastinate import JobContext, RetryDecision
from procrastinate.jobs import Job

from rebrowse.errors import RebrowseError
from rebrowse.store import tasks
from rebrowse.store.tasks import Task

JOB_NAME = "rebrowse.run_task"
DEFAULT_QUEUE = "default"
# procrastinate's priority is a PostgreSQL integer; None must sort below every real priority.
PRIORITY_LIMIT = 2**31 - 1
PRIORITY_OF_NONE = -(2**31)
MAX_DATABASE_BACKOFF_S = 60

JobFunction = Callable[[JobContext, str], Awaitable[None]]

WAITING_JOBS = "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'todo' AND queue_name = ANY(%(queues)s)"


class WorkerStopping(RebrowseError):
    """The worker stopped before the task ended; the task goes back to the queue."""


class RetryInterruptedRuns(procrastinate.BaseRetryStrategy):
    """Retry a job only when it was interrupted: its worker stopped, or the database went away under it.

    A task's own failures are not retried here: the task retries inside its job, as its automation says.
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, WorkerStopping):
            return RetryDecision(retry_in={"seconds": 0})
        if isinstance(exception, psycopg.OperationalError):
            return RetryDecision(retry_in={"seconds": min(MAX_DATABASE_BACKOFF_S, 2**job.attempts)})
        return None


def make_queue(database_url: str, *, max_connections: int = 10) -> procrastinate.App:
    """The procrastinate app on the deployment's database (open it with `async with app.open_async()`)."""
    connector = procrastinate.PsycopgConnector(conninfo=database_url, min_size=1, max_size=max_connections)
    return procrastinate.App(connector=connector)


def register_worker_job(app: procrastinate.App, run: JobFunction) -> None:
    """Make `run(context, task_id)` the job JOB_NAME in this (worker) process."""

    # A coroutine function, not just any callable returning one: procrastinate cancels only those on abort.
    async def run_task(context: JobContext, task_id: str) -> None:
        await run(context, task_id)

    app.task(name=JOB_NAME, pass_context=True, retry=RetryInterruptedRuns())(run_task)


def job_priority(priority: int | None) -> int:
    """Optexity's priority (lower first, None last) as procrastinate's (higher first)."""
    if priority is None:
        return PRIORITY_OF_NONE
    return -max(-PRIORITY_LIMIT, min(PRIORITY_LIMIT, priority))


def worker_queue(worker_name: str) -> str:
    """The queue of tasks pinned to one worker."""
    return f"worker.{worker_name}"


def queue_of(task: Task) -> str:
    """The queue of the task's job."""
    return worker_queue(task.pinned_worker) if task.pinned_worker else DEFAULT_QUEUE


async def enqueue(app: procrastinate.App, task: Task) -> int:
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


async def abort(app: procrastinate.App, task: Task) -> None:
    """Ask the worker running the task's job to stop it (a job still waiting is cancelled outright)."""
    if task.job_id is not None:
        await app.job_manager.cancel_job_by_id_async(task.job_id, abort=True)


async def count_waiting(app: procrastinate.App, queues: list[str]) -> int:
    """How many jobs wait in these queues."""
    row = await app.connector.execute_query_one_async(WAITING_JOBS, queues=queues)
    return int(row["n"])
