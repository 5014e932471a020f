"""A task's files as the API serves them: links, and paths that cannot leave the task's directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rebrowse.api.errors import NotFound
from rebrowse.api.schemas import DownloadLink
from rebrowse.callbacks.payload import cached_automation_url, download_url, final_screenshot_url, read_screenshot
from rebrowse.settings import ServerSettings
from rebrowse.store.tasks import Task


def task_dir(settings: ServerSettings, task: Task) -> Path:
    return (settings.artifacts / str(task.id)).resolve()


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


def inside(path: Path, directory: Path) -> Path | None:
    """The resolved path when it is a file inside `directory` (symbolic links followed), else None."""
    resolved = path.resolve()
    return resolved if resolved.is_relative_to(directory) and resolved.is_file() else None


def download_file(settings: ServerSettings, task: Task, filename: str) -> Path:
    """The file of one of the task's downloads; only names the task recorded are served."""
    if filename in {record["filename"] for record in task.downloads or []}:
        found = inside(task_dir(settings, task) / "downloads" / filename, task_dir(settings, task) / "downloads")
        if found is not None:
            return found
    raise NotFound(f"Task {task.id} has no download named {filename[:200]!r}")


def screenshot_file(settings: ServerSettings, task: Task) -> Path | None:
    """The task's final screenshot, when it has one inside its artifacts directory."""
    if task.final_screenshot is None:
        return None
    return inside(Path(task.final_screenshot), task_dir(settings, task))


def screenshot_url(settings: ServerSettings, task: Task) -> str | None:
    if task.final_screenshot is None:
        return None
    return final_screenshot_url(settings.base_url, task.id)


async def screenshot_base64(settings: ServerSettings, task: Task) -> str | None:
    path = screenshot_file(settings, task)
    return await read_screenshot(str(path)) if path is not None else None


def cached_automation_file(settings: ServerSettings, task: Task) -> Path | None:
    """The cached automation the task's run wrote, when it is still inside its artifacts directory."""
    if task.cached_automation is None:
        return None
    return inside(Path(task.cached_automation), task_dir(settings, task))


def cached_automation_link(settings: ServerSettings, task: Task) -> str | None:
    """The URL that serves the task's cached automation; None when the run left none."""
    if cached_automation_file(settings, task) is None:
        return None
    return cached_automation_url(settings.base_url, task.id)


def cached_automation(settings: ServerSettings, task: Task) -> dict[str, Any]:
    """The automation JSON the task's run wrote; NotFound when it left none (it used no model, or it failed)."""
    path = cached_automation_file(settings, task)
    if path is None:
        raise NotFound(
            f"Task {task.id} has no cached automation: only a run that succeeded with the help of a model leaves one"
        )
    try:
        definition = json.loads(path.read_text())
    except ValueError:
        definition = None
    if not isinstance(definition, dict):
        raise NotFound(f"The cached automation of task {task.id} is not a JSON object")
    return definition
