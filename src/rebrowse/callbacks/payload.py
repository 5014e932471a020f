"""The body of a callback: Optexity's CallbackResponse fields, plus the event id and time of rebrowse's events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from rebrowse.store.tasks import Task


def download_url(public_url: str, task_id: uuid.UUID, filename: str) -> str:
    """Where the API serves one of a task's downloads (with the caller's API key)."""
    return f"{public_url.rstrip('/')}/api/v1/tasks/{task_id}/downloads/{quote(filename, safe='')}"


def final_screenshot_url(public_url: str, task_id: uuid.UUID) -> str:
    """Where the API serves a task's final screenshot (with the caller's API key)."""
    return f"{public_url.rstrip('/')}/api/v1/tasks/{task_id}/screenshot"


def cached_automation_url(public_url: str, task_id: uuid.UUID) -> str:
    """Where the API serves the cached automation a task's run wrote (with the caller's API key)."""
    return f"{public_url.rstrip('/')}/api/v1/tasks/{task_id}/cached_automation"


def downloads_fields(task: Task, public_url: str) -> dict[str, list[dict[str, Any]]]:
    """`downloads`, and `downloads_with_metadata` only when some download has metadata (as Optexity does)."""
    rows = task.downloads or []
    listed = [{"url": download_url(public_url, task.id, row["filename"]), "filename": row["filename"]} for row in rows]
    fields: dict[str, list[dict[str, Any]]] = {"downloads": listed}
    if any(row.get("metadata") for row in rows):
        fields["downloads_with_metadata"] = [
            {**entry, "metadata": row.get("metadata")} for entry, row in zip(listed, rows, strict=True)
        ]
    return fields


def resume_url(public_url: str, task_id: uuid.UUID) -> str:
    """Where a caller ends a task's wait for a person (POST, with the caller's API key)."""
    return f"{public_url.rstrip('/')}/api/v1/tasks/{task_id}/resume"


def build_waiting_payload(task: Task, *, event_id: uuid.UUID, created_at: datetime, public_url: str) -> dict[str, Any]:
    """The body of a `waiting_for_person` event: the running task waits for a person (sent only to subscribers)."""
    return {
        "event": "waiting_for_person",
        "event_id": str(event_id),
        "created_at": created_at.isoformat(),
        "task_id": str(task.id),
        "recording_id": f"{task.endpoint_name}:{task.automation_version}",
        "endpoint_name": task.endpoint_name,
        "status": task.status,
        "waiting_for": task.waiting_for,
        "resume_url": resume_url(public_url, task.id),
        "dashboard_url": f"{public_url.rstrip('/')}/tasks/{task.id}",
        "input_parameters": task.input_parameters,
        "unique_parameter_names": task.unique_parameter_names,
    }


def build_payload(
    task: Task, *, event_id: uuid.UUID, created_at: datetime, public_url: str, final_screenshot: str | None
) -> dict[str, Any]:
    """The callback body for a finished task; `final_screenshot` holds bytes only when the submission asked."""
    return {
        "event_id": str(event_id),
        "created_at": created_at.isoformat(),
        "task_id": str(task.id),
        # Optexity's receivers expect a recording id; rebrowse's equivalent is the automation's name and version.
        "recording_id": f"{task.endpoint_name}:{task.automation_version}",
        "endpoint_name": task.endpoint_name,
        "status": task.status,
        "error": task.error,
        "output_data": task.output_data,
        **downloads_fields(task, public_url),
        "final_screenshot": final_screenshot,
        "final_screenshot_url": final_screenshot_url(public_url, task.id) if task.final_screenshot else None,
        "input_parameters": task.input_parameters,
        "unique_parameter_names": task.unique_parameter_names,
        # rebrowse's own addition: what the task's LLM calls cost (LlmUsage), zeros when it asked no model.
        "llm_usage": task.llm_usage,
        # rebrowse's own addition: the steps whose failed command the model replaced (empty when none was).
        "healed": task.healed or [],
        # rebrowse's own addition: the automation with the model's steps made deterministic, when the run wrote it.
        "cached_automation_url": cached_automation_url(public_url, task.id) if task.cached_automation else None,
    }
