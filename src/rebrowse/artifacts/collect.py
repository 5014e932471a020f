"""Garbage collection of artifacts: the files of tasks that ended longer ago than the retention are deleted
through the store (local folders or S3 objects alike)."""

from __future__ import annotations

import logging

from rebrowse.artifacts.store import ArtifactStore
from rebrowse.store import tasks
from rebrowse.store.database import Database

logger = logging.getLogger(__name__)

BATCH = 500  # task ids looked up in one query


async def collect_expired(db: Database, store: ArtifactStore, retention_s: float) -> int:
    """Delete the stored files of every task that ended over `retention_s` ago; how many tasks' files went.
    Files of tasks still running, or unknown to this database, are left alone."""
    stored = await store.task_ids()
    deleted = 0
    for start in range(0, len(stored), BATCH):
        async with db.connection() as conn:
            expired = await tasks.ended_before(conn, stored[start : start + BATCH], retention_s)
        for task_id in expired:
            await store.delete(task_id)
        deleted += len(expired)
    if deleted:
        logger.info("deleted the artifacts of %d task(s) that ended over %.0f s ago", deleted, retention_s)
    return deleted
