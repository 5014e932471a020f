"""The files a run leaves behind, every one written through the redactor so no secret reaches disk."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rebrowse.artifacts.layout import DOWNLOADS, SCREENSHOTS, STEPS, make_private_directory
from rebrowse.secrets.redaction import Redactor

UNSAFE_FILENAME = re.compile(r"[^\w.\- ]+")
MAX_FILENAME = 150


@dataclass
class StepRecord:
    """What happened in one step: where, what, on which element, how long, and how it ended."""

    index: int
    attempt: int
    path: str
    action: str
    locator: str | None = None
    iteration: int | None = None
    url: str | None = None
    started_at: float = 0.0
    duration_ms: float = 0.0
    outcome: str = "running"  # running | success | failed | skipped
    error: str | None = None
    detail: str | None = None
    screenshot: str | None = None
    # What the egress policy kept the step's pages from reaching: "URL or host:port (reason)"
    blocked: list[str] = field(default_factory=list)
    # What the step's pages logged to their console ("type: text") and the requests that failed during it
    # ("METHOD URL (status or network error)"), both redacted like every field
    console: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    # Every question the step asked a model: model, tokens in and out, latency, and what it decided (LlmCall)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    # What the model decided that a replay can do without it, for the cached automation: {"command": the
    # deterministic locator of the element it located, "input_text"/"select_values": what it gave}, or for an
    # agentic step {"nodes": the action nodes it performed}.
    learned: dict[str, Any] | None = None
    # A command that failed and the model replaced: {"failed_command", "error", "command"}.
    healed: dict[str, str] | None = None


@dataclass
class DownloadRecord:
    """A file the run downloaded, with the metadata the automation attached to it."""

    filename: str
    path: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict)


def redact_record(record: StepRecord, redactor: Redactor) -> None:
    """Mask every secret in the record's text fields (and in those of its lists and dicts)."""
    for item in fields(record):
        value = getattr(record, item.name)
        if isinstance(value, str | list | dict):
            setattr(record, item.name, redactor.redact(value))


def safe_filename(name: str, fallback: str = "download") -> str:
    """A file name that cannot escape its directory or upset a file system."""
    cleaned = UNSAFE_FILENAME.sub("_", Path(name).name).strip(" .")
    return (cleaned or fallback)[:MAX_FILENAME]


class ArtifactWriter:
    """Writes a run's artifacts into its directory, redacting secrets from everything textual."""

    def __init__(self, out_dir: Path, redactor: Redactor) -> None:
        self.out_dir = out_dir
        self.redactor = redactor
        self.downloads_dir = out_dir / DOWNLOADS
        self.screenshots_dir = out_dir / SCREENSHOTS
        for directory in (out_dir, self.downloads_dir, self.screenshots_dir):
            make_private_directory(directory)
        self._steps_file = out_dir / STEPS
        self._steps_file.write_text("")

    def write_json(self, name: str, data: object) -> Path:
        """Write `data` as JSON to `name` in the run directory, secrets redacted."""
        path = self.out_dir / name
        path.write_text(json.dumps(self.redactor.redact(data), indent=2, default=str) + "\n")
        return path

    def append_step(self, record: StepRecord) -> None:
        """Redact the record in place, then append it to steps.jsonl.

        In place, because the same record goes on to the step listener (the CLI's progress, a worker) and
        into the run's result: a URL, a detail or an error may hold a secret there as much as on disk.
        """
        redact_record(record, self.redactor)
        line = json.dumps(asdict(record), default=str)
        with self._steps_file.open("a") as handle:
            handle.write(line + "\n")

    def screenshot_path(self, name: str) -> Path:
        """Where a screenshot called `name` goes."""
        return self.screenshots_dir / safe_filename(name, "screenshot.png")

    def unique_download_path(self, name: str) -> Path:
        """A path in downloads/ for `name`, suffixed _2, _3 ... when taken."""
        candidate = self.downloads_dir / safe_filename(name)
        stem, suffix, n = candidate.stem, candidate.suffix, 2
        while candidate.exists():
            candidate = self.downloads_dir / f"{stem}_{n}{suffix}"
            n += 1
        return candidate
