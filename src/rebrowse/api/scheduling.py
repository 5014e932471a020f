"""Scheduled runs: a schedule's request stored with its secrets sealed, and the firing of the schedules a tick
matches, each tick creating its task at most once (the fired tick is recorded in the task's transaction).

The API process fires them: a small job loop of its own on the schedule queue takes procrastinate's periodic
job (one per minute across all processes), so a tick never waits behind a browser task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import replace
from datetime import datetime
from functools import partial

from pydantic import ValidationError

from rebrowse.api.cron import matches, minute_of
from rebrowse.api.deps import Services
from rebrowse.api.errors import BadRequest
from rebrowse.api.schemas import InferenceRequest, PutScheduleRequest
from rebrowse.api.submission import checked_task
from rebrowse.automation.loading import field_errors
from rebrowse.errors import RebrowseError
from rebrowse.queue.app import JobLoop, create_queued_tasks, make_schedule_queue, work_schedules
from rebrowse.store import schedules
from rebrowse.store.schedules import Schedule, ScheduleSpec
from rebrowse.store.tasks import NewTask, Task

logger = logging.getLogger("rebrowse.schedules")
SECRET_FIELDS = {"secure_parameters", "task_callback_api_key"}
SCHEDULE_FIELDS = {"cron", "timezone", "paused", "endpoint_name"}
RESTART_DELAY_S = 5.0
POLLING_INTERVAL_S = 5.0  # a fallback only: the tick's job arrives by LISTEN/NOTIFY


def schedule_spec(services: Services, body: PutScheduleRequest) -> ScheduleSpec:
    """What the store keeps of a PUT: the request without its secrets, and its secrets sealed."""
    secrets = body.model_dump(mode="json", include=SECRET_FIELDS, exclude_defaults=True)
    return ScheduleSpec(
        cron=body.cron,
        timezone=body.timezone,
        endpoint_name=body.endpoint_name,
        request=body.model_dump(mode="json", exclude=SECRET_FIELDS | SCHEDULE_FIELDS),
        sealed_request=services.sealer.seal_json(secrets) if secrets else None,
        paused=body.paused,
    )


def request_of(services: Services, schedule: Schedule) -> InferenceRequest:
    """The task request the schedule submits, its secrets opened; checked again, as the request model may have
    changed since it was stored (BadRequest naming the fields, never repeating their values)."""
    secrets = services.sealer.open_json(schedule.sealed_request) if schedule.sealed_request is not None else {}
    data = {**schedule.request, **secrets, "endpoint_name": schedule.endpoint_name}
    try:
        return InferenceRequest.model_validate(data)
    except ValidationError as exc:
        raise BadRequest.of_fields(field_errors(exc, data)) from None


async def fire_tick(services: Services, tick: datetime) -> list[Task]:
    """Fire every schedule that is not paused and whose cron expression includes the tick; returns the tasks this
    call created (a tick already fired elsewhere creates none here)."""
    tick = minute_of(tick)
    async with services.db.connection() as conn:
        active = await schedules.list_active(conn)
    created = []
    for schedule in active:
        if not matches(schedule.cron, schedule.timezone, tick):
            continue
        try:
            task = await fire(services, schedule, tick)
        except Exception:
            # One schedule's failure (e.g. the database went away) must not keep the others of the tick from firing.
            logger.exception("schedule %s of account %s could not fire at %s", schedule.name, schedule.account_id, tick)
            continue
        if task is not None:
            created.append(task)
    return created


async def fire(services: Services, schedule: Schedule, tick: datetime) -> Task | None:
    """Submit the schedule's task for this tick, unless the tick has fired already; a request its automation no
    longer accepts (or a deleted automation) fails the tick, recorded as the schedule's last_error."""
    new: NewTask | None = None
    error: str | None = None
    try:
        new = await checked_task(services, schedule.account_id, request_of(services, schedule))
    except RebrowseError as exc:
        error = f"the run at {tick.isoformat()} was not submitted: {exc}"
    async with services.db.transaction() as conn:
        if not await schedules.claim_tick(conn, schedule.id, tick):
            return None
        task = None
        if new is not None:
            (task,) = await create_queued_tasks(conn, [replace(new, schedule_name=schedule.name)])
        await schedules.record_tick(conn, schedule.id, tick, task.id if task else None, error)
    if error is not None:
        logger.warning("schedule %s of account %s: %s", schedule.name, schedule.account_id, error)
    return task


def scheduler_loop(services: Services) -> JobLoop:
    settings = services.settings
    return JobLoop(
        concurrency=1,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        stalled_after_s=settings.stalled_after_s,
        fetch_polling_interval_s=POLLING_INTERVAL_S,
        abort_polling_interval_s=POLLING_INTERVAL_S,
        grace_period_s=settings.stalled_after_s,
    )


async def run_scheduler(services: Services, stop: asyncio.Event) -> None:
    """Fire the schedules every minute until `stop`; the job loop starts again when it ends on its own (e.g. the
    database was lost)."""
    queue = make_schedule_queue(services.db.url, partial(fire_tick, services))
    name = f"scheduler-{socket.gethostname()}-{os.getpid()}"
    async with queue.open_async():
        while not stop.is_set():
            working = asyncio.create_task(work_schedules(queue, name, scheduler_loop(services)), name="schedules")
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                working.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await working
                return
            stopping.cancel()
            logger.error("the schedule loop stopped (%s); starting it again", working.exception() or "no error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_DELAY_S)
