"""The worker's PersonGate: a task's wait for a person, recorded on the task and ended through the database.

The wait is written on the task (`waiting_for`, the status stays running) with its `waiting_for_person` callback
in one transaction; whoever ends it (the API's resume, on any host) clears it and NOTIFYs tasks.WAKE_CHANNEL, which
this gate LISTENs on from before the wait is written, so no wake-up is missed and nothing polls.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from rebrowse.callbacks import outbox
from rebrowse.store import notifications, tasks
from rebrowse.store.database import Database
from rebrowse.store.tasks import Waiting

logger = logging.getLogger(__name__)


class DatabaseGate:
    """Waits of one task, ended by a resume through the database."""

    def __init__(self, db: Database, task_id: uuid.UUID, *, public_url: str) -> None:
        self._db = db
        self._task_id = task_id
        self._public_url = public_url

    async def wait_for_person(self, message: str, node: str, timeout_s: float) -> None:
        async with notifications.listening(self._db.url, tasks.WAKE_CHANNEL) as listener:
            await self._begin(message, node, timeout_s)
            try:
                async with asyncio.timeout(timeout_s):
                    async for wake in listener.notifies():
                        if wake.payload == str(self._task_id):
                            return
            finally:
                await self._end()

    async def _begin(self, message: str, node: str, timeout_s: float) -> None:
        """Record the wait and queue its callback together."""
        now = datetime.now(UTC)
        waiting = Waiting(message=message, node=node, since=now, deadline=now + timedelta(seconds=timeout_s))
        async with self._db.transaction() as conn:
            task = await tasks.begin_wait(conn, self._task_id, waiting)
            if task is not None:
                await outbox.enqueue_waiting(conn, task, public_url=self._public_url)
        logger.info("waiting for a person", extra={"node": node, "max_wait_s": timeout_s})

    async def _end(self) -> None:
        """The wait is over (a person, the time limit or a cancel): the task no longer says it waits."""
        try:
            async with self._db.connection() as conn:
                await tasks.end_wait(conn, self._task_id)
        except Exception as exc:  # the task's ending clears it too: never hide how the step ended
            logger.warning("could not clear the task's wait for a person: %s", exc)
