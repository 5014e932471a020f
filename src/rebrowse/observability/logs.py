"""Structured logs: one JSON object per line on stderr (or a plain line for people), secrets masked.

While a worker runs a task, `task_logging` puts the task in a context variable: every record logged in that
context (in the task's coroutine and anything it starts) carries the task's id and attempt and goes through
the task's redactor, whichever logger wrote it. The entry point calls `configure_logging` once; importing
rebrowse configures nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from rebrowse.secrets.redaction import Redactor
from rebrowse.settings import LogFormat, LogLevel

# What every LogRecord has; anything else on a record came through `extra` (or the task's context).
STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
TASK_FIELDS = ("task_id", "attempt")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class TaskLog:
    """The task whose work is being logged: its id, its current attempt, and the redactor of its secrets."""

    task_id: str
    redactor: Redactor
    attempt: int | None = None
    _filter: logging.Filter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._filter = self.redactor.logging_filter()

    def apply(self, record: logging.LogRecord) -> None:
        """Add the task's fields the record does not already have, then mask the task's secrets in it."""
        for name, value in (("task_id", self.task_id), ("attempt", self.attempt)):
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        self._filter.filter(record)
        for name, value in extra_fields(record).items():
            setattr(record, name, self.redactor.redact(value))


_current_task: ContextVar[TaskLog | None] = ContextVar("rebrowse_task_log", default=None)


@contextlib.contextmanager
def task_logging(task_id: uuid.UUID | str, redactor: Redactor) -> Iterator[TaskLog]:
    """Within the block, records carry the task's fields and are masked with its redactor."""
    task_log = TaskLog(str(task_id), redactor)
    token = _current_task.set(task_log)
    try:
        yield task_log
    finally:
        _current_task.reset(token)


class TaskContextFilter(logging.Filter):
    """Applies the current task's fields and redaction to each record (a no-op outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task_log = _current_task.get()
        if task_log is not None:
            task_log.apply(record)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller added to the record, the task's first (task_id, attempt, node, ...)."""
    fields = {name: value for name, value in record.__dict__.items() if name not in STANDARD_ATTRIBUTES}
    return {**{name: fields.pop(name) for name in TASK_FIELDS if name in fields}, **fields}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, event, the extra fields, and exc as a single string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(extra_fields(record))
        exc = exception_text(self, record)
        if exc:
            entry["exc"] = exc
        if record.stack_info:
            entry["stack"] = record.stack_info
        # json.dumps escapes newlines, so a traceback stays on its record's one line.
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, message, then the extra fields as name=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{name}={value}" for name, value in extra_fields(record).items())
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # the fields go on the message's line, before any traceback
        return f"{head} [{fields}]{newline}{rest}"


def exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    """The record's exception and traceback as text (already text once the redacting filter has run)."""
    if record.exc_info:
        return formatter.formatException(record.exc_info)
    return record.exc_text or None


def log_handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing records in `log_format` to `stream` (stderr), with the task's fields and redaction."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(TaskContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(log_format: LogFormat, level: LogLevel) -> None:
    """Log to stderr in `log_format`: rebrowse's records from `level` up, other libraries' from warning up."""
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(log_handler(log_format))
    root.setLevel(logging.WARNING)
    logging.getLogger("rebrowse").setLevel(logging.getLevelNamesMapping()[level.upper()])
