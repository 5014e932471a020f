"""Writing submitted tasks in batches: submissions that arrive together share one transaction.

Deferring a job sends a NOTIFY, and PostgreSQL commits transactions that notified one at a time (a
database-wide lock held through the commit's WAL flush). With one transaction per submission, the API could
accept no more tasks per second than commits fit in a second, whatever the number of cores. Here a lone
submission is written at once; submissions that arrive while a batch is being written form the next batch.
"""

from __future__ import annotations

import asyncio
import logging

from rebrowse.queue.app import create_queued_tasks
from rebrowse.store.database import Database
from rebrowse.store.tasks import NewTask, Task

logger = logging.getLogger("rebrowse.api")
MAX_BATCH = 200  # submissions per transaction

Waiting = tuple[NewTask, asyncio.Future[Task]]


class TaskWriter:
    """Stores submitted tasks with their jobs, batching the submissions that wait for a write in progress."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._waiting: list[Waiting] = []
        self._writing: asyncio.Task[None] | None = None

    async def create(self, new: NewTask) -> Task:
        """Store the task and its job; returns the stored task (or raises what writing it raised)."""
        future: asyncio.Future[Task] = asyncio.get_running_loop().create_future()
        self._waiting.append((new, future))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting(), name="rebrowse-task-writer")
        return await future

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            try:
                await self._write(batch)
            finally:
                # Cancelled (the server is stopping) or failed unexpectedly: no submission is left waiting.
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the task could not be stored"))

    async def _write(self, batch: list[Waiting]) -> None:
        try:
            async with self._db.connection() as conn:
                created = await create_queued_tasks(conn, [new for new, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                settle(batch[0][1], exc)
                return
            # One bad submission must not fail the others: each is written on its own.
            logger.warning("a batch of %d tasks could not be stored (%s); storing them one by one", len(batch), exc)
            for waiting in batch:
                await self._write([waiting])
            return
        for (_, future), task in zip(batch, created, strict=True):
            settle(future, task)


def settle(future: asyncio.Future[Task], outcome: Task | Exception) -> None:
    """Resolve a submission's future, unless its request has gone (cancelled)."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
