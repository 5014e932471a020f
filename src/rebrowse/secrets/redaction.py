"""Removing secret values from text, JSON-like data and log records.

A secret is matched however a browser, an HTTP library, a JSON or an HTML serializer may have written it. Rather
than listing each producer's output (WHATWG's percent-encode sets, encodeURIComponent, quote_plus, ... each
encode a different subset of characters, so the list would grow with every producer and still miss one), each
character of the secret is matched in any of its spellings: as itself; percent-encoded (UTF-8 in either hex case,
Latin-1 and %uXXXX as JavaScript's escape() writes them, once or twice); `+` for a space; JSON-escaped (\\uXXXX,
\\" \\\\ \\/ and the control escapes); or as an HTML character reference (decimal, hex, or any HTML5 name for
it). A producer that encodes any set of characters in any of these ways writes a string the pattern matches.

Values shorter than MIN_TEXT_LENGTH (a 3-digit PIN, say) are replaced only where they are a whole string
value (a JSON leaf, a log argument), never inside other text: replacing every "42" in a log would mangle
timestamps and numbers while hinting at the secret by where the gaps fall.
"""

from __future__ import annotations

import html.entities
import logging
import re
import threading
import traceback
from functools import cache
from typing import Any, TypeVar, cast

MASK = "***"
MIN_TEXT_LENGTH = 4

T = TypeVar("T")

# The characters JSON writes with a short escape (json.dumps, JSON.stringify; `\/` by PHP and some others).
JSON_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


@cache
def _html_names() -> dict[str, list[str]]:
    """Every HTML5 named reference (with its semicolon) of each single character, e.g. "@" -> ["&commat;"]."""
    names: dict[str, list[str]] = {}
    for name, char in html.entities.html5.items():
        if name.endswith(";") and len(char) == 1:
            names.setdefault(char, []).append(f"&{name}")
    return names


# A percent sign that may itself be percent-encoded: a URL put inside another URL's query is encoded twice.
PERCENT = "%(?:25)?"


def _percent(data: bytes) -> str:
    """A regex of the bytes percent-encoded, once or twice."""
    return "".join(f"{PERCENT}{byte:02x}" for byte in data)


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _spellings(char: str) -> tuple[list[str], list[str]]:
    """Regexes of the ways `char` may be written: (those whose hex digits may be in either case, exact ones)."""
    code = ord(char)
    units = _utf16_units(char)
    hex_case = [
        _percent(char.encode("utf-8")),
        "".join(f"{PERCENT}u{unit:04x}" for unit in units),  # JavaScript's escape() above U+00FF
        re.escape("".join(f"\\u{unit:04x}" for unit in units)),  # JSON
        f"&\\#x0*{code:x};",  # HTML, hex; leading zeros allowed
    ]
    if 0x80 <= code <= 0xFF:
        hex_case.append(_percent(bytes([code])))  # escape() writes Latin-1 characters as one byte
    exact = [f"&\\#0*{code};", *(re.escape(name) for name in _html_names().get(char, []))]
    if char in JSON_SHORT_ESCAPES:
        exact.append(re.escape(JSON_SHORT_ESCAPES[char]))
    if char == " ":
        exact.append(re.escape("+"))  # application/x-www-form-urlencoded
        hex_case.append(f"{PERCENT}2b")  # ... and encoded again
    return hex_case, exact


@cache
def _char_pattern(char: str) -> str:
    """A regex group matching `char` in any of its spellings; the raw character last, so a longer escape that
    begins with it (`\\\\`, `&amp;`, `%25`) is consumed whole."""
    hex_case, exact = _spellings(char)
    spellings = [f"(?i:{form})" for form in hex_case] + exact
    return f"(?:{'|'.join(spellings)}|{re.escape(char)})"


def value_pattern(value: str) -> str:
    """A regex matching `value` however it was encoded, one character at a time."""
    return "".join(_char_pattern(char) for char in value)


class Redactor:
    """Replaces registered secret values with "***" wherever they appear."""

    def __init__(self) -> None:
        # Each value's pattern, compiled once: compiling costs far more than matching.
        self._patterns: dict[str, re.Pattern[str]] = {}
        # Longest value first, so a value that contains another registered value is masked as a whole.
        self._whole: tuple[re.Pattern[str], ...] = ()  # every value, matched as a whole string
        self._in_text: tuple[re.Pattern[str], ...] = ()  # the values long enough to be masked inside text
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Register a secret value (empty values are ignored: they cannot leak anything)."""
        if not value:
            return
        with self._lock:
            if value in self._patterns:
                return
            self._patterns[value] = re.compile(value_pattern(value))
            ordered = sorted(self._patterns.items(), key=lambda item: len(item[0]), reverse=True)
            self._whole = tuple(pattern for _, pattern in ordered)
            self._in_text = tuple(pattern for v, pattern in ordered if len(v) >= MIN_TEXT_LENGTH)

    def redact_text(self, text: str) -> str:
        """The text with every registered value (longest first) replaced by "***"."""
        for pattern in self._in_text:
            text = pattern.sub(MASK, text)
        return text

    def redact(self, obj: T) -> T:
        """A copy of JSON-like data (dicts, lists, tuples, strings) with secrets masked, other leaves kept."""
        return cast(T, self._redact_any(obj))

    def _redact_any(self, obj: Any) -> Any:
        if isinstance(obj, str):
            whole = obj in self._patterns or any(pattern.fullmatch(obj) for pattern in self._whole)
            return MASK if whole else self.redact_text(obj)
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
