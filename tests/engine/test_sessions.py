"""Warm sessions in the engine: a successful run keeps its context's cookies, localStorage, sessionStorage and
IndexedDB; a run started from that state finds them all; a failed run keeps nothing; the result files never hold
the state."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.engine.conftest import Replay, action, automation

READ = {"type": "assert_locator_node", "locator": 'locator("#status.read")', "assertion": "to_be_visible"}


def read_status() -> dict[str, Any]:
    payload = {
        "locator": {
            "command": 'locator("#status.read")',
            "output_variable_name": "status",
            "extraction_format": {"status": "str"},
        }
    }
    return action("extraction_action", payload)


def status_of(output_data: list[dict[str, Any]]) -> str:
    (entry,) = output_data
    return str(entry["json_data"]["status"])


async def test_a_kept_state_brings_back_cookies_and_every_storage(replay: Replay, tmp_path: Path) -> None:
    value = uuid.uuid4().hex[:12]
    kept = await replay(automation(f"warm.html?write={value}", [READ]), keep_session=True, out_dir=tmp_path / "a")
    assert kept.status == "success", kept.error
    assert kept.browser_state is not None

    warm = await replay(automation("warm.html", [read_status()]), session=kept.browser_state, out_dir=tmp_path / "b")
    assert warm.status == "success", warm.error
    assert status_of(warm.output_data) == f"cookie={value} local={value} session={value} idb={value}"

    cold = await replay(automation("warm.html", [read_status()]), out_dir=tmp_path / "c")
    assert status_of(cold.output_data) == "cookie=- local=- session=- idb=-"


async def test_a_failed_run_keeps_no_state(replay: Replay) -> None:
    fail = action("fail_state_action", {"failure_message": "the portal said no"})
    failed = await replay(automation("warm.html?write=x", [READ, fail], max_retries=0), keep_session=True)
    assert failed.status == "failed"
    assert failed.browser_state is None


async def test_the_result_never_holds_the_state(replay: Replay, tmp_path: Path) -> None:
    value = uuid.uuid4().hex[:12]
    kept = await replay(automation(f"warm.html?write={value}", [READ]), keep_session=True, out_dir=tmp_path)
    assert kept.browser_state is not None
    assert value in json.dumps(kept.browser_state)
    assert "browser_state" not in kept.to_json()
    written = "".join(path.read_text() for path in tmp_path.rglob("*.json"))
    assert written and value not in written


async def test_a_state_playwright_refuses_is_skipped_and_the_run_starts_fresh(replay: Replay) -> None:
    broken = {"storage_state": {"cookies": [{"name": "no_domain", "value": "x"}], "origins": []}}
    result = await replay(automation("warm.html", [read_status()]), session=broken)
    assert result.status == "success", result.error
    assert status_of(result.output_data) == "cookie=- local=- session=- idb=-"
