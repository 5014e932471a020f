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


def probe(*prefix: str, home: Path, executable: Path | None = None) -> str:
    """What chrome://sandbox says of a Chromium launched by rebrowse in a process run through `prefix`."""
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}"}
    command = [*prefix, sys.executable, str(PROBE), *([str(executable)] if executable else [])]
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe_not_as_root(executable: Path | None = None) -> str:
    """probe() in a process that is not root: as nobody when we are root."""
    home = Path(tempfile.mkdtemp(prefix="rebrowse-sandbox-"))
    try:
        if os.geteuid() != 0:
            return probe(home=home, executable=executable)
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        if executable is not None:
            fake = home / executable.name
            shutil.copy(executable, fake)
            executable = fake
        return probe(*AS_NOBODY, home=home, executable=executable)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_worker_that_is_not_root_runs_chromium_sandboxed() -> None:
    # The review saw --no-sandbox on a worker running as an ordinary user.
    said = probe_not_as_root()
    assert SANDBOXED in said, said


# What Chromium says, and does, on a machine with neither unprivileged user namespaces nor a setuid sandbox helper
# (none such can be had here: this stands in for it).
UNSANDBOXABLE_CHROMIUM = """#!/bin/sh
echo "[1:1:FATAL:zygote_host_impl_linux.cc(128)] No usable sandbox! Update your kernel or see ..." >&2
exit 1
"""


def test_a_sandbox_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text(UNSANDBOXABLE_CHROMIUM)
    chromium.chmod(0o755)
    said = probe_not_as_root(chromium)
    assert said.startswith("refused: Chromium's sandbox cannot start for this user"), said
    assert "user namespaces" in said


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs Chromium without its sandbox")
def test_root_runs_chromium_without_the_sandbox_it_cannot_start(tmp_path: Path) -> None:
    assert UNSANDBOXED.lower() in probe(home=tmp_path).lower()
