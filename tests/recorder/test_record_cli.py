"""`rebrowse record` as a user runs it: under a virtual screen, driven by the keyboard with xdotool, stopped by
closing the window or by Ctrl+C (SIGINT); and its clear errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ViewportSize

from rebrowse.automation.loading import load_automation
from rebrowse.browser.display import LiveDisplay
from rebrowse.demo.site import SiteServer
from tests.recorder.driving import XInput, screen, unique
from tests.serving import stop_group
from tests.test_cli import rebrowse
from tests.waiting import eventually


@pytest.fixture
async def display() -> AsyncIterator[LiveDisplay]:
    async with screen() as started:
        yield started


TOOLBARS = 87  # the height of a Chromium window's tab strip and toolbar


async def chromium_window(xinput: XInput, title: str) -> str:
    """The id of the Chromium window showing the page titled `title` (once its page has loaded)."""
    found: list[str] = []

    async def shown() -> bool:
        listed = await asyncio.create_subprocess_exec(
            "xdotool", "search", "--onlyvisible", "--class", "chromium", env=xinput.env(), stdout=PIPE, stderr=PIPE
        )
        windows = (await listed.communicate())[0].decode().split()
        for window in windows:
            if title in await xinput.xdotool("getwindowname", window):
                found.append(window)
                return True
        return False

    await eventually(shown, timeout_s=60, what=f"a window titled {title}")
    return found[0]


async def field_centre(xinput: XInput, window: str, browser: Browser, url: str, selector: str) -> tuple[int, int]:
    """The centre of an element of the page laid out in a viewport of the recording window's size."""
    geometry = dict(
        line.split("=", 1) for line in (await xinput.xdotool("getwindowgeometry", "--shell", window)).split()
    )
    viewport = ViewportSize(width=int(geometry["WIDTH"]), height=int(geometry["HEIGHT"]) - TOOLBARS)
    page = await browser.new_page(viewport=viewport)
    try:
        await page.goto(url)
        box = await page.locator(selector).bounding_box()
    finally:
        await page.close()
    assert box is not None
    return round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2)


@pytest.mark.parametrize("stop", ["close the window", "Ctrl+C"])
async def test_record_writes_a_valid_file_and_prints_the_run_line(
    display: LiveDisplay, browser: Browser, site: SiteServer, tmp_path: Path, stop: str
) -> None:
    xinput = XInput(display.display, display.xauthority)
    output, log = tmp_path / "signup.json", tmp_path / "record.log"
    query = unique("calculus")
    with log.open("w") as written:
        process = subprocess.Popen(
            [sys.executable, "-m", "rebrowse.cli", "record", f"{site.url}/signup.html", "-o", str(output)],
            env=xinput.env(),
            stdout=written,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        await eventually(lambda: "recording:" in log.read_text(), timeout_s=60, what="the recording to start")
        window = await chromium_window(xinput, "Fixture: signup")
        # Where the field is in the window: its place on the same page laid out at the window's size, below the
        # window's toolbars. A click there makes the window active and leaves the focus in the field (focused on
        # load) whether or not the click itself reaches the page.
        x, y = await field_centre(xinput, window, browser, f"{site.url}/signup.html", "#course-search")
        await xinput.xdotool("mousemove", "--window", window, str(x), str(TOOLBARS + y), "click", "1")
        await xinput.type(query)
        await xinput.key("Return")
        # A step is printed once the next one begins: the press shows the text was recorded whole.
        try:
            await eventually(lambda: f'type "{query}"' in log.read_text(), what="the typed text to be recorded")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; rebrowse record printed:\n{log.read_text()}") from None
        if stop == "Ctrl+C":
            os.kill(process.pid, signal.SIGINT)
        else:
            await xinput.key("ctrl+w")
        await eventually(lambda: process.poll() is not None, timeout_s=60, what="rebrowse record to exit")
    finally:
        stop_group(process)
    printed = log.read_text()
    assert process.returncode == 0, printed
    assert "Traceback" not in printed
    data = json.loads(output.read_text())
    load_automation(data)
    assert data["parameters"]["input_parameters"] == {"course_search": [query]}
    assert f'type "{query}" into get_by_role("textbox", name="Course search")' in printed
    assert f"run it: rebrowse run {output} -p course_search={query}" in printed


def test_record_refuses_bad_input_clearly(tmp_path: Path) -> None:
    no_display = rebrowse("record", "https://example.com/", cwd=tmp_path, env={"DISPLAY": ""})
    assert no_display.returncode == 2
    assert "set DISPLAY" in no_display.stderr and "xvfb-run" in no_display.stderr

    bad_url = rebrowse("record", "not a url", cwd=tmp_path, env={"DISPLAY": ":99"})
    assert bad_url.returncode == 2
    assert "'not a url' is not an http:// or https:// address" in bad_url.stderr

    no_screen = rebrowse("record", "https://example.com/", cwd=tmp_path, env={"DISPLAY": ":97531"})
    assert no_screen.returncode == 2
    assert "Chromium could not open a window on DISPLAY=:97531" in no_screen.stderr
    assert not (tmp_path / "example.com.json").exists()

    (tmp_path / "example.com.json").write_text("{}")
    existing = rebrowse("record", "https://example.com/", cwd=tmp_path, env={"DISPLAY": ":99"})
    assert existing.returncode == 2
    assert "example.com.json already exists" in existing.stderr and "--force" in existing.stderr
    assert (tmp_path / "example.com.json").read_text() == "{}"
