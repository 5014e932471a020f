"""A task's files as the API serves them: links, and responses read through the ArtifactStore by names the task's
own records list (its downloads, its step records, its final screenshot and cached automation)."""

from __future__ import annotations

import json
import mimetypes
from typing import Any
from urllib.parse import quote

from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from rebrowse.api.errors import NotFound
from rebrowse.api.schemas import DownloadLink
from rebrowse.artifacts.layout import (
    STEPS,
    UnsafeName,
    download_name,
    step_screenshot_name,
    stored_name,
    trace_name,
)
from rebrowse.artifacts.store import ArtifactStore, StoredFile
from rebrowse.callbacks.payload import cached_automation_url, download_url, final_screenshot_url
from rebrowse.settings import ServerSettings
from rebrowse.store.tasks import Task

NO_SNIFF = {"X-Content-Type-Options": "nosniff"}
TRACE_VIEWER_PATH = "/trace-viewer"  # where the API serves Playwright's trace viewer (api/app.py)


def download_links(settings: ServerSettings, task: Task) -> list[DownloadLink]:
    """The task's downloads, each with the URL that serves it (the caller's API key is needed to fetch it)."""
    return [
        DownloadLink(
            filename=record["filename"],
            url=download_url(settings.base_url, task.id, record["filename"]),
            size=record.get("size"),
            metadata=record.get("metadata") or None,
        )
        for record in task.downloads or []
    ]


def served(found: StoredFile, media_type: str, *, filename: str | None = None) -> Response:
    """The response for a stored file: the file, a redirect to its presigned URL, or its streamed body."""
    headers = dict(NO_SNIFF)
    if found.url is not None:
        return RedirectResponse(found.url, status_code=307)
    if found.path is not None:
        return FileResponse(found.path, media_type=media_type, filename=filename, headers=headers)
    assert found.chunks is not None  # a StoredFile is a path, a URL or a body
    if filename is not None:
        headers["Content-Disposition"] = f"attachment; filename*=utf-8''{quote(filename)}"
    if found.size is not None:
        headers["Content-Length"] = str(found.size)
    return StreamingResponse(found.chunks(), media_type=media_type, headers=headers)


async def find(store: ArtifactStore, task: Task, name: str | None) -> StoredFile | None:
    return await store.find(task.id, name) if name is not None else None


def recorded_name(recorded: str | None) -> str | None:
    """The artifact name of a file the task's row records; None when it records none (or an unusable one)."""
    if recorded is None:
        return None
    try:
        return stored_name(recorded)
    except UnsafeName:
        return None


async def download_file(store: ArtifactStore, task: Task, filename: str) -> Response:
    """One of the task's downloads; only names the task recorded are served."""
    if filename in {record["filename"] for record in task.downloads or []}:
        try:
            found = await find(store, task, download_name(filename))
        except UnsafeName:
            found = None
        if found is not None:
            media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            return served(found, media_type, filename=filename)
    raise NotFound(f"Task {task.id} has no download named {filename[:200]!r}")


async def screenshot_file(store: ArtifactStore, task: Task) -> Response:
    """The task's final screenshot as a PNG."""
    found = await find(store, task, recorded_name(task.final_screenshot))
    if found is None:
        raise NotFound(f"Task {task.id} has no final screenshot")
    return served(found, "image/png")


def screenshot_url(settings: ServerSettings, task: Task) -> str | None:
    if task.final_screenshot is None:
        return None
    return final_screenshot_url(settings.base_url, task.id)


async def screenshot_bytes(store: ArtifactStore, task: Task) -> bytes | None:
    name = recorded_name(task.final_screenshot)
    return await store.read(task.id, name) if name is not None else None


async def step_screenshot_file(store: ArtifactStore, task: Task, filename: str, recorded: set[str]) -> Response:
    """The screenshot of one step; only files the task's step records name (`recorded`) are served."""
    if filename in recorded:
        try:
            found = await find(store, task, step_screenshot_name(filename))
        except UnsafeName:
            found = None
        if found is not None:
            return served(found, "image/png")
    raise NotFound(f"Task {task.id} has no step screenshot named {filename[:200]!r}")


async def step_records(store: ArtifactStore, task: Task) -> list[dict[str, Any]]:
    """The task's step records, oldest first (none before its run starts); a line cut short by a crash is skipped."""
    data = await store.read(task.id, STEPS)
    if data is None:
        return []
    records = []
    for line in data.decode(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def cached_automation_link(settings: ServerSettings, task: Task) -> str | None:
    """The URL that serves the task's cached automation; None when the run left none."""
    if recorded_name(task.cached_automation) is None:
        return None
    return cached_automation_url(settings.base_url, task.id)


async def cached_automation(store: ArtifactStore, task: Task) -> dict[str, Any]:
    """The automation JSON the task's run wrote; NotFound when it left none (it used no model, or it failed)."""
    name = recorded_name(task.cached_automation)
    data = await store.read(task.id, name) if name is not None else None
    if data is None:
        raise NotFound(
            f"Task {task.id} has no cached automation: only a run that succeeded with the help of a model leaves one"
        )
    try:
        definition = json.loads(data)
    except ValueError:
        definition = None
    if not isinstance(definition, dict):
        raise NotFound(f"The cached automation of task {task.id} is not a JSON object")
    return definition


async def latest_trace(store: ArtifactStore, task: Task, records: list[dict[str, Any]]) -> StoredFile | None:
    """The Playwright trace of the task's last attempt that kept one (REBROWSE_TRACE); None when none did."""
    attempts = {record["attempt"] for record in records if isinstance(record.get("attempt"), int)} | {1}
    for attempt in sorted(attempts, reverse=True):
        found = await store.find(task.id, trace_name(attempt))
        if found is not None:
            return found
    return None


async def trace_file(store: ArtifactStore, task: Task) -> Response:
    """The task's trace as a zip, for Playwright's trace viewer (`playwright show-trace` or the API's own)."""
    found = await latest_trace(store, task, await step_records(store, task))
    if found is None:
        raise NotFound(
            f"Task {task.id} has no trace: REBROWSE_TRACE keeps failed attempts' (on_failure) or all (always)"
        )
    return served(found, "application/zip", filename=f"trace-{task.id}.zip")


def trace_links(settings: ServerSettings, task: Task) -> tuple[str, str]:
    """The URL of the task's trace and that of the trace viewer opening it (same origin: the session's cookie)."""
    trace = f"{settings.base_url}/api/v1/tasks/{task.id}/trace"
    return trace, f"{settings.base_url}{TRACE_VIEWER_PATH}/index.html?trace={quote(trace, safe='')}"
