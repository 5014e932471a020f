"""Recordings: a person records an automation in a worker slot's browser through the live view, then edits the
draft and saves it as a version of a named automation.

A recording is a task of kind "recording" (so it gets a slot, live view, cancel, heartbeats and recovery like any
task); its owner watches and drives it with GET /api/v1/tasks/{id}/stream?control=true.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import Services, ServicesDep, find_task
from rebrowse.api.errors import BadRequest, Conflict, NotFound
from rebrowse.api.saving import save_version
from rebrowse.api.schemas import (
    ERRORS,
    AutomationSaved,
    DeleteNode,
    DraftEdit,
    DraftRunAccepted,
    EditDraftRequest,
    ErrorBody,
    MakeSecret,
    MoveNode,
    RecordedStep,
    RecordingDetail,
    RecordingStarted,
    RenameParameter,
    RunDraftRequest,
    SaveRecordingRequest,
    StartRecordingRequest,
)
from rebrowse.api.submission import sealed_secure
from rebrowse.automation.loading import check_run_parameters
from rebrowse.browser.egress import EgressDenied, EgressPolicy
from rebrowse.errors import AutomationInvalid, FieldError
from rebrowse.recorder import editing
from rebrowse.store import tasks

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"], responses=ERRORS)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The recording is not in a state that allows this"}
}
NO_DRAFT = "Recording {id} has no draft yet: stop it first (POST /api/v1/recordings/{id}/stop)"


@router.post("", operation_id="start_recording", status_code=202)
async def start_recording(body: StartRecordingRequest, services: ServicesDep, caller: CallerDep) -> RecordingStarted:
    """Start recording in a worker slot's browser, opened on `url`; watch and drive it through the task's live view
    (GET /api/v1/tasks/{recording_id}/stream?control=true)."""
    await check_url(services, body.url)
    new = tasks.NewTask(
        account_id=caller.account.id,
        endpoint_name="",
        automation_version=0,
        input_parameters={},
        secure_parameters=None,
        unique_parameter_names=[],
        priority=None,
        max_timeout_in_minutes=body.max_timeout_in_minutes,
        callback_url=None,
        callback_api_key=None,
        kind="recording",
        start_url=body.url,
    )
    task = await services.task_writer.create(new)
    return RecordingStarted(recording_id=task.id, status=task.status)


async def check_url(services: Services, url: str) -> None:
    """An http(s) URL that the tasks' egress policy lets the browser reach; BadRequest naming `url` otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadRequest.of_fields([FieldError("url", "must be an http:// or https:// URL with a host")])
    settings = services.settings
    policy = EgressPolicy.from_settings(settings.browser_allow_hosts, settings.browser_deny_private)
    try:
        await policy.check_url(url)
    except EgressDenied as denied:
        raise BadRequest.of_fields([FieldError("url", f"the browser may not open it: {denied}")]) from None


@router.get("/{recording_id}", operation_id="get_recording")
async def get_recording(recording_id: str, services: ServicesDep, caller: CallerDep) -> RecordingDetail:
    """The steps recorded so far and, once stopped, the draft automation (with the edits made since)."""
    return detail(await find_recording(services, caller.account.id, recording_id))


@router.post("/{recording_id}/stop", operation_id="stop_recording", responses=CONFLICT)
async def stop_recording(recording_id: str, services: ServicesDep, caller: CallerDep) -> RecordingDetail:
    """Stop recording: the worker writes the draft (GET the recording until `draft` or `errors` is set)."""
    recording = await find_recording(services, caller.account.id, recording_id)
    async with services.db.transaction() as conn:
        if not await tasks.request_stop(conn, recording.id, caller.account.id):
            raise Conflict(f"Recording {recording.id} has already ended: {recording.status}")
    return detail(await find_recording(services, caller.account.id, recording_id))


@router.post("/{recording_id}/edits", operation_id="edit_recording", responses=CONFLICT)
async def edit_recording(
    recording_id: str, body: EditDraftRequest, services: ServicesDep, caller: CallerDep
) -> RecordingDetail:
    """Edit the draft: rename a parameter (its placeholders follow), make one secret (its recorded value dropped),
    delete or move a node. The edits apply in order, all or none."""
    recording = await find_recording(services, caller.account.id, recording_id)
    draft = draft_of(recording)
    for index, edit in enumerate(body.edits):
        try:
            draft = apply(draft, edit)
        except editing.EditInvalid as exc:
            raise BadRequest.of_fields([FieldError(f"edits[{index}]", str(exc))]) from None
    saved = {**(recording.recording or {}), "draft": draft}
    async with services.db.connection() as conn:
        await tasks.save_recording(conn, recording.id, saved)
    return detail(await find_recording(services, caller.account.id, recording_id))


