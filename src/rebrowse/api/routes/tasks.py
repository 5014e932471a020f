"""Tasks: status, details, listing, outputs, files and cancellation."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from rebrowse.api import artifacts
from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import ServicesDep, find_task
from rebrowse.api.errors import BadRequest, Conflict
from rebrowse.api.saving import save_version
from rebrowse.api.schemas import (
    ERRORS,
    NAME_PATTERN,
    AutomationSaved,
    CallbackSummary,
    CancelResult,
    ErrorBody,
    Healing,
    ResumeResult,
    TaskDetail,
    TaskDownloads,
    TaskOutput,
    TaskPage,
    TaskScreenshot,
    TaskSummary,
)
from rebrowse.api.submission import cancel
from rebrowse.api.views import task_detail, task_summary
from rebrowse.automation.sealed import redacted
from rebrowse.settings import ServerSettings
from rebrowse.store import callbacks, tasks

router = APIRouter(prefix="/api/v1", tags=["tasks"], responses=ERRORS)
TaskIdQuery = Annotated[str, Query(max_length=100)]


def file_responses(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {}}, "description": "The file"},
        307: {"description": "The file's short-lived presigned URL in object storage (REBROWSE_ARTIFACTS_PRESIGNED)"},
    }


@router.get("/task_status", operation_id="get_task_status")
async def task_status(task_id: TaskIdQuery, services: ServicesDep, caller: CallerDep) -> TaskSummary:
    """A task's status, timestamps, retry count and error."""
    return task_summary(await find_task(services, caller.account.id, task_id))


