"""The collector settings every long-running rebrowse service starts with."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc
from rebrowse.cli.server import YOUNG_GENERATION_THRESHOLD, settle_garbage_collector
before = gc.get_threshold()
settle_garbage_collector()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:]), gc.get_threshold()
print("ok")
"""


def test_startup_objects_are_frozen_and_young_ones_collected_less_often() -> None:
    # In a process of its own: the test run's own collector stays as it is.
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
