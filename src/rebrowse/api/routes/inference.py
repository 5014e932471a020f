"""Submitting tasks (Optexity's InferenceRequest) and Optexity's status call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from rebrowse.api.auth import CallerDep, SubmitterDep
from rebrowse.api.deps import ServicesDep, find_task
from rebrowse.api.errors import NotFound
from rebrowse.api.schemas import (
    ERRORS,
    NAME_PATTERN,
    CallStatus,
    ErrorBody,
    InferenceAccepted,
    InferenceRequest,
    TaskIdRequest,
)
from rebrowse.api.submission import submit
from rebrowse.api.views import call_status
from rebrowse.store import workers

router = APIRouter(prefix="/api/v1", tags=["inference"], responses=ERRORS)
ACCEPTED = "Task has been queued. Follow it with GET /api/v1/tasks/{task_id} or a callback."
WorkerName = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.post("/inference", operation_id="submit_inference", status_code=202)
async def submit_inference(body: InferenceRequest, services: ServicesDep, submitter: SubmitterDep) -> InferenceAccepted:
    """Queue a run of a named automation with these parameters."""
    task = await submit(services, submitter, body)
    return InferenceAccepted(message=ACCEPTED, task_id=task.id)


@router.post(
    "/workers/{worker_name}/inference",
    operation_id="submit_worker_inference",
    status_code=202,
    responses={404: {"model": ErrorBody, "description": "No worker of this name is running"}},
)
async def submit_worker_inference(
    worker_name: WorkerName, body: InferenceRequest, services: ServicesDep, submitter: SubmitterDep
) -> InferenceAccepted:
    """Queue a run that only this worker takes (a worker's local `POST /inference`); the worker must be running."""
    async with services.db.connection() as conn:
        if not await workers.alive(conn, worker_name, services.settings.stalled_after_s):
            raise NotFound(f"Worker not found: no worker named '{worker_name}' is running")
    task = await submit(services, submitter, body, pinned_worker=worker_name)
    return InferenceAccepted(message=ACCEPTED, task_id=task.id)


@router.post("/inference/call", operation_id="call_status")
async def inference_call(body: TaskIdRequest, services: ServicesDep, caller: CallerDep) -> CallStatus:
    """A task's status in the shape of Optexity's status call."""
    return call_status(await find_task(services, caller.account.id, body.task_id))
