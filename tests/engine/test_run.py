"""Whole runs on the fixture site: retries in fresh contexts, the time limit, step records, screenshots,
traces and the result files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from rebrowse.automation.loading import load_automation
from rebrowse.demo.automation import rebase_urls
from rebrowse.demo.site import PENDING_POLLS, SiteServer
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import run_automation
from tests.engine.conftest import ORIGIN, Replay, action, automation
from tests.engine.test_extraction import FAST, PNG_MAGIC, click, go_to, read_text, remember


def download(command: str, metadata: dict[str, Any]) -> dict[str, Any]:
    payload = {"command": command, "expect_download": True, "download_metadata": metadata}
    return action("interaction_action", {"click_element": payload})


def page_state(label: str) -> dict[str, Any]:
    return action("extraction_action", {"state": {}, "unique_identifier": label})


def poll_job(job: str) -> dict[str, Any]:
    """One call of /api/job for `job`, into `job`: "pending" for the first polls of an id, then "done"."""
    call = {"url": f"{ORIGIN}/api/job", "query_params": {"id": job}, "output_variable_names": ["job"]}
    return action("extraction_action", {"api_call": call})


def cookie_names(output: dict[str, Any]) -> set[str]:
    return {cookie["name"] for cookie in output["json_data"]["cookies"]}


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------------------
# Retries and the time limit


async def test_a_failed_attempt_is_retried_in_a_fresh_context(replay: Replay, site: SiteServer) -> None:
    job = uuid.uuid4().hex
    # Two polls per attempt: the first attempt sees "pending" twice and fails; the second sees "done".
    fail_while_pending = {
        "type": "if_else_node",
        "condition": 'job.body.status == "pending"',
        "if_nodes": [click('locator("#job-not-done")', **FAST)],
    }
    nodes = [
        page_state("fresh"),
        go_to("storage.html"),  # sets a cookie and web storage in this attempt's context
        poll_job(job),
        poll_job(job),
        fail_while_pending,
        page_state("end"),
    ]
    result = await replay(automation("table.html", nodes, max_retries=2))
    assert result.status == "success", result.error
    assert result.attempts == 2
    assert site.state.job_polls[job] == PENDING_POLLS + 2
    fresh, *_, end = result.output_data
    assert (fresh["unique_identifier"], end["unique_identifier"]) == ("fresh", "end")
    # Attempt 1 set the cookie before failing; attempt 2 started without it.
    assert "fixture_cookie" not in cookie_names(fresh)
    assert fresh["json_data"]["local_storage"] == {}
    assert "fixture_cookie" in cookie_names(end)
    # Outputs and steps are those of the successful attempt; steps.jsonl keeps both attempts.
    assert {step.attempt for step in result.steps} == {2}
    recorded = read_lines(Path(result.out_dir) / "steps.jsonl")
    failed = [r for r in recorded if r["outcome"] == "failed"]
    assert [(r["attempt"], r["path"]) for r in failed] == [(1, "nodes[4].if_nodes[0]")]
    assert {r["attempt"] for r in recorded} == {1, 2}


async def test_the_last_failed_attempt_decides_the_result(replay: Replay) -> None:
    nodes = [click('locator("#never-there")', **FAST)]
    result = await replay(automation("table.html", nodes, max_retries=1))
    assert result.status == "failed"
    assert result.attempts == 2
    assert result.error is not None and "#never-there" in result.error


LONG_SLEEP = action("sleep_action", {"sleep_time": 60})
SHORT_LIMIT = 0.03  # minutes: ample for opening a local page, far below LONG_SLEEP


async def test_an_attempt_over_its_time_limit_is_killed(replay: Replay) -> None:
    data = automation("table.html", [LONG_SLEEP], post_processing_nodes=[remember("post", "ran")])
    result = await replay(data, timeout_minutes=SHORT_LIMIT)
    assert result.status == "killed"
    assert result.error == f"the attempt exceeded its time limit of {SHORT_LIMIT:g} minute(s)"
    # The interrupted step is on record; a killed attempt has no time left for post-processing.
    assert [(s.path, s.action, s.outcome) for s in result.steps] == [("nodes[0]", "sleep", "failed")]
    assert result.steps[0].error is not None and "time limit" in result.steps[0].error
    assert result.output_data == []
    # The page it stopped on was captured.
    assert result.final_screenshot is not None
    assert Path(result.final_screenshot).read_bytes().startswith(PNG_MAGIC)


async def test_killed_attempts_are_retried(replay: Replay) -> None:
    result = await replay(automation("table.html", [LONG_SLEEP], max_retries=1), timeout_minutes=SHORT_LIMIT)
    assert (result.status, result.attempts) == ("killed", 2)
    recorded = read_lines(Path(result.out_dir) / "steps.jsonl")
    assert [(r["attempt"], r["action"], r["outcome"]) for r in recorded] == [
        (1, "sleep", "failed"),
        (2, "sleep", "failed"),
    ]


async def test_a_cancelled_run_closes_its_context(browser: Browser, site: SiteServer, tmp_path: Path) -> None:
    data = automation("table.html", [read_text('locator("#status")', "status"), LONG_SLEEP])
    loaded = load_automation(rebase_urls(data, ORIGIN, site.url))
    first_step_done = asyncio.Event()
    before = len(browser.contexts)
    run = asyncio.create_task(
        run_automation(browser, loaded, options=RunOptions(out_dir=tmp_path), listener=lambda _: first_step_done.set())
    )
    try:
        async with asyncio.timeout(30):
            await first_step_done.wait()
        assert len(browser.contexts) == before + 1
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    assert len(browser.contexts) == before


async def test_post_processing_shares_the_attempt_time_limit(replay: Replay) -> None:
    data = automation("table.html", [], post_processing_nodes=[LONG_SLEEP])
    result = await replay(data, timeout_minutes=SHORT_LIMIT)
    assert result.status == "killed"
    assert result.error == f"post_processing_nodes exceeded the attempt's time limit of {SHORT_LIMIT:g} minute(s)"
    assert [(s.path, s.outcome) for s in result.steps] == [("post_processing_nodes[0]", "failed")]


async def test_a_start_url_that_cannot_be_opened_fails_the_run(replay: Replay, site: SiteServer) -> None:
    data = automation("table.html", [read_text('locator("#status")', "never")])
    data["url"] = "http://127.0.0.1:9/unreachable.html"  # the discard port: nothing listens there
    result = await replay(data)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("could not open http://127.0.0.1:9/unreachable.html: ")
    assert result.steps == []


async def test_a_start_url_on_the_workers_own_files_is_refused(replay: Replay) -> None:
    data = automation("table.html", [read_text('locator("body")', "hostname")])
    data["url"] = "file:///etc/hostname"
    result = await replay(data)
    assert result.status == "failed"
    assert result.error == "the automation's url only opens http(s) URLs, got 'file:///etc/hostname'"
    assert result.output_data == []


# ---------------------------------------------------------------------------------------------------------
# Step records and screenshots


async def test_steps_jsonl_records_path_action_locator_url_outcome_and_duration(
    replay: Replay, site: SiteServer
) -> None:
    nodes = [
        click('locator("#row-2 a.detail-link")'),
        read_text('locator("#detail-id")', "id"),
        click('locator("#missing")', **FAST),
    ]
    result = await replay(automation("table.html", nodes))
    assert result.status == "failed"
    records = read_lines(Path(result.out_dir) / "steps.jsonl")
    assert [(r["index"], r["path"], r["action"], r["outcome"]) for r in records] == [
        (1, "nodes[0]", "click_element", "success"),
        (2, "nodes[1]", "extract.locator", "success"),
        (3, "nodes[2]", "click_element", "failed"),
    ]
    assert [r["locator"] for r in records] == [
        'locator("#row-2 a.detail-link")',
        'locator("#detail-id")',
        'locator("#missing")',
    ]
    assert [r["url"] for r in records] == [
        f"{site.url}/table.html",
        f"{site.url}/detail.html?id=2",
        f"{site.url}/detail.html?id=2",
    ]
    assert all(r["duration_ms"] > 0 and r["started_at"] > 0 for r in records)
    assert records[2]["error"] is not None and records[0]["error"] is None
    assert records == [json.loads(json.dumps(step.__dict__)) for step in result.steps]


def run_screenshots(result_dir: str) -> list[str]:
    return sorted(p.name for p in (Path(result_dir) / "screenshots").iterdir())


SCREENSHOT_NODES = [read_text('locator("#status")', "status"), click('locator("#missing")', **FAST)]


async def test_screenshots_every_step(replay: Replay) -> None:
    result = await replay(automation("table.html", SCREENSHOT_NODES), screenshots="every_step")
    assert run_screenshots(result.out_dir) == ["step_1_0001.png", "step_1_0002.png"]
    assert [s.screenshot for s in result.steps] == ["screenshots/step_1_0001.png", "screenshots/step_1_0002.png"]
    for step in result.steps:
        assert step.screenshot is not None
        assert (Path(result.out_dir) / step.screenshot).read_bytes().startswith(PNG_MAGIC)


async def test_screenshots_on_failure_only(replay: Replay) -> None:
    result = await replay(automation("table.html", SCREENSHOT_NODES), screenshots="on_failure")
    assert run_screenshots(result.out_dir) == ["step_1_0002.png"]
    assert [s.screenshot for s in result.steps] == [None, "screenshots/step_1_0002.png"]


async def test_screenshots_never(replay: Replay) -> None:
    result = await replay(automation("table.html", SCREENSHOT_NODES), screenshots="never")
    assert result.status == "failed"
    assert run_screenshots(result.out_dir) == []
    assert [s.screenshot for s in result.steps] == [None, None]


def traces(result: Any) -> list[str]:
    return sorted(path.name for path in Path(result.out_dir).glob("trace*"))


async def test_trace_always_writes_a_playwright_trace_zip(replay: Replay) -> None:
    result = await replay(automation("table.html", [read_text('locator("#status")', "status")]), trace="always")
    assert result.status == "success", result.error
    assert result.trace == str(Path(result.out_dir) / "trace_attempt1.zip")
    with zipfile.ZipFile(result.trace) as trace:
        assert any(name.endswith(".trace") for name in trace.namelist())


async def test_trace_on_failure_keeps_only_a_failed_attempts_trace(replay: Replay) -> None:
    passed = await replay(automation("table.html", [read_text('locator("#status")', "status")]), trace="on_failure")
    failed = await replay(
        automation("table.html", [click('locator("#nowhere")', **FAST)]),
        trace="on_failure",
        out_dir=Path(passed.out_dir).parent / "failed",
    )
    assert (passed.status, failed.status) == ("success", "failed")
    assert (traces(passed), passed.trace) == ([], None)
    assert traces(failed) == ["trace_attempt1.zip"] and failed.trace is not None


async def test_no_trace_unless_asked(replay: Replay) -> None:
    result = await replay(automation("table.html", [read_text('locator("#status")', "status")]))
    assert traces(result) == [] and result.trace is None


async def test_final_screenshot_unless_disabled(replay: Replay, tmp_path: Path) -> None:
    taken = await replay(automation("detail.html?id=3", []))
    assert taken.final_screenshot == str(Path(taken.out_dir) / "final_screenshot.png")
    assert Path(taken.final_screenshot).read_bytes().startswith(PNG_MAGIC)
    skipped = await replay(automation("detail.html?id=3", [], take_final_screenshot=False), out_dir=tmp_path / "b")
    assert skipped.final_screenshot is None
    assert not (tmp_path / "b" / "final_screenshot.png").exists()


# ---------------------------------------------------------------------------------------------------------
# Result files


async def test_result_files_have_the_documented_shapes(replay: Replay) -> None:
    loop = {
        "type": "for_loop_node",
        "variable_name": "ids",
        "nodes": [download('locator("#row-{ids[index]} a.download-link")', {"invoice": "{ids[index]}"})],
    }
    nodes = [loop, read_text('locator("#status")', "status")]
    data = automation("table.html", nodes, parameters={"input_parameters": {"ids": ["2", "5"]}})
    result = await replay(data)
    assert result.status == "success", result.error
    out = Path(result.out_dir)

    output_data = json.loads((out / "output_data.json").read_text())
    assert output_data == [{"unique_identifier": None, "json_data": {"status": "10 invoices"}}]

    for_loop_status = json.loads((out / "for_loop_status.json").read_text())
    assert for_loop_status == [
        [
            {"variable_name": "ids", "index": 0, "value": "2", "status": "success", "error": None},
            {"variable_name": "ids", "index": 1, "value": "5", "status": "success", "error": None},
        ]
    ]

    downloads = json.loads((out / "downloads.json").read_text())
    assert [(d["filename"], d["metadata"]) for d in downloads] == [
        ("invoice_2.txt", {"invoice": "2"}),
        ("invoice_5.txt", {"invoice": "5"}),
    ]
    for entry in downloads:
        assert Path(entry["path"]).stat().st_size == entry["size"] > 0

    summary = json.loads((out / "result.json").read_text())
    assert set(summary) == {
        "status",
        "error",
        "output_data",
        "for_loop_status",
        "downloads",
        "final_screenshot",
        "duration_s",
        "attempts",
        "out_dir",
        "llm_usage",
        "browser",
        "notes",
        "healed",
        "cached_automation",
        "trace",
    }
    assert (summary["status"], summary["error"], summary["attempts"]) == ("success", None, 1)
    assert summary["healed"] == []
    assert summary["cached_automation"] is None  # the run asked no model: nothing to cache
    assert summary["llm_usage"] == {"calls": 0, "failed_calls": 0, "input_tokens": 0, "output_tokens": 0, "requests": 0}
    assert (summary["browser"], summary["notes"]) == ("chromium", [])
    assert summary["output_data"] == output_data
    assert summary["for_loop_status"] == for_loop_status
    assert summary["downloads"] == downloads
    assert summary["final_screenshot"] == str(out / "final_screenshot.png")
