"""What a worker listens on: nothing but the configured address, whatever its VNC servers would do by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from rebrowse.browser.display import live_view_available
from tests.processes import descendants, listening
from tests.waiting import eventually
from tests.worker.conftest import ProcessWorkers

pytestmark = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")


def vnc_servers(pid: int) -> set[int]:
    return {p for p in descendants(pid) if comm(p) == "x11vnc"}


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


async def test_a_worker_listens_on_loopback_only(process_workers: ProcessWorkers) -> None:
    # The review found slot 0's VNC server on [::]:5900 as well, every IPv6 interface of the machine.
    worker = process_workers.start("listening", slots=2)

    def vnc_listening() -> bool:
        assert worker.poll() is None, "the worker exited"
        return len(listening(vnc_servers(worker.pid))) >= 2

    await eventually(vnc_listening, timeout_s=60, what="both slots' VNC servers to listen")
    addresses = {address for address, _ in listening(descendants(worker.pid))}
    assert addresses == {"127.0.0.1"}
