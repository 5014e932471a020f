"""browser_channel chrome: the run launches Google Chrome for itself where one is installed, else runs on the
Chromium given and says so in its result; never a rejection."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser

from rebrowse.automation.loading import load_automation
from rebrowse.browser.launch import find_chrome
from rebrowse.demo.automation import rebase_urls
from rebrowse.demo.site import SiteServer
from rebrowse.engine.artifacts import StepRecord
from rebrowse.engine.channels import NO_CHROME
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import RunResult, run_automation
from tests.engine.conftest import ORIGIN, automation
from tests.engine.test_interaction import READ_STATUS, click, status_after

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="the system chromium stands in for Google Chrome")


async def run_channel(
    browser: Browser, site: SiteServer, tmp_path: Path, chrome: str | None, channel: str = "chrome"
) -> tuple[RunResult, list[int]]:
    """Run a check-box flow on `channel`; also the number of contexts the given browser had at each step."""
    data = automation("check.html", [click('locator("#subscribe")'), READ_STATUS], browser_channel=channel)
    loaded = load_automation(rebase_urls(data, ORIGIN, site.url))
    contexts_of_given: list[int] = []

    def seen(record: StepRecord) -> None:
        contexts_of_given.append(len(browser.contexts))

    options = RunOptions(out_dir=tmp_path / "run", chrome=chrome)
    result = await run_automation(browser, loaded, options=options, listener=seen)
    return result, contexts_of_given


@needs_chromium
async def test_chrome_runs_on_the_configured_chrome_launched_for_the_run(
    browser: Browser, site: SiteServer, tmp_path: Path
) -> None:
    result, contexts_of_given = await run_channel(browser, site, tmp_path, CHROMIUM)
    assert status_after(result) == "agree=on subscribe=on"
    assert (result.browser, result.notes) == ("chrome", [])
    # Every step ran in a context of the run's own browser, none in the one given.
    assert contexts_of_given == [0, 0]
    assert json.loads((tmp_path / "run" / "result.json").read_text())["browser"] == "chrome"


async def test_chrome_without_chrome_installed_runs_on_chromium_with_a_note(
    browser: Browser, site: SiteServer, tmp_path: Path
) -> None:
    result, contexts_of_given = await run_channel(browser, site, tmp_path, None)
    assert status_after(result) == "agree=on subscribe=on"
    assert (result.browser, result.notes) == ("chromium", [NO_CHROME])
    assert contexts_of_given == [1, 1]
    assert json.loads((tmp_path / "run" / "result.json").read_text())["notes"] == [NO_CHROME]


async def test_a_chrome_that_does_not_start_leaves_the_run_on_chromium_with_the_reason(
    browser: Browser, site: SiteServer, tmp_path: Path
) -> None:
    not_a_browser = tmp_path / "fake-chrome"
    not_a_browser.write_text("#!/bin/sh\nexit 3\n")
    not_a_browser.chmod(0o755)
    result, _ = await run_channel(browser, site, tmp_path, str(not_a_browser))
    assert status_after(result) == "agree=on subscribe=on"
    assert result.browser == "chromium"
    (note,) = result.notes
    assert note.startswith(f"browser_channel chrome: {not_a_browser} did not start (")
    assert note.endswith("), so the run used Chromium")


async def test_chromium_runs_on_the_given_browser_without_a_note(
    browser: Browser, site: SiteServer, tmp_path: Path
) -> None:
    result, contexts_of_given = await run_channel(browser, site, tmp_path, CHROMIUM, channel="chromium")
    assert (result.status, result.browser, result.notes) == ("success", "chromium", [])
    assert contexts_of_given == [1, 1]


def test_find_chrome_takes_the_setting_else_google_chrome_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chrome = tmp_path / "bin" / "google-chrome-stable"
    chrome.parent.mkdir()
    chrome.write_text("#!/bin/sh\n")
    chrome.chmod(0o755)
    monkeypatch.setenv("PATH", str(chrome.parent))
    assert find_chrome() == str(chrome)
    assert find_chrome(str(chrome)) == str(chrome)
    assert find_chrome(str(tmp_path / "missing")) is None  # a setting that names nothing: no Chrome
    monkeypatch.setenv("PATH", os.devnull)
    assert find_chrome() is None
