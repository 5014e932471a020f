"""Chromium runs in its sandbox whenever the worker is not root (Playwright turns it off unless told otherwise)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import rebrowse
from tests.processes import AS_NOBODY

PROBE = Path(__file__).with_name("sandbox_probe.py")
SANDBOXED = "You are adequately sandboxed"
UNSANDBOXED = "You are not adequately sandboxed"
SRC = Path(rebrowse.__file__).parent.parent
ROOT = Path(__file__).parent.parent.parent


def probe(*prefix: str, home: Path) -> str:
    """What chrome://sandbox says of a Chromium launched by rebrowse in a process run through `prefix`."""
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [*prefix, sys.executable, str(PROBE)], env=env, cwd=home, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_worker_that_is_not_root_runs_chromium_sandboxed() -> None:
    # The review saw --no-sandbox on a worker running as an ordinary user.
    home = Path(tempfile.mkdtemp(prefix="rebrowse-sandbox-"))
    try:
        if os.geteuid() != 0:
            said = probe(home=home)
        else:
            nobody = pwd.getpwnam("nobody")
            os.chown(home, nobody.pw_uid, nobody.pw_gid)
            said = probe(*AS_NOBODY, home=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert SANDBOXED in said, said


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs Chromium without its sandbox")
def test_root_runs_chromium_without_the_sandbox_it_cannot_start(tmp_path: Path) -> None:
    assert UNSANDBOXED.lower() in probe(home=tmp_path).lower()
