"""The redactor: text, encoded forms, JSON-like data and log records written to a real file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from rebrowse.secrets.redaction import Redactor

LoggerAndFile = tuple[logging.Logger, Path]


def redactor_with(*values: str) -> Redactor:
    redactor = Redactor()
    for value in values:
        redactor.add(value)
    return redactor


def test_every_occurrence_is_masked() -> None:
    redactor = redactor_with("hunter22")
    assert redactor.redact_text("pw hunter22, again hunter22!") == "pw ***, again ***!"
    assert redactor.redact_text("nothing secret here") == "nothing secret here"


def test_longest_value_wins_over_one_it_contains() -> None:
    redactor = redactor_with("token", "token-extended")
    # Masking "token" first would leave "-extended" behind, half revealing the longer secret.
    assert redactor.redact_text("a token-extended b token") == "a *** b ***"


def test_url_encoded_forms_are_masked() -> None:
    value = "p@ss w/rd&x=1"
    redactor = redactor_with(value)
    query = urlencode({"password": value})
    url = "https://example.test/login/p%40ss%20w%2Frd%26x%3D1"
    assert redactor.redact_text(query) == "password=***"
    assert redactor.redact_text(url) == "https://example.test/login/***"


def test_json_escaped_forms_are_masked() -> None:
    value = 'quote"back\\slash-ünï'
    redactor = redactor_with(value)
    for ensure_ascii in (True, False):
        document = json.dumps({"password": value}, ensure_ascii=ensure_ascii)
        assert redactor.redact_text(document) == '{"password": "***"}'


def test_empty_value_is_ignored() -> None:
    assert redactor_with("").redact_text("text stays") == "text stays"


def test_short_value_is_masked_only_as_a_whole_string() -> None:
    redactor = redactor_with("42")
    assert redactor.redact_text("at 12:42, 42 items") == "at 12:42, 42 items"
    data = {"pin": "42", "note": "room 42", "items": ["42", "x"]}
    assert redactor.redact(data) == {"pin": "***", "note": "room 42", "items": ["***", "x"]}


def test_nested_data_is_copied_with_secrets_masked() -> None:
    redactor = redactor_with("s3cr3t-value")
    data = {
        "steps": [{"fill": "s3cr3t-value", "count": 3, "ok": True, "none": None}],
        "pair": ("a", "prefix s3cr3t-value suffix"),
        "key s3cr3t-value": 1.5,
    }
    redacted = redactor.redact(data)
    assert redacted == {
        "steps": [{"fill": "***", "count": 3, "ok": True, "none": None}],
        "pair": ("a", "prefix *** suffix"),
        "key ***": 1.5,
    }
    assert data["steps"][0]["fill"] == "s3cr3t-value"  # type: ignore[index]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[LoggerAndFile]:
    redactor = redactor_with("hunter2-secret", "77")
    path = tmp_path / "run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(redactor.logging_filter())
    parent = logging.getLogger("rebrowse-test-redaction")
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    parent.addHandler(handler)
    try:
        yield logging.getLogger("rebrowse-test-redaction.engine"), path
    finally:
        parent.removeHandler(handler)
        handler.close()


def test_log_records_reach_the_file_redacted(log_file: LoggerAndFile) -> None:
    logger, path = log_file
    logger.info("filling %s into %r", "hunter2-secret", "#password")
    logger.debug("pin is %s, minute %s", "77", "12:77")
    logger.warning({"password": "hunter2-secret"})
    logger.info("split secret: %s%s", "hunter2", "-secret")
    try:
        raise RuntimeError("fill('hunter2-secret') failed")
    except RuntimeError:
        logger.exception("step failed for %s", "user")
    logger.info("here", stack_info=True, extra={"ignored": "hunter2-secret"})
    for handler in logging.getLogger("rebrowse-test-redaction").handlers:
        handler.flush()

    text = path.read_text(encoding="utf-8")
    assert "hunter2-secret" not in text
    assert "INFO rebrowse-test-redaction.engine filling *** into '#password'" in text
    assert "pin is ***, minute 12:77" in text
    assert "{'password': '***'}" in text
    assert "split secret: ***" in text
    assert "RuntimeError: fill('***') failed" in text
    assert "step failed for user" in text
    assert "Stack (most recent call last)" in text


def test_malformed_log_call_is_still_written_redacted(log_file: LoggerAndFile) -> None:
    logger, path = log_file
    logger.info("two args %s %s", "hunter2-secret")
    text = path.read_text(encoding="utf-8")
    assert "two args %s %s" in text
    assert "hunter2-secret" not in text
    assert "***" in text
