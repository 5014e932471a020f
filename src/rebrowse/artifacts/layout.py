"""The names of a task's files, relative to its directory: the one place that knows how artifacts are laid out.

The engine writes these names into a run's directory, the store keeps them under the task's id, and the API
reads them back by name. A name is one or two parts (`steps.jsonl`, `downloads/report.pdf`) of safe characters.
"""

from __future__ import annotations

import re
from pathlib import Path

STEPS = "steps.jsonl"
RESULT = "result.json"
FINAL_SCREENSHOT = "final_screenshot.png"
CACHED_AUTOMATION = "cached_automation.json"
DOWNLOADS = "downloads"
SCREENSHOTS = "screenshots"

# The characters the engine's safe_filename keeps: no separator, so a part cannot climb out of its folder.
NAME_PART = re.compile(r"[\w.\- ]{1,200}")
MAX_PARTS = 2
PRIVATE_DIRECTORY = 0o700  # what a run leaves behind (pages, downloads, screenshots) is the worker's alone


class UnsafeName(ValueError):
    """A name that could reach outside a task's files (empty, absolute, `..`, odd characters)."""


def artifact_name(*parts: str) -> str:
    """The validated name of a task's file made of `parts` (a folder and a file, or a file at the top)."""
    if not parts or len(parts) > MAX_PARTS:
        raise UnsafeName(f"an artifact name has 1 to {MAX_PARTS} parts, not {len(parts)}")
    for part in parts:
        if not NAME_PART.fullmatch(part) or part.strip(".") == "":
            raise UnsafeName(f"{part[:200]!r} is not a valid artifact file name")
    return "/".join(parts)


def checked_name(name: str) -> str:
    """`name` ("folder/file" or "file") when it is a valid artifact name; UnsafeName otherwise."""
    return artifact_name(*name.split("/"))


def download_name(filename: str) -> str:
    return artifact_name(DOWNLOADS, filename)


def step_screenshot_name(filename: str) -> str:
    return artifact_name(SCREENSHOTS, filename)


def trace_name(attempt: int) -> str:
    """The Playwright trace of one attempt (kept per REBROWSE_TRACE; `playwright show-trace` opens it)."""
    return artifact_name(f"trace_attempt{attempt}.zip")


def stored_name(recorded: str) -> str:
    """The name of a file the task's row records (final screenshot, cached automation): rows written before the
    store held the worker's absolute path, whose last part is the name at the top of the task's directory."""
    return checked_name(recorded.replace("\\", "/").rsplit("/", 1)[-1])


def make_private_directory(directory: Path) -> None:
    """Create the directory (and its parents) if needed, and make it the owner's alone: whatever is written below
    it, with whatever mode (Playwright's screenshots and downloads follow the umask), no other user reaches it."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(PRIVATE_DIRECTORY)
