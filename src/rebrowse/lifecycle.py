"""Terminal transitions of a task: the status and its callback event are written in one transaction."""

from __future__ import annotations

import uuid

from rebrowse.callbacks import outbox
from rebrowse.store import tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer


async def complete_task(
    db: Database,
    sealer: Sealer,
    task_id: uuid.UUID,
    outcome: tasks.Outcome,
    *,
    public_url: str,
    final_screenshot: bytes | None = None,
) -> tasks.Task | None:
    """End the task with this outcome and queue its callback (with `final_screenshot`'s bytes when the submission
    asked for them); None when the task had already ended."""
    async with db.transaction() as conn:
        task = await tasks.finish_task(conn, task_id, outcome)
        if task is not None:
            await outbox.enqueue(conn, task, public_url=public_url, final_screenshot=final_screenshot)
    return task
