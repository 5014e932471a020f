"""A path the CLI cannot use (missing, a directory where a file is wanted, not UTF-8, not JSON) is one line naming
it and a non-zero exit: no traceback, no line said twice. The CLI runs as a subprocess, as a person runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import rebrowse

AUTOMATION = {"url": "http://127.0.0.1:1/", "parameters": {"input_parameters": {"query": ["x"]}}, "nodes": []}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A working directory with a valid automation, a directory, a non-UTF-8 file and a file that is not JSON."""
    (tmp_path / "ok.json").write_text(json.dumps(AUTOMATION))
    (tmp_path / "adir").mkdir()
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe{}")
    (tmp_path / "prose.json").write_text("not json")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "absent.json"], "error: absent.json: No such file or directory"),
        (["run", "adir"], "error: adir: Is a directory"),
        (["run", "latin.json"], "error: latin.json: not UTF-8 text"),
        (["validate", "absent.json"], "error: absent.json: No such file or directory"),
        (["validate", "adir"], "error: adir: Is a directory"),
        (["run", "ok.json", "--params-json", "absent.json"], "error: --params-json absent.json: No such file or"),
        (["run", "ok.json", "--params-json", "adir"], "error: --params-json adir: Is a directory"),
        (["run", "ok.json", "--params-json", "prose.json"], "error: --params-json prose.json: not JSON"),
        (["run", "ok.json", "--secure-json", "absent.json"], "error: --secure-json absent.json: No such file or"),
        (["run", "ok.json", "--save-cached", "adir"], "error: --save-cached adir: not a file in an existing"),
        (["run", "ok.json", "--upload-dir", "absent"], "error: --upload-dir absent: not a directory"),
        (["run", "ok.json", "--out", "ok.json"], "error: --out ok.json: exists and is not a directory"),
        (["import", "absent.py"], "error: absent.py: No such file or directory"),
        (["import", "adir"], "error: adir: Is a directory"),
        (["import", "latin.json"], "error: latin.json: not UTF-8 text"),
        (["new", "-o", "absent/new.json"], "error: absent/new.json: No such file or directory"),
        (["new", "-o", "ok.json"], "error: ok.json already exists"),
        (["schema", "-o", "adir"], "error: adir: Is a directory"),
        (["record", "http://example.test/", "-o", "ok.json"], "error: ok.json already exists"),
        (["trace", "absent"], "error: absent: no such run directory or trace file, and not a task id"),
        (["trace", "adir"], "error: adir: no trace in this directory"),
        (["trace", "ok.json"], "error: ok.json: not a trace"),
        (["automations", "push", "flow", "absent.json"], "error: absent.json: No such file or directory"),
        (["automations", "push", "flow", "adir"], "error: adir: Is a directory"),
        (["automations", "push", "flow", "prose.json"], "error: prose.json: not JSON"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_a_path_that_cannot_be_used_is_one_line(files: Path, args: list[str], line: str) -> None:
    done = rebrowse(*args, cwd=files, env={"REBROWSE_URL": "http://127.0.0.1:1", "REBROWSE_API_KEY": "rb_x"})

    assert done.returncode != 0
    said = [text for text in (done.stdout + done.stderr).splitlines() if text.strip()]
    assert len(said) == 1, said
    assert said[0].startswith(line), said
