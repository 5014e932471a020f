"""The step records of a running task, published to the artifact store as the steps end, so the API and the
dashboard's timeline show them before the run ends (with object storage, the run's files are uploaded at its end).

Uploads run in the background, one at a time, so a step never waits for the store; what piled up meanwhile goes in
the next one (the step records file once, with every new screenshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from rebrowse.artifacts.layout import STEPS
from rebrowse.artifacts.store import ArtifactStore
from rebrowse.engine.artifacts import StepRecord

logger = logging.getLogger(__name__)


class LiveSteps:
    """Publishes a running task's step records and their screenshots."""

    def __init__(self, store: ArtifactStore, task_id: uuid.UUID) -> None:
        self._store = store
        self._task_id = task_id
        self._pending: dict[str, None] = {}  # names in order, each once
        self._uploading: asyncio.Task[None] | None = None

    def step_ended(self, record: StepRecord) -> None:
        if record.screenshot:
            self._pending[record.screenshot] = None
        self._pending[STEPS] = None
        if self._uploading is None or self._uploading.done():
            self._uploading = asyncio.create_task(self._drain(), name=f"publish-steps-{self._task_id}")

    async def _drain(self) -> None:
        while self._pending:
            names, self._pending = list(self._pending), {}
            try:
                await self._store.publish(self._task_id, names)
            except Exception as exc:
                logger.warning("task %s: its steps could not be published yet: %s", self._task_id, exc)

    async def close(self) -> None:
        """Stop publishing (the run's end stores everything); an upload under way is waited for, not cut."""
        self._pending = {}
        if self._uploading is not None:
            with contextlib.suppress(Exception):
                await self._uploading
