"""`rebrowse schedules` as a person runs it: a real subprocess against the API served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import Api


async def schedules(api: Api, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`rebrowse schedules ARGS` run to completion (in a thread: the API answers from this test's loop)."""
    env = {**os.environ, "REBROWSE_URL": api.url, "REBROWSE_API_KEY": api.key, "COLUMNS": "200"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rebrowse.cli", "schedules", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


async def test_set_list_pause_resume_delete(api: Api, tmp_path: Path) -> None:
    made = await schedules(
        api, "set", "weekday-lookup", "--cron", "0 9 * * 1-5", "--timezone", "Europe/Paris",
        "--endpoint", "lookup", "-p", "email=ada@example.com", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "weekday-lookup: lookup at 0 9 * * 1-5 (Europe/Paris), next run" in made.stdout

    listed = await schedules(api, "list", "--json", cwd=tmp_path)
    (shown,) = json.loads(listed.stdout)
    assert shown["input_parameters"] == {"email": ["ada@example.com"]} and shown["timezone"] == "Europe/Paris"
    table = await schedules(api, "list", cwd=tmp_path)
    assert "weekday-lookup" in table.stdout and "Europe/Paris" in table.stdout

    paused = await schedules(api, "pause", "weekday-lookup", cwd=tmp_path)
    assert paused.returncode == 0 and "paused" in paused.stdout
    resumed = await schedules(api, "resume", "weekday-lookup", cwd=tmp_path)
    assert resumed.returncode == 0 and "next run" in resumed.stdout
    deleted = await schedules(api, "delete", "weekday-lookup", "--yes", cwd=tmp_path)
    assert deleted.returncode == 0 and "deleted weekday-lookup" in deleted.stdout
    assert json.loads((await schedules(api, "list", "--json", cwd=tmp_path)).stdout) == []


async def test_bad_input_is_a_message_and_a_non_zero_exit(api: Api, tmp_path: Path) -> None:
    bad_cron = await schedules(api, "set", "x", "--cron", "every day", "--endpoint", "lookup", cwd=tmp_path)
    assert bad_cron.returncode == 2 and "cron" in bad_cron.stderr and "5 fields" in bad_cron.stderr
    bad_zone = await schedules(
        api, "set", "x", "--cron", "* * * * *", "--timezone", "Nowhere/City", "--endpoint", "lookup", cwd=tmp_path
    )
    assert bad_zone.returncode == 2 and "timezone" in bad_zone.stderr
    bad_pair = await schedules(api, "set", "x", "--cron", "* * * * *", "--endpoint", "lookup", "-p", "x", cwd=tmp_path)
    assert bad_pair.returncode != 0 and "name=value" in bad_pair.stderr
    missing = await schedules(api, "pause", "nothing-here", cwd=tmp_path)
    assert missing.returncode == 2 and "nothing-here" in missing.stderr
