"""Removing secret values from text, JSON-like data and log records.

Every value is also matched in its URL-encoded and JSON-escaped forms, since that is how secrets show up in
request logs, URLs and serialized artifacts.

Values shorter than MIN_TEXT_LENGTH (a 3-digit PIN, say) are replaced only where they are a whole string
value (a JSON leaf, a log argument), never inside other text: replacing every "42" in a log would mangle
timestamps and numbers while hinting at the secret by where the gaps fall.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any, TypeVar, cast
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_TEXT_LENGTH = 4

T = TypeVar("T")


def encoded_forms(value: str) -> set[str]:
    """The value as written raw, URL-encoded (path and form style) and JSON-escaped (ASCII or not)."""
    return {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


class Redactor:
    """Replaces registered secret values with "***" wherever they appear."""

    def __init__(self) -> None:
        self._whole: frozenset[str] = frozenset()
        self._in_text: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Register a secret value (empty values are ignored: they cannot leak anything)."""
        if not value:
            return
        forms = encoded_forms(value)
        with self._lock:
            if forms <= self._whole:
                return
            self._whole |= forms
            if len(value) >= MIN_TEXT_LENGTH:
                self._in_text |= forms
                self._pattern = _alternation(self._in_text)

    def redact_text(self, text: str) -> str:
        """The text with every registered value (longest first) replaced by "***"."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def redact(self, obj: T) -> T:
        """A copy of JSON-like data (dicts, lists, tuples, strings) with secrets masked, other leaves kept."""
        return cast(T, self._redact_any(obj))

    def _redact_any(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return MASK if obj in self._whole else self.redact_text(obj)
        if isinstance(obj, dict):
            return {self._redact_key(key): self._redact_any(item) for key, item in obj.items()}
        if isinstance(obj, list):
            return [self._redact_any(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self._redact_any(item) for item in obj)
        return obj

    def _redact_key(self, key: Any) -> Any:
        return self.redact_text(key) if isinstance(key, str) else key

    def logging_filter(self) -> logging.Filter:
        """A filter redacting records in place; attach it to handlers so records of child loggers pass it."""
        return _RedactingFilter(self)


def _alternation(forms: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so a value that contains another registered value is masked as a whole.
    ordered = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(re.escape(form) for form in ordered))


class _RedactingFilter(logging.Filter):
    """Formats each record's message, then redacts it together with any exception and stack text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            # Args first, so a short secret passed whole as an argument is masked too.
            record.args = self._redactor.redact(record.args)
        # Then the formatted message, because a secret may only appear once the args are in.
        record.msg = self._redactor.redact_text(_formatted(record))
        record.args = None
        if record.exc_info is not None:
            exc_text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            # Handlers would format exc_info again from the live exception, secrets and all: keep text only.
            record.exc_info = None
            record.exc_text = exc_text
        if record.exc_text:
            record.exc_text = self._redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor.redact_text(record.stack_info)
        return True


def _formatted(record: logging.LogRecord) -> str:
    """The record's message with its args filled in."""
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        # A malformed call must still be logged (redacted), not raise out of the logging call.
        return f"{record.msg} {record.args!r}"
