"""A recording task in a worker slot: Playwright's recorder on a fresh context of the slot's browser, opened on the
task's start URL, its steps written to the task as they come, until its owner asks for the draft.

The owner drives the browser through the live view (the task is interactive while it records); the stop request
is a flag on the task plus a NOTIFY on tasks.WAKE_CHANNEL, LISTENed on from before the flag is first read, so
none is missed and nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from playwright.async_api import Error as PlaywrightError

from rebrowse.engine.contexts import ContextSource, ContextSpec, first_page
from rebrowse.recorder.recording import RecordingInvalid, Step, describe_step
from rebrowse.recorder.session import RecordingSession
from rebrowse.store import notifications, tasks
from rebrowse.store.database import Database
from rebrowse.store.tasks import Outcome, Task

logger = logging.getLogger(__name__)

TIMED_OUT = "The recording reached its time limit ({minutes:g} min) before it was stopped; its steps are kept"


def step_json(step: Step) -> dict[str, Any]:
    """What the page shows of a recorded step: never a secret's value (the recorder drops it from the step)."""
    return {
        "kind": step.kind,
        "description": describe_step(step),
        "locator": step.locator.command if step.locator else None,
        "semantic": step.locator.semantic if step.locator else None,
        "secret": step.secret,
        "matches": step.matches,
        "ambiguous": step.ambiguous,
        "problem": step.problem,
    }


class StepsWriter:
    """Writes the steps to the task as they change: one write at a time, the newest steps in each."""

    def __init__(self, db: Database, task_id: uuid.UUID) -> None:
        self._db = db
        self._task_id = task_id
        self._pending: list[Step] | None = None
        self._writing: asyncio.Task[None] | None = None

    def steps_changed(self, steps: list[Step]) -> None:
        self._pending = steps
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._drain(), name=f"recording-steps-{self._task_id}")

    async def _drain(self) -> None:
        while self._pending is not None:
            steps, self._pending = self._pending, None
            try:
                await self.write({"steps": [step_json(step) for step in steps], "draft": None, "errors": []})
            except Exception as exc:
                logger.warning("recording %s: its steps could not be written yet: %s", self._task_id, exc)

    async def write(self, recording: dict[str, Any]) -> None:
        async with self._db.connection() as conn:
            await tasks.save_recording(conn, self._task_id, recording)

    async def close(self) -> None:
        """Stop writing steps (the draft follows); a write under way is waited for."""
        self._pending = None
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing


async def record(db: Database, contexts: ContextSource, spec: ContextSpec, task: Task) -> Outcome:
    """Record on the task's start URL until its owner stops it (or its time limit): the draft goes on the task."""
    assert task.start_url is not None  # every recording has one (POST /api/v1/recordings)
    writer = StepsWriter(db, task.id)
    context = await contexts.new_run_context(spec)
    session = await RecordingSession.start(context, on_change=writer.steps_changed)
    try:
        page = await first_page(context)
        await page.goto(task.start_url)
    except PlaywrightError as exc:
        await session.stop(task.start_url)
        await writer.close()
        return Outcome("failed", error=f"the recording could not open {task.start_url}: {exc.message}")
    stopped = await wait_for_stop(db, task.id, task.max_timeout_in_minutes * 60)
    try:
        draft: dict[str, Any] | None = await session.stop(task.start_url)
        errors: list[str] = []
    except RecordingInvalid as exc:
        draft, errors = None, exc.errors
    await writer.close()
    await writer.write({"steps": [step_json(step) for step in session.steps], "draft": draft, "errors": errors})
    error = None if stopped else TIMED_OUT.format(minutes=task.max_timeout_in_minutes)
    return Outcome("success" if stopped else "killed", error=error, steps_count=len(session.steps))


async def wait_for_stop(db: Database, task_id: uuid.UUID, timeout_s: float) -> bool:
    """True once the recording's owner asked for its draft; False at the time limit."""
    async with notifications.listening(db.url, tasks.WAKE_CHANNEL) as listener:
        async with db.connection() as conn:
            if await tasks.stop_requested(conn, task_id):
                return True
        try:
            async with asyncio.timeout(timeout_s):
                async for wake in listener.notifies():
                    if wake.payload == str(task_id):
                        return True
        except TimeoutError:
            return False
    return False
