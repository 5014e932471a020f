"""An automation's versions, diffs, rollbacks and runs through the SDK (async and sync) and the CLI, against the real
API app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import rebrowse
from rebrowse.cli import app as cli
from rebrowse.client import NotFoundError
from tests.client.conftest import LOOKUP, Api

CHANGED = {**LOOKUP, "url": "http://127.0.0.1:1/changed.html"}


async def test_async_client_shows_diffs_and_rolls_back(api: Api) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        await client.request("PUT", "/api/v1/automations/lookup", json={"automation": CHANGED})
        one = await client.get_automation_version("lookup", 1)
        assert one["version"] == 1 and one["automation"] == LOOKUP
        diff = await client.diff_automation("lookup", 1, 2)
        assert '+  "url": "http://127.0.0.1:1/changed.html",' in diff["diff"].splitlines()
        rolled = await client.rollback_automation("lookup", 1, "back to the first")
        assert (rolled["version"], rolled["description"]) == (3, "back to the first")
        assert (await client.get_automation_version("lookup", 3))["automation"] == LOOKUP
        runs = await client.automation_runs("lookup", days=2)
        assert (runs["days"], runs["total"], len(runs["per_day"])) == (2, 0, 2)
        with pytest.raises(NotFoundError) as caught:
            await client.get_automation_version("lookup", 9)
    assert "no version 9" in caught.value.message


def sync_calls(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    with rebrowse.Client(api.url, api.key, timeout=10) as client:
        client.request("PUT", "/api/v1/automations/lookup", json={"automation": CHANGED})
        return (
            client.get_automation_version("lookup", 2),
            client.diff_automation("lookup", 2, 1),
            client.rollback_automation("lookup", 1),
            client.automation_runs("lookup"),
        )


async def test_sync_client_shows_diffs_and_rolls_back(api: Api) -> None:
    two, diff, rolled, runs = await asyncio.to_thread(sync_calls, api)
    assert two["automation"] == CHANGED
    assert '-  "url": "http://127.0.0.1:1/changed.html",' in diff["diff"].splitlines()
    assert (rolled["version"], rolled["description"]) == (3, "Rolled back to version 1")
    assert runs["days"] == 30 and len(runs["per_day"]) == 30


async def cli_run(api: Api, *args: str) -> Result:
    """The CLI in a thread (the API it calls is served on this test's loop)."""
    options = ["--url", api.url, "--api-key", api.key]
    return await asyncio.to_thread(CliRunner().invoke, cli, [*args, *options])


async def test_cli_lists_versions_diffs_and_rolls_back(api: Api) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        await client.request("PUT", "/api/v1/automations/lookup", json={"automation": CHANGED, "description": "moved"})

    versions = await cli_run(api, "automations", "versions", "lookup")
    assert versions.exit_code == 0 and "moved" in versions.stdout, versions.output
    listed = await cli_run(api, "automations", "versions", "lookup", "--json")
    assert [v["version"] for v in json.loads(listed.stdout)] == [2, 1]

    diff = await cli_run(api, "automations", "diff", "lookup", "1", "2")
    assert diff.exit_code == 0, diff.output
    assert '+  "url": "http://127.0.0.1:1/changed.html",' in diff.stdout.splitlines()
    assert "description: None -> 'moved'" in diff.stdout
    as_json = await cli_run(api, "automations", "diff", "lookup", "1", "2", "--json")
    assert json.loads(as_json.stdout)["to_version"] == 2

    rolled = await cli_run(api, "automations", "rollback", "lookup", "1")
    assert rolled.exit_code == 0 and "lookup version 3 (the same as version 1)" in rolled.stdout, rolled.output
    same = await cli_run(api, "automations", "diff", "lookup", "1", "3")
    assert '"url"' not in same.stdout and "description: None -> 'Rolled back to version 1'" in same.stdout

    missing = await cli_run(api, "automations", "rollback", "lookup", "9")
    assert missing.exit_code == 2 and "no version 9" in missing.stderr and "Traceback" not in missing.output
