"""The job that runs one task: allocate it, replay its pinned automation in a slot, record how it ended.

Every way out ends the task or gives it back to the queue: success, failure, time limit (the engine's
`killed`), a cancel (asyncio cancellation of the job), an unexpected error, or the worker stopping.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from rebrowse import lifecycle
from rebrowse.artifacts.layout import FINAL_SCREENSHOT, stored_name
from rebrowse.artifacts.store import artifact_store
from rebrowse.automation.loading import load_automation
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.schema import Automation
from rebrowse.browser.egress import EgressPolicy
from rebrowse.browser.launch import find_chrome
from rebrowse.browser.windows import ScreenArea
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.contexts import ContextSpec
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from rebrowse.errors import AutomationInvalid, RebrowseError
from rebrowse.llm.client import LlmCall, LlmUsage
from rebrowse.observability.logs import TaskLog, task_logging
from rebrowse.observability.metrics import BROWSER_RESTARTS
from rebrowse.queue.app import JobRun, WorkerStopping
from rebrowse.secrets.onepassword import OnePasswordResolver
from rebrowse.secrets.resolver import SecretResolver
from rebrowse.settings import ServerSettings
from rebrowse.store import automations, tasks, worker_slots
from rebrowse.store.database import DATABASE_DOWN, Database
from rebrowse.store.metrics import add_to_counter
from rebrowse.store.sealing import Sealer, SealingError
from rebrowse.store.tasks import Outcome, Task, Waiting
from rebrowse.worker import logins, recording
from rebrowse.worker.inbox import AccountInbox
from rebrowse.worker.live_steps import LiveSteps
from rebrowse.worker.person import DatabaseGate
from rebrowse.worker.slots import Slot, SlotPool
from rebrowse.worker.state import WorkerState

logger = logging.getLogger(__name__)

CANCELLED = "Task cancelled by user"
# Playwright's own message ("Target page, context or browser has been closed") does not say the browser died.
BROWSER_CRASHED = "Chromium stopped in the middle of the task (it crashed or was killed); the next task gets a new one"
# A task is reported overdue (unhealthy worker) only past every attempt's limit plus this margin.
OVERDUE_MARGIN_S = 60.0


class TaskUnrunnable(RebrowseError):
    """The task cannot start: its automation or its sealed parameters are not usable."""


class TaskRunner:
    """Runs tasks of this worker: the function behind the job "rebrowse.run_task"."""

    def __init__(
        self, *, db: Database, sealer: Sealer, settings: ServerSettings, slots: SlotPool, state: WorkerState
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._settings = settings
        self._slots = slots
        self._state = state
        self._artifacts = artifact_store(settings)
        token = settings.engine.onepassword_token
        # One 1Password client per worker: it authenticates once and serves every task.
        self._onepassword = OnePasswordResolver(token) if token else None

    async def __call__(self, job: JobRun, task_id: str) -> None:
        """Run the task to a terminal state (or back to the queue when this worker stops)."""
        task_uuid = uuid.UUID(task_id)
        self._state.hold(task_uuid)
        try:
            await self._process(job, task_uuid)
        finally:
            self._state.let_go(task_uuid)

    async def _process(self, job: JobRun, task_uuid: uuid.UUID) -> None:
        secrets = SecretResolver(aws_endpoint_url=self._settings.engine.aws_endpoint_url, onepassword=self._onepassword)
        # Counted from the steps as they end, for the endings without the engine's result (a cancel, a crash).
        usage = LlmUsage()
        # Every record logged while the task runs, by any logger, carries its id and goes through its redactor.
        with task_logging(task_uuid, secrets.redactor) as task_log:
            try:
                async with self._db.connection() as conn:
                    task = await tasks.mark_allocated(conn, task_uuid, self._state.name)
                if task is not None:  # None: it ended while it waited (cancelled), nothing to run
                    await self._run(task, secrets, task_log, usage)
            except asyncio.CancelledError:
                if not job.aborted_by_user():
                    logger.info("task given back to the queue: the worker is stopping")
                    await self._give_back(task_uuid)
                    raise WorkerStopping() from None
                await self._finish(task_uuid, Outcome("cancelled", error=CANCELLED, llm_usage=usage.to_json()))
                raise
            except TaskUnrunnable as exc:
                await self._finish(task_uuid, Outcome("failed", error=str(exc), llm_usage=usage.to_json()))
            except DATABASE_DOWN:
                # Not the task's fault, and ending it would need the database: the queue retries the job
                # (RetryInterruptedRuns) and the task runs again once the database is back.
                logger.warning("task %s: the database went away; the task will run again", task_uuid)
                raise
            except Exception as exc:
                logger.exception("task %s: unexpected error in the worker", task_uuid)
                error = f"the worker could not run the task: {exc}"
                await self._finish(task_uuid, Outcome("failed", error=error, llm_usage=usage.to_json()))

    async def _run(self, task: Task, secrets: SecretResolver, task_log: TaskLog, usage: LlmUsage) -> None:
        if task.kind == "recording":
            await self._record(task)
            return
        automation, automation_settings = await self._automation(task)
        secure = self._secure_parameters(task)
        try:
            login = await logins.prepare(self._db, self._sealer, self._settings, task, automation_settings)
        except logins.LoginUnusable as exc:
            raise TaskUnrunnable(str(exc)) from None
        for value in login.proxy.secrets if login.proxy is not None else []:
            secrets.redactor.add(value)
        logger.info("task started", extra={"endpoint": task.endpoint_name, "version": task.automation_version})

        async def on_attempt(number: int) -> None:
            task_log.attempt = task.retry_count + number
            logger.info("attempt %d started", task_log.attempt)
            async with self._db.connection() as conn:
                await tasks.mark_running(conn, task.id, task.retry_count + number - 1)

        try:
            await self._run_in_slot(task, automation, secure, secrets, on_attempt, usage, login)
        finally:
            await self._report_restarts()

    async def _run_in_slot(
        self,
        task: Task,
        automation: Automation,
        secure: dict[str, list[SecureParameter]],
        secrets: SecretResolver,
        on_attempt: Callable[[int], Awaitable[None]],
        usage: LlmUsage,
        login: logins.LoginSetup,
    ) -> None:
        async with self._slots.take_slot() as slot:
            if login.proxy is not None and slot.egress is None:
                raise TaskUnrunnable("use_proxy: this worker's slots have no egress proxy to chain the proxy behind")
            contexts = await slot.for_task()
            # Before the task is marked running, so the stream endpoint always finds where to watch it.
            await self._publish(slot, task.id)
            live = LiveSteps(self._artifacts, task.id)
            if slot.egress is not None:
                slot.egress.upstream = login.proxy
            try:
                self._state.begin(task.id, time_budget_s(task, automation))
                try:
                    result = await run_automation(
                        contexts,
                        automation,
                        options=self._run_options(task, window=slot.window),
                        inputs=task.input_parameters,
                        secure=secure,
                        secrets=secrets,
                        listener=lambda record: step_ended(record, usage, live),
                        on_attempt=on_attempt,
                        egress=slot.egress,
                        inbox=self._inbox(task, slot.egress.policy if slot.egress is not None else None),
                        session=login.state,
                        keep_session=login.reuse_session,
                    )
                except DATABASE_DOWN:
                    raise  # from on_attempt: see __call__
                except Exception as exc:
                    if slot.browser is None or not slot.browser.is_connected():
                        raise TaskUnrunnable(BROWSER_CRASHED) from None
                    # A crash (a secret could not be fetched...): its message and chain may hold secret values,
                    # so only the redacted message goes on.
                    raise RebrowseError(secrets.redactor.redact_text(str(exc))) from None
                finally:
                    self._state.end(task.id)
                    await live.close()
                    # Before the task ends: once it has, the API serves its files from the store.
                    screenshot = await self._keep_artifacts(task)
                await logins.keep(self._db, self._sealer, task, login, result.browser_state)
                await self._finish(task.id, outcome_of(result), screenshot=screenshot)
            finally:
                if slot.egress is not None:
                    slot.egress.upstream = None
                await self._unpublish(slot)

    async def _record(self, task: Task) -> None:
        """A recording in a slot, watched and driven by its owner through the live view until they stop it."""
        logger.info("recording started")
        async with self._slots.take_slot() as slot:
            contexts = await slot.for_task()
            await self._publish(slot, task.id)  # before it runs: the owner's live view finds it at once
            try:
                async with self._db.connection() as conn:
                    await tasks.mark_running(conn, task.id, task.retry_count)
                self._state.begin(task.id, task.max_timeout_in_minutes * 60 + OVERDUE_MARGIN_S)
                try:
                    proxy = slot.egress.proxy_url if slot.egress is not None else None
                    spec = ContextSpec(window=slot.window, proxy=proxy)
                    outcome = await recording.record(self._db, contexts, spec, task)
                finally:
                    self._state.end(task.id)
                await self._finish(task.id, outcome)
            finally:
                await self._unpublish(slot)

    async def _keep_artifacts(self, task: Task) -> bytes | None:
        """Store what the run wrote (however it ended), and return the final screenshot when the task's callback
        carries it; a store that cannot be reached costs the files, not the task's outcome."""
        working = self._artifacts.working_dir(task.id)
        screenshot = None
        if task.callback_include_screenshot and (working / FINAL_SCREENSHOT).is_file():
            screenshot = await asyncio.to_thread((working / FINAL_SCREENSHOT).read_bytes)
        try:
            await self._artifacts.keep(task.id)
        except Exception as exc:
            logger.warning("task %s: its artifacts could not be stored: %s", task.id, exc)
        return screenshot

    async def _report_restarts(self) -> None:
        """Add the slots' browser restarts to the durable counter /metrics reads; kept for later if that fails."""
        count = self._slots.restarts_to_report()
        if count == 0:
            return
        self._slots.mark_restarts_reported(count)  # before the write, so a task ending meanwhile does not add them too
        try:
            async with self._db.connection() as conn:
                await add_to_counter(conn, BROWSER_RESTARTS, count)
        except Exception as exc:
            self._slots.mark_restarts_reported(-count)
            logger.warning("could not record %d browser restart(s): %s", count, exc)

    async def _publish(self, slot: Slot, task_id: uuid.UUID) -> None:
        """Record that the slot runs the task, and where its live view is (none when headless)."""
        async with self._db.connection() as conn:
            await worker_slots.publish(conn, self._state.name, slot.index, task_id, slot.vnc)

    async def _unpublish(self, slot: Slot) -> None:
        """The slot runs nothing now; a failure here must not hide how the task ended (the API also checks status)."""
        try:
            async with self._db.connection() as conn:
                await worker_slots.publish(conn, self._state.name, slot.index, None, slot.vnc)
        except Exception as exc:
            logger.warning("slot %d: could not record that it is free: %s", slot.index, exc)

    async def _automation(self, task: Task) -> tuple[Automation, dict[str, Any]]:
        """The task's pinned automation version (or the draft it carries, which has no settings), with only the
        attempts it has left, and its settings."""
        definition, settings = (
            (task.inline_automation, {}) if task.inline_automation is not None else await self._stored(task)
        )
        try:
            automation = load_automation(
                definition,
                allow_python_scripts=self._settings.engine.allow_python_scripts,
                captcha_by_person=self._settings.engine.captcha_by_person,
            )
        except AutomationInvalid as exc:
            raise TaskUnrunnable(f"automation {task.endpoint_name} cannot run here: {exc}") from None
        # Attempts lost with a worker count against the automation's retries.
        remaining = max(0, automation.max_retries - task.retry_count)
        return automation.model_copy(update={"max_retries": remaining}), settings

    async def _stored(self, task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
        """The definition of the task's pinned version, its secrets opened, and the version's settings."""
        async with self._db.connection() as conn:
            stored = await automations.get_automation(
                conn, task.account_id, task.endpoint_name, task.automation_version
            )
        if stored is None:
            raise TaskUnrunnable(f"automation {task.endpoint_name} version {task.automation_version} does not exist")
        try:
            return automations.with_secrets(stored, self._sealer), stored.settings
        except SealingError:
            raise TaskUnrunnable("the automation's secure parameters could not be opened") from None

    def _secure_parameters(self, task: Task) -> dict[str, list[SecureParameter]]:
        if task.secure_parameters is None:
            return {}
        try:
            sealed: dict[str, list[Any]] = self._sealer.open_json(task.secure_parameters)
            return {name: [SecureParameter.model_validate(v) for v in values] for name, values in sealed.items()}
        except (SealingError, ValidationError, ValueError, AttributeError, TypeError):
            # Never say more: the details would be about secret values.
            raise TaskUnrunnable("the task's secure parameters could not be opened") from None

    def _inbox(self, task: Task, policy: EgressPolicy | None) -> AccountInbox:
        """The messages of the task's account, for its two_fa_action steps; its mailbox is reached only where the
        task's browser may go."""

        async def note_wait(waiting: Waiting | None) -> None:
            async with self._db.connection() as conn:
                await tasks.set_waiting_for(conn, task.id, waiting)

        inbox = AccountInbox(
            self._db, self._sealer, task.account_id, slack_api_url=self._settings.slack_api_url, note_wait=note_wait
        )
        return inbox if policy is None else replace(inbox, policy=policy)

    def _run_options(self, task: Task, *, window: ScreenArea | None) -> RunOptions:
        engine = self._settings.engine
        return RunOptions(
            out_dir=self._artifacts.working_dir(task.id),
            timeout_minutes=task.max_timeout_in_minutes,
            screenshots=engine.screenshots,
            trace=engine.trace,
            allow_python_scripts=engine.allow_python_scripts,
            upload_dirs=(),
            window=window,
            llm=engine.llm,
            healing=engine.healing if task.healing is None else task.healing,
            chrome=find_chrome(engine.chrome),
            task_id=str(task.id),
            person=DatabaseGate(self._db, task.id, public_url=self._settings.base_url),
        )

    async def _finish(self, task_id: uuid.UUID, outcome: Outcome, *, screenshot: bytes | None = None) -> None:
        await lifecycle.complete_task(
            self._db, self._sealer, task_id, outcome, public_url=self._settings.base_url, final_screenshot=screenshot
        )
        logger.info("task ended: %s", outcome.status, extra=without_none(status=outcome.status, error=outcome.error))

    async def _give_back(self, task_id: uuid.UUID) -> None:
        """Back to the queue: the worker is stopping, which is not the task's fault (the attempt is not spent)."""
        async with self._db.connection() as conn:
            current = await tasks.get_task(conn, task_id)
            if current is not None and not current.is_terminal:
                await tasks.requeue(conn, task_id, f"worker {self._state.name} stopped", current.retry_count)


def time_budget_s(task: Task, automation: Automation) -> float:
    """How long the whole run may take: every attempt's limit, plus a margin for backoffs and artifacts."""
    return (automation.max_retries + 1) * task.max_timeout_in_minutes * 60 + OVERDUE_MARGIN_S


def step_ended(record: StepRecord, usage: LlmUsage, live: LiveSteps) -> None:
    """Log the step, count its model calls (what a cancelled run cost: it returns no result) and publish it."""
    log_step(record)
    live.step_ended(record)
    for call in record.llm_calls:
        usage.add(LlmCall(**call))


def log_step(record: StepRecord) -> None:
    """One log record per step (the engine has already masked its secrets): where, what, and how it ended."""
    level = logging.WARNING if record.outcome == "failed" else logging.DEBUG
    fields = without_none(
        node=record.path,
        action=record.action,
        outcome=record.outcome,
        duration_ms=round(record.duration_ms, 1),
        error=record.error,
    )
    logger.log(level, "step %s: %s", record.path, record.outcome, extra=fields)


def without_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def outcome_of(result: RunResult) -> Outcome:
    """The task's outcome from the engine's result: files by their names in the task's artifacts, not their paths
    on the worker."""
    return Outcome(
        status=result.status,
        error=result.error,
        output_data=result.output_data,
        for_loop_status=result.for_loop_status,
        downloads=[{"filename": d.filename, "size": d.size, "metadata": d.metadata} for d in result.downloads],
        final_screenshot=stored_name(result.final_screenshot) if result.final_screenshot else None,
        steps_count=len(result.steps),
        llm_usage=result.llm_usage,
        healed=result.healed,
        cached_automation=stored_name(result.cached_automation) if result.cached_automation else None,
    )
