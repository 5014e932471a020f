"""A worker process: N slots running tasks from the queue, heartbeats, recovery, and a graceful stop.

When `stop` is set (the CLI sets it on SIGTERM) the worker takes no more tasks, lets running ones finish
within the grace period, then stops them and gives them back to the queue: an operator's stop is not the
task's fault, so the interrupted attempt is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from functools import partial

from playwright.async_api import async_playwright

from rebrowse.browser.display import live_view_available
from rebrowse.browser.egress import EgressPolicy, running_proxies
from rebrowse.hosting import secret_key
from rebrowse.queue.app import DEFAULT_QUEUE, JobLoop, Queue, register_worker_job, work, worker_queue
from rebrowse.settings import ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.recovery import Recovery, RecoveryOptions, beat
from rebrowse.worker.runner import TaskRunner
from rebrowse.worker.slots import LiveView, SlotPool, launch_slot_browser
from rebrowse.worker.state import WorkerState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """Tuning of a worker that the deployment rarely changes."""

    grace_period_s: float = 30.0  # on stop, how long running tasks may take to finish before they are requeued
    max_browser_memory_mb: float = 2048.0  # per slot: the slots' Chromium above this many times slots is retired
    # Fallbacks only: new jobs, freed locks and abort requests arrive by LISTEN/NOTIFY.
    fetch_polling_interval_s: float = 2.0
    abort_polling_interval_s: float = 1.0
    restart_delay_s: float = 2.0  # before starting the job loop again after it stopped on its own
    recovery: RecoveryOptions = field(default_factory=RecoveryOptions)


def default_worker_name() -> str:
    """A name unique to this process: its host and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def worker_queues(name: str) -> list[str]:
    """The queues a worker takes jobs from: everyone's, and the one of tasks pinned to it."""
    return [DEFAULT_QUEUE, worker_queue(name)]


async def run_worker(
    settings: ServerSettings,
    *,
    db: Database,
    queue: Queue,
    stop: asyncio.Event,
    sealer: Sealer | None = None,
    state: WorkerState | None = None,
    options: WorkerOptions | None = None,
) -> None:
    """Run tasks in `settings.slots` slots until `stop` is set (the queue app must be open)."""
    options = options or WorkerOptions()
    state = state or WorkerState(settings.worker_name or default_worker_name())
    sealer = sealer or Sealer(secret_key(settings))
    await beat(db, state.name)  # before the slow start: its child-process API takes pinned tasks from now on
    policy = EgressPolicy.from_settings(settings.browser_allow_hosts, settings.browser_deny_private)
    # The browser itself goes through the first proxy, each slot through its own: a denial is the slot's task's.
    async with running_proxies(policy, settings.slots + 1) as proxies, async_playwright() as playwright:
        launch = partial(launch_slot_browser, playwright, settings.engine.chromium, proxy=proxies[0].proxy_url)
        live = live_view(settings, sealer)
        slots = SlotPool(
            launch, settings.slots, max_memory_mb=options.max_browser_memory_mb, live=live, egress=proxies[1:]
        )
        try:
            await slots.start()
            runner = TaskRunner(db=db, sealer=sealer, settings=settings, slots=slots, state=state)
            register_worker_job(queue, runner)
            recovery = Recovery(db=db, sealer=sealer, queue=queue, settings=settings, state=state)
            recovering = asyncio.create_task(recovery.run(stop, options.recovery), name="recovery")
            try:
                await run_jobs(queue, settings, state.name, stop, options)
            finally:
                recovering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovering
        finally:
            await slots.close()


def live_view(settings: ServerSettings, sealer: Sealer) -> LiveView | None:
    """How slots run with live view; None (headless slots) when it is off or cannot run here."""
    if not settings.live_view:
        return None
    reason = live_view_available()
    if reason is not None:
        logger.warning("live view is off: %s", reason)
        return None
    return LiveView(settings.screen, sealer, listen=settings.vnc_listen, advertise=settings.vnc_advertise)


async def run_jobs(
    queue: Queue, settings: ServerSettings, name: str, stop: asyncio.Event, options: WorkerOptions
) -> None:
    """The queue's job loop until `stop`; started again when it ends on its own (e.g. database lost)."""
    loop = JobLoop(
        concurrency=settings.slots,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        stalled_after_s=settings.stalled_after_s,
        fetch_polling_interval_s=options.fetch_polling_interval_s,
        abort_polling_interval_s=options.abort_polling_interval_s,
        grace_period_s=options.grace_period_s,
    )
    while not stop.is_set():
        jobs = asyncio.create_task(work(queue, name, worker_queues(name), loop), name="jobs")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({jobs, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            # Cancelling the job loop is its graceful stop: no new jobs, the grace period, then aborts.
            jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
            return
        stopping.cancel()
        error = jobs.exception()
        logger.error("the job loop of worker %s stopped (%s); starting it again", name, error or "no error")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), options.restart_delay_s)