@router.get("/tasks", operation_id="list_tasks")
async def list_tasks(
    services: ServicesDep,
    caller: CallerDep,
    status: tasks.TaskStatus | None = None,
    endpoint_name: Annotated[str | None, Query(pattern=NAME_PATTERN, description="exactly this endpoint")] = None,
    endpoint_contains: Annotated[
        str | None, Query(pattern=NAME_PATTERN, description="part of the endpoint's name, in any case")
    ] = None,
    task_id: Annotated[
        str | None, Query(pattern=r"^[0-9A-Fa-f-]{1,36}$", description="the task id or its first characters")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    """The account's tasks, newest first, a page at a time."""
    try:
        async with services.db.connection() as conn:
            found, next_cursor = await tasks.list_tasks(
                conn,
                caller.account.id,
                status=status,
                endpoint_name=endpoint_name,
                endpoint_contains=endpoint_contains,
                task_id_prefix=task_id,
                cursor=cursor,
                limit=limit,
            )
    except ValueError:
        raise BadRequest("cursor: is not a next_cursor this API returned") from None
    return TaskPage(tasks=[task_summary(task) for task in found], next_cursor=next_cursor)


@router.get("/tasks/{task_id}", operation_id="get_task")
async def get_task(task_id: str, services: ServicesDep, caller: CallerDep) -> TaskDetail:
    """Everything about a task: lifecycle, inputs, outputs, file links and its callback's delivery."""
    task = await find_task(services, caller.account.id, task_id)
    async with services.db.connection() as conn:
        history = await callbacks.list_for_task(conn, caller.account.id, task.id)
    summaries = [
        CallbackSummary(
            event_id=h.event.id,
            state=h.event.state,
            attempts=h.event.attempts,
            last_error=h.event.last_error,
            next_attempt_at=h.event.next_attempt_at if h.event.state == "pending" else None,
            delivered_at=h.event.delivered_at,
        )
        for h in history
    ]
    return task_detail(services.settings, task, summaries)


@router.get("/get_output_data", operation_id="get_output_data")
async def get_output_data(task_id: TaskIdQuery, services: ServicesDep, caller: CallerDep) -> TaskOutput:
    """The data the task extracted."""
    task = await find_task(services, caller.account.id, task_id)
    return TaskOutput(
        task_id=task.id, status=task.status, output_data=task.output_data, for_loop_status=task.for_loop_status
    )


@router.get("/get_downloads", operation_id="get_downloads")
async def get_downloads(task_id: TaskIdQuery, services: ServicesDep, caller: CallerDep) -> TaskDownloads:
    """The files the task downloaded, with URLs this API serves (send your API key)."""
    task = await find_task(services, caller.account.id, task_id)
    return TaskDownloads(
        task_id=task.id, status=task.status, downloads=artifacts.download_links(services.settings, task)
    )


@router.get(
    "/tasks/{task_id}/downloads/{filename}",
    operation_id="get_download_file",
    response_class=Response,
    responses=file_responses("application/octet-stream"),
)
async def download_file(task_id: str, filename: str, services: ServicesDep, caller: CallerDep) -> Response:
    """One file the task downloaded (a 307 to a short-lived URL of the object store when it is set to presign)."""
    task = await find_task(services, caller.account.id, task_id)
    return await artifacts.download_file(services.artifacts, task, filename)


@router.get("/final_screenshot", operation_id="get_final_screenshot")
async def final_screenshot(task_id: TaskIdQuery, services: ServicesDep, caller: CallerDep) -> TaskScreenshot:
    """The page when the task ended, as base64 PNG (null when there is none)."""
    task = await find_task(services, caller.account.id, task_id)
    data = await artifacts.screenshot_bytes(services.artifacts, task)
    encoded = base64.b64encode(data).decode() if data is not None else None
    return TaskScreenshot(task_id=task.id, status=task.status, final_screenshot=encoded)


@router.get(
    "/tasks/{task_id}/screenshot",
    operation_id="get_screenshot_file",
    response_class=Response,
    responses=file_responses("image/png"),
)
async def screenshot_file(task_id: str, services: ServicesDep, caller: CallerDep) -> Response:
    """The page when the task ended, as a PNG file (or a 307 to a short-lived URL of the object store)."""
    task = await find_task(services, caller.account.id, task_id)
    return await artifacts.screenshot_file(services.artifacts, task)


@router.post(
    "/tasks/{task_id}/cancel",
    operation_id="cancel_task",
    responses={409: {"model": ErrorBody, "description": "The task has already ended"}},
)
async def cancel_task(task_id: str, services: ServicesDep, caller: CallerDep) -> CancelResult:
    """Cancel a task: a waiting one at once, a running one within seconds."""
    task = await cancel(services, await find_task(services, caller.account.id, task_id))
    message = "Task cancelled" if task.is_terminal else "Cancellation requested: the task stops within seconds"
    return CancelResult(task_id=task.id, status=task.status, message=message)


@router.post(
    "/tasks/{task_id}/resume",
    operation_id="resume_task",
    responses={409: {"model": ErrorBody, "description": "The task is not waiting for a person"}},
)
async def resume_task(task_id: str, services: ServicesDep, caller: CallerDep) -> ResumeResult:
    """A person is done: a task waiting at a human_in_loop_action (or captcha_action) step goes on, on the same page
    (what the dashboard's Done button does). Its worker, on any host, wakes at once."""
    task = await find_task(services, caller.account.id, task_id)
    async with services.db.transaction() as conn:
        resumed = await tasks.end_wait(conn, task.id, caller.account.id)
    if not resumed:
        raise Conflict(f"Task {task.id} is not waiting for a person (status {task.status}): there is nothing to resume")
    return ResumeResult(task_id=task.id, status=task.status, message="Resumed: the task goes on")


@router.get(
    "/tasks/{task_id}/cached_automation",
    operation_id="get_cached_automation",
    responses={404: {"model": ErrorBody, "description": "No such task, or its run left no cached automation"}},
)
async def get_cached_automation(task_id: str, services: ServicesDep, caller: CallerDep) -> dict[str, Any]:
    """The automation the task's run wrote with the model's steps made deterministic (the fixed version when it
    healed): replaying it asks no model. Secure parameters' values read "[sealed]"."""
    task = await find_task(services, caller.account.id, task_id)
    definition = await artifacts.cached_automation(services.artifacts, task)
    return redacted(definition)


@router.post(
    "/tasks/{task_id}/cached_automation/save",
    operation_id="save_cached_automation",
    responses={
        404: {"model": ErrorBody, "description": "No such task, or its run left no cached automation"},
        409: {"model": ErrorBody, "description": "The automation was changed or deleted since the task ran"},
        422: {"model": ErrorBody, "description": "The cached automation is no longer valid (errors give JSON paths)"},
    },
)
async def save_cached_automation(task_id: str, services: ServicesDep, caller: CallerDep) -> AutomationSaved:
    """Store the task's cached automation as the next version of the automation it ran (409 when that version is
    no longer the newest); the stored secure parameters' values are kept."""
    task = await find_task(services, caller.account.id, task_id)
    definition = await artifacts.cached_automation(services.artifacts, task)
    description = f"{'fixed' if task.healed else 'cached'} version of task {task.id}"
    return await save_version(
        services, caller.account.id, task.endpoint_name, definition, description, based_on=task.automation_version
    )


# ---------------------------------------------------------------------------------------------------------
# Steps: the engine's step records (steps.jsonl in the task's artifacts), for the dashboard's timeline


class LlmCallBody(BaseModel):
    """One question a step asked a model (rebrowse.llm.client.LlmCall)."""

    purpose: str = Field(description="What the step asked for, e.g. llm_query")
    model: str
    requested: str | None = Field(default=None, description="The model the automation named, when another answered")
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = Field(default=0, description="Requests sent to the provider (retries and tool rounds included)")
    latency_ms: float = 0.0
    attempts: int = 1
    decision: str | None = Field(default=None, description="The model's answer, shortened, secrets masked")
    error: str | None = Field(default=None, description="Why the call got no valid answer")


class StepBody(BaseModel):
    index: int
    attempt: int
    path: str = Field(description="The node's JSON path in the automation, e.g. nodes[3]")
    action: str
    locator: str | None
    iteration: int | None
    url: str | None
    started_at: datetime | None
    duration_ms: float
    outcome: str = Field(description="running, success, failed or skipped")
    error: str | None
    detail: str | None
    screenshot: str | None = Field(description="URL of the step's screenshot (PNG), when one was taken")
    blocked: list[str] = Field(
        default_factory=list,
        description="What the egress policy kept the step's pages from reaching: URL or host:port (reason)",
    )
    llm_calls: list[LlmCallBody] = Field(default_factory=list, description="Every question the step asked a model")
    healed: Healing | None = Field(default=None, description="The failed command the model replaced, if it did")


class TaskSteps(BaseModel):
    task_id: uuid.UUID
    status: tasks.TaskStatus
    steps: list[StepBody]
    trace: str | None = Field(
        default=None, description="URL of the task's Playwright trace (zip), when REBROWSE_TRACE kept one"
    )
    trace_viewer: str | None = Field(
        default=None, description="URL of Playwright's trace viewer, served by the API, opening that trace"
    )


def step_body(settings: ServerSettings, task: tasks.Task, record: dict[str, Any]) -> StepBody:
    """A step record as the API shows it: its start as a date, its screenshot as a URL."""
    shot, started = record.get("screenshot"), record.get("started_at")
    values = {name: record.get(name) for name in StepBody.model_fields}
    values["started_at"] = datetime.fromtimestamp(started, UTC) if started else None
    # None in records written before these fields existed.
    values["blocked"] = record.get("blocked") or []
    values["llm_calls"] = record.get("llm_calls") or []
    values["console"] = record.get("console") or []
    values["failed_requests"] = record.get("failed_requests") or []
    if shot:
        values["screenshot"] = f"{settings.base_url}/api/v1/tasks/{task.id}/steps/screenshots/{Path(shot).name}"
    return StepBody.model_validate(values)


@router.get("/tasks/{task_id}/steps", operation_id="list_task_steps")
async def list_task_steps(task_id: str, services: ServicesDep, caller: CallerDep) -> TaskSteps:
    """Each step the task ran (every attempt): node path, action, locator, timing, outcome and screenshot."""
    task = await find_task(services, caller.account.id, task_id)
    records = await artifacts.step_records(services.artifacts, task)
    steps = [step_body(services.settings, task, r) for r in records]
    if await artifacts.latest_trace(services.artifacts, task, records) is None:
        return TaskSteps(task_id=task.id, status=task.status, steps=steps)
    trace, viewer = artifacts.trace_links(services.settings, task)
    return TaskSteps(task_id=task.id, status=task.status, steps=steps, trace=trace, trace_viewer=viewer)


@router.get(
    "/tasks/{task_id}/trace",
    operation_id="get_task_trace",
    response_class=Response,
    responses=file_responses("application/zip"),
)
async def trace_file(task_id: str, services: ServicesDep, caller: CallerDep) -> Response:
    """The task's Playwright trace (its last attempt that kept one): every action with DOM snapshots, console and
    network; open it with `playwright show-trace` or the trace viewer the API serves (`trace_viewer` of its steps)."""
    task = await find_task(services, caller.account.id, task_id)
    return await artifacts.trace_file(services.artifacts, task)


@router.get(
    "/tasks/{task_id}/steps/screenshots/{filename}",
    operation_id="get_step_screenshot_file",
    response_class=Response,
    responses=file_responses("image/png"),
)
async def step_screenshot_file(task_id: str, filename: str, services: ServicesDep, caller: CallerDep) -> Response:
    """The screenshot of one step; only files the task's step records name are served."""
    task = await find_task(services, caller.account.id, task_id)
    records = await artifacts.step_records(services.artifacts, task)
    recorded = {Path(r["screenshot"]).name for r in records if isinstance(r.get("screenshot"), str)}
    return await artifacts.step_screenshot_file(services.artifacts, task, filename, recorded)
