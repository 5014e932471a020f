"""What a worker is doing right now, as its child-process API reports it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunningTask:
    task_id: uuid.UUID
    limit_s: float  # the whole budget of the task: every attempt's time limit, plus a margin
    started: float = field(default_factory=time.monotonic)

    def overdue(self, now: float) -> bool:
        """Whether the task has run longer than its limit."""
        return now - self.started > self.limit_s


class WorkerState:
    """The tasks this worker runs, and the identity its child-process API was given."""

    def __init__(self, name: str, child_process_id: str = "0") -> None:
        self.name = name
        self.child_process_id = child_process_id
        self.unique_child_arn = name
        self._running: dict[uuid.UUID, RunningTask] = {}
        self._held: set[uuid.UUID] = set()  # tasks whose job this worker is processing, from its start to its end

    def hold(self, task_id: uuid.UUID) -> None:
        """The task's job is being processed here."""
        self._held.add(task_id)

    def let_go(self, task_id: uuid.UUID) -> None:
        """The task's job is no longer processed here."""
        self._held.discard(task_id)

    def holds(self, task_id: uuid.UUID) -> bool:
        """Whether the task's job is being processed here."""
        return task_id in self._held

    def begin(self, task_id: uuid.UUID, limit_s: float) -> None:
        """Record that a task runs here, with how long it may take."""
        self._running[task_id] = RunningTask(task_id, limit_s)

    def end(self, task_id: uuid.UUID) -> None:
        """Record that the task no longer runs here."""
        self._running.pop(task_id, None)

    @property
    def task_running(self) -> bool:
        """Whether any task runs here now."""
        return bool(self._running)

    def overdue(self) -> RunningTask | None:
        """A task that has run past its limit (a worker in that state is unhealthy), if any."""
        now = time.monotonic()
        return next((task for task in self._running.values() if task.overdue(now)), None)