def apply(draft: dict[str, Any], edit: DraftEdit) -> dict[str, Any]:
    if isinstance(edit, RenameParameter):
        return editing.rename_parameter(draft, edit.parameter, edit.to)
    if isinstance(edit, MakeSecret):
        return editing.make_secret(draft, edit.parameter)
    if isinstance(edit, DeleteNode):
        return editing.delete_node(draft, edit.node)
    assert isinstance(edit, MoveNode)
    return editing.move_node(draft, edit.node, edit.to)


@router.post(
    "/{recording_id}/save",
    operation_id="save_recording",
    responses={**CONFLICT, 422: {"model": ErrorBody, "description": "The draft is invalid (errors give JSON paths)"}},
)
async def save_recording(
    recording_id: str, body: SaveRecordingRequest, services: ServicesDep, caller: CallerDep
) -> AutomationSaved:
    """Store the draft as a new version of the named automation (what PUT /api/v1/automations/{name} does)."""
    recording = await find_recording(services, caller.account.id, recording_id)
    return await save_version(services, caller.account.id, body.endpoint_name, draft_of(recording), body.description)


@router.post(
    "/{recording_id}/run",
    operation_id="run_recording_draft",
    status_code=202,
    responses={**CONFLICT, 422: {"model": ErrorBody, "description": "The draft is invalid (errors give JSON paths)"}},
)
async def run_draft(
    recording_id: str, body: RunDraftRequest, services: ServicesDep, caller: CallerDep
) -> DraftRunAccepted:
    """Run the draft once, as it is now, without saving it: a task that carries the draft (follow it like any task)."""
    recording = await find_recording(services, caller.account.id, recording_id)
    draft = draft_of(recording)
    automation = services.automations.check(draft)
    inputs = draft["parameters"].get("input_parameters", {}) if body.input_parameters is None else body.input_parameters
    try:
        check_run_parameters(automation, inputs, body.secure_parameters)
    except AutomationInvalid as exc:
        raise BadRequest.of_fields(exc.errors) from None
    if missing := [name for name in automation.parameters.secure_parameters if name not in body.secure_parameters]:
        raise BadRequest.of_fields(
            [FieldError(f"secure_parameters.{name}", "is needed: no secret's value is recorded") for name in missing]
        )
    new = tasks.NewTask(
        account_id=caller.account.id,
        endpoint_name="",
        automation_version=0,
        input_parameters={name: list(values) for name, values in inputs.items()},
        secure_parameters=sealed_secure(services, body.secure_parameters),
        unique_parameter_names=[],
        priority=None,
        max_timeout_in_minutes=body.max_timeout_in_minutes,
        callback_url=None,
        callback_api_key=None,
        inline_automation=draft,
    )
    task = await services.task_writer.create(new)
    return DraftRunAccepted(task_id=task.id, status=task.status)


async def find_recording(services: Services, account_id: uuid.UUID, recording_id: str) -> tasks.Task:
    """The account's recording; NotFound for anything else (another account's, a task that is no recording)."""
    task = await find_task(services, account_id, recording_id)
    if task.kind != "recording":
        raise NotFound(f"Recording not found with ID: {recording_id[:100]}")
    return task


def draft_of(recording: tasks.Task) -> dict[str, Any]:
    draft = (recording.recording or {}).get("draft")
    if not isinstance(draft, dict):
        raise Conflict(NO_DRAFT.format(id=recording.id))
    return draft


def detail(recording: tasks.Task) -> RecordingDetail:
    recorded = recording.recording or {}
    return RecordingDetail(
        recording_id=recording.id,
        status=recording.status,
        start_url=recording.start_url or "",
        error=recording.error,
        stop_requested=recording.stop_requested,
        steps=[RecordedStep.model_validate(step) for step in recorded.get("steps", [])],
        draft=recorded.get("draft"),
        errors=list(recorded.get("errors", [])),
    )
