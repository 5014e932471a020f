"""No stuck task: what dead or confused workers left behind is retried, failed or deferred again.

Every worker runs these passes; a PostgreSQL advisory lock lets one worker at a time do one. A pass:
* recovers the jobs of workers whose heartbeat is older than `stalled_after_s` (presumed dead);
* frees the jobs that still hold a serialization lock although their task ended (a lost acknowledgement);
* recovers tasks a live worker holds without a live job, or past every attempt's time limit;
* defers again the queued tasks that have no job (the API stopped between storing and deferring);
* fails the queued tasks pinned to a worker gone for `stalled_after_s` (no other worker may run them);
* on a full sweep, deletes the artifacts of tasks that ended longer ago than the retention (when one is set).
* deletes the inbound messages older than the retention setting.
A lost attempt counts: the task is retried while the automation's max_retries allow, else it fails clearly.

Each worker also notes, pass after pass, that it is alive (tasks are pinned only to a live worker), and looks
after itself, without the lock: a job it took but no longer processes (its end could not be
recorded, the database being away) would otherwise stay "doing" while the worker lives. Its task goes back to the
queue, the attempt not spent, as with a worker that stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from rebrowse import lifecycle
from rebrowse.artifacts.collect import collect_expired
from rebrowse.artifacts.store import artifact_store
from rebrowse.automation.loading import load_automation
from rebrowse.automation.schema import Automation
from rebrowse.errors import AutomationInvalid
from rebrowse.queue import app as queue_app
from rebrowse.queue import jobs
from rebrowse.queue.app import JOB_NAME, Queue, enqueue
from rebrowse.settings import ServerSettings
from rebrowse.store import automations, locks, messages, tasks, workers
from rebrowse.store.database import DATABASE_DOWN, Database
from rebrowse.store.sealing import Sealer
from rebrowse.store.tasks import Outcome, Task
from rebrowse.worker.runner import OVERDUE_MARGIN_S, time_budget_s
from rebrowse.worker.state import WorkerState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryOptions:
    interval_s: float = 2.0  # between passes
    settle_s: float = 30.0  # hand-overs younger than this are left alone (a job being deferred or acknowledged)
    full_sweep_interval_s: float = 600.0  # between scans of every queued task for a job that ended


async def beat(db: Database, worker_name: str) -> None:
    """Note that this worker is alive: tasks may be pinned to it."""
    async with db.connection() as conn:
        await workers.beat(conn, worker_name)


class Recovery:
    """Recovery passes for one worker process."""

    def __init__(
        self, *, db: Database, sealer: Sealer, queue: Queue, settings: ServerSettings, state: WorkerState
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._queue = queue
        self._settings = settings
        self._state = state
        self._abandoned_since: dict[uuid.UUID, float] = {}  # jobs seen taken here but not processed, by task
        self._artifacts = artifact_store(settings)

    async def run(self, stop: asyncio.Event, options: RecoveryOptions) -> None:
        """Pass after pass until `stop` is set; a failed pass is logged and the next one tries again."""
        next_full = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                full = now >= next_full
                try:
                    await beat(self._db, self._state.name)
                    await self.recover_abandoned(options.settle_s)
                    if await self.run_pass(options, full=full) and full:
                        next_full = now + options.full_sweep_interval_s
                except Exception:
                    logger.exception("recovery pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), options.interval_s)
        finally:
            await self._leave()

    async def _leave(self) -> None:
        """No task is pinned to this worker once it stops (the database may be away: then it ages out)."""
        with contextlib.suppress(*DATABASE_DOWN):
            async with self._db.connection() as conn:
                await workers.leave(conn, self._state.name)

    async def run_pass(self, options: RecoveryOptions, *, full: bool = False) -> bool:
        """One pass (`full` also scans every queued task); False when another worker is doing one."""
        async with self._db.connection() as lock_conn, locks.try_holding(lock_conn, locks.RECOVERY) as held:
            if not held:
                return False
            await self._recover_stalled()
            await self._release_jobs_of_ended_tasks(options.settle_s)
            await self._recover_taken(options.settle_s)
            await self._defer_unqueued(options.settle_s, check_jobs=full)
            await self._fail_pinned_to_gone()
            if full and self._settings.artifacts_retention_s is not None:
                await collect_expired(self._db, self._artifacts, self._settings.artifacts_retention_s)
            await self._forget_old_messages()
        return True

    async def _forget_old_messages(self) -> None:
        """Inbound messages (2FA codes) are kept only REBROWSE_MESSAGE_RETENTION seconds."""
        async with self._db.connection() as conn:
            await messages.delete_expired(conn, self._settings.message_retention_s)

    async def recover_abandoned(self, settle_s: float) -> None:
        """Give back the tasks whose job this worker took but has not processed for `settle_s` (its end could not
        be recorded): a job seen so once may still be on its way in or out, so it is given back only when it is
        seen so again `settle_s` later."""
        async with self._db.connection() as conn:
            held = await jobs.list_held_by(conn, self._state.name)
        now = time.monotonic()
        abandoned = {task.id: task for task in held if not self._state.holds(task.id)}
        self._abandoned_since = {task_id: self._abandoned_since.get(task_id, now) for task_id in abandoned}
        for task_id, since in self._abandoned_since.items():
            if now - since >= settle_s:
                await self._give_back_abandoned(abandoned[task_id])

    async def _give_back_abandoned(self, task: Task) -> None:
        reason = f"worker {self._state.name} could not record the end of an attempt"
        logger.warning("task %s: %s; it runs again", task.id, reason, extra={"task_id": str(task.id)})
        assert task.job_id is not None  # list_held_by joins the job
        async with self._db.transaction() as conn:
            await tasks.requeue(conn, task.id, reason, task.retry_count)
            await queue_app.retry_now(self._queue, task.job_id)
        self._abandoned_since.pop(task.id, None)

    async def _recover_stalled(self) -> None:
        for job_id in await queue_app.stalled_jobs(self._queue, self._settings.stalled_after_s):
            await self._recover_stalled_job(job_id)
        await queue_app.forget_stalled_workers(self._queue, self._settings.stalled_after_s)

    async def _recover_stalled_job(self, job_id: int) -> None:
        async with self._db.connection() as conn:
            task = await tasks.get_task_by_job(conn, job_id)
        if task is None or task.is_terminal:
            await queue_app.release(self._queue, job_id)
        elif task.status == "queued":
            # The worker died before it took the task: no attempt was spent.
            await queue_app.retry_now(self._queue, job_id)
        else:
            await self._lost(task, f"worker {task.worker_name} stopped responding", running_job=job_id)

    async def _release_jobs_of_ended_tasks(self, settle_s: float) -> None:
        async with self._db.connection() as conn:
            job_ids = await jobs.list_jobs_of_ended_tasks(conn, JOB_NAME, settle_s)
        for job_id in job_ids:
            logger.warning("job %s outlived its task: releasing it", job_id, extra={"job_id": job_id})
            await queue_app.release(self._queue, job_id)

    async def _recover_taken(self, settle_s: float) -> None:
        async with self._db.connection() as conn:
            suspects = await jobs.list_taken_suspects(conn, settle_s, OVERDUE_MARGIN_S)
        for task, job_status in suspects:
            if job_status == "todo":
                continue  # already given back: a worker takes it again
            if job_status == "doing" and not await self._over_budget(task):
                continue
            running_job = task.job_id if job_status == "doing" else None
            await self._lost(task, f"worker {task.worker_name} lost track of the task", running_job=running_job)

    async def _defer_unqueued(self, settle_s: float, *, check_jobs: bool) -> None:
        async with self._db.connection() as conn:
            waiting = await jobs.list_unqueued(conn, settle_s, check_jobs=check_jobs)
        for task in waiting:
            logger.warning("task %s is queued without a job: deferring it", task.id, extra={"task_id": str(task.id)})
            await enqueue(self._queue, task)

    async def _fail_pinned_to_gone(self) -> None:
        gone_for_s = self._settings.stalled_after_s
        async with self._db.connection() as conn:
            orphans = await workers.list_pinned_to_gone(conn, gone_for_s)
        for task in orphans:
            reason = (
                f"worker {task.pinned_worker}, the only one this task may run on, is gone (unseen for {gone_for_s:g} s)"
            )
            logger.warning("task %s: %s", task.id, reason, extra={"task_id": str(task.id)})
            await lifecycle.complete_task(
                self._db, self._sealer, task.id, Outcome("failed", error=reason), public_url=self._settings.base_url
            )
            if task.job_id is not None:
                await queue_app.cancel_waiting(self._queue, task.job_id)

    async def _lost(self, task: Task, reason: str, *, running_job: int | None) -> None:
        """An attempt of the task was lost: retry the task when attempts are left, else fail it."""
        logger.warning("task %s: %s", task.id, reason, extra={"task_id": str(task.id)})
        automation = await self._automation(task)
        if automation is not None and task.retry_count < automation.max_retries:
            if running_job is not None:
                async with self._db.transaction() as conn:
                    # Requeued and retried together: a worker that takes the job at once waits for this commit.
                    await tasks.requeue(conn, task.id, reason, task.retry_count + 1)
                    await queue_app.retry_now(self._queue, running_job)
            else:
                async with self._db.connection() as conn:
                    await tasks.requeue(conn, task.id, reason, task.retry_count + 1)
                await enqueue(self._queue, task)
            return
        await lifecycle.complete_task(
            self._db, self._sealer, task.id, Outcome("failed", error=reason), public_url=self._settings.base_url
        )
        if running_job is not None:
            await queue_app.release(self._queue, running_job)

    async def _over_budget(self, task: Task) -> bool:
        """Whether the task's holder has had it longer than all its attempts may take."""
        automation = await self._automation(task)
        if automation is None or task.allocated_at is None:
            return True
        held = (datetime.now(UTC) - task.allocated_at).total_seconds()
        return held > time_budget_s(task, automation)

    async def _automation(self, task: Task) -> Automation | None:
        """The task's automation, for its max_retries (None when it is gone or no longer loads)."""
        async with self._db.connection() as conn:
            stored = await automations.get_automation(
                conn, task.account_id, task.endpoint_name, task.automation_version
            )
        if stored is None:
            return None
        try:
            # Only its retries and limits are read here: whether scripts may run is the runner's concern.
            return load_automation(stored.definition, allow_python_scripts=True, captcha_by_person=True)
        except AutomationInvalid:
            return None
