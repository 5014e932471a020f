"""Element actions that fail say why in words, on real fixture pages: nothing matches (with the page's closest
elements), several match (all listed), the element is disabled or covered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rebrowse.demo.site import SiteServer
from tests.engine.conftest import Replay, action, automation

FAIL_FAST = {"max_tries": 1, "max_timeout_seconds_per_try": 0.5}
WAITED = "(Locator.click: Timeout 500ms exceeded.)"


def click(command: str) -> dict[str, Any]:
    return action("interaction_action", {"click_element": {"command": command}, **FAIL_FAST})


async def failed_click(replay: Replay, page: str, command: str, tmp_path: Path) -> str:
    """The run's error for a click that fails; the step records the same words in steps.jsonl."""
    result = await replay(automation(page, [click(command)]), out_dir=tmp_path / "run")
    assert result.status == "failed"
    assert result.error is not None
    recorded = last_step_error(tmp_path / "run" / "steps.jsonl")
    assert result.error == f"nodes[0] (click_element on {command}): {recorded}"
    return recorded


def last_step_error(steps: Path) -> str:
    error: str = json.loads(steps.read_text().splitlines()[-1])["error"]
    return error


async def test_nothing_matches_names_the_page_and_its_closest_elements(
    replay: Replay, tmp_path: Path, site: SiteServer
) -> None:
    command = 'get_by_role("button", name="Place the order")'
    error = await failed_click(replay, "healing.html", command, tmp_path)
    assert error == (
        f"no element matches {command} on {site.url}/healing.html; "
        f'closest by role and name: get_by_role("button", name="Place order") {WAITED}'
    )


async def test_a_selector_is_compared_with_the_names_on_the_page(replay: Replay, tmp_path: Path) -> None:
    error = await failed_click(replay, "healing.html", 'locator("#place-order")', tmp_path)
    assert 'closest by role and name: get_by_role("button", name="Place order")' in error


async def test_nothing_matches_and_nothing_is_close(replay: Replay, tmp_path: Path, site: SiteServer) -> None:
    command = 'get_by_role("link", name="Quarterly statements")'
    error = await failed_click(replay, "buttons.html", command, tmp_path)
    assert error == f"no element matches {command} on {site.url}/buttons.html {WAITED}"


async def test_several_matches_are_all_listed(replay: Replay, tmp_path: Path, site: SiteServer) -> None:
    command = 'get_by_role("button", name="Add")'
    error = await failed_click(replay, "locators.html", command, tmp_path)
    assert error.startswith(f"3 elements match {command} on {site.url}/locators.html: 1) <button")
    assert "2) <button" in error and "3) <button" in error
    assert error.endswith("(make the command match one of them)")


async def test_a_disabled_element_is_said_to_be(replay: Replay, tmp_path: Path, site: SiteServer) -> None:
    error = await failed_click(replay, "buttons.html", 'locator("#send")', tmp_path)
    assert error == f'the element matching locator("#send") on {site.url}/buttons.html is disabled {WAITED}'


async def test_a_covered_element_names_what_covers_it(replay: Replay, tmp_path: Path, site: SiteServer) -> None:
    error = await failed_click(replay, "buttons.html", 'locator("#covered")', tmp_path)
    assert error == (
        f'the element matching locator("#covered") on {site.url}/buttons.html is covered by '
        f'<div id="overlay"></div>, which would take the click {WAITED}'
    )
