"""Browser actions replayed on the fixture site: URLs, history, tabs and scrolling."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.engine.conftest import Replay, action, automation
from tests.engine.test_interaction import READ_STATUS, click, interact, outputs, read_text, status_after

ONLY_TAB = "cannot close the only open tab"


def go_to(path: str, **fields: Any) -> dict[str, Any]:
    """A go_to_url node for a path on the fixture site."""
    return interact("go_to_url", {"url": f"http://site.test/{path}", **fields})


def browser_action(kind: str, **fields: Any) -> dict[str, Any]:
    """An interaction node for an action that takes no element: interact("switch_tab", tab_index=0)."""
    return interact(kind, fields)


def open_tab(command: str) -> dict[str, Any]:
    """A click that opens a tab, which then becomes the current one."""
    return {**click(command), "expect_new_tab": True}


# Three tabs, the current one last: tabs.html (its #status then says "opened tab 3"), tab2.html, tab3.html.
OPEN_THREE_TABS = [
    open_tab('locator("#open-tab2")'),
    browser_action("switch_tab", tab_index=0),
    open_tab('locator("#open-tab3")'),
]


def closed_port() -> int:
    """A local port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# ---------------------------------------------------------------------------------------------------------
# go_to_url and go_back


async def test_go_to_url_loads_the_page_with_placeholders(replay: Replay) -> None:
    nodes = [go_to("detail.html?id={invoice[0]}"), READ_STATUS]
    result = await replay(automation("tabs.html", nodes, parameters={"input_parameters": {"invoice": ["7"]}}))
    assert status_after(result) == "Showing invoice 7"
    assert result.steps[0].detail == "HTTP 200"
    assert result.steps[0].url is not None
    assert result.steps[0].url.endswith("/tabs.html")
    assert result.steps[1].url is not None
    assert result.steps[1].url.endswith("/detail.html?id=7")


async def test_go_to_url_that_cannot_load_fails_the_step(replay: Replay) -> None:
    nodes = [interact("go_to_url", {"url": f"http://127.0.0.1:{closed_port()}/nothing"}), READ_STATUS]
    result = await replay(automation("tabs.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (go_to_url):")
    assert "ERR_CONNECTION_REFUSED" in result.error
    assert [s.outcome for s in result.steps] == ["failed"]


@pytest.mark.parametrize("url", ["file:///etc/hostname", "chrome://version", "javascript:alert(1)", "site.test/x"])
async def test_go_to_url_opens_only_web_urls(replay: Replay, url: str) -> None:
    nodes = [interact("go_to_url", {"url": url}), read_text('locator("body")', "body")]
    result = await replay(automation("tabs.html", nodes))
    assert result.status == "failed"
    assert result.error == f"nodes[0] (go_to_url): go_to_url only opens http(s) URLs, got {url!r}"
    assert result.output_data == []


async def test_go_to_url_in_a_new_tab_keeps_the_first_tab(replay: Replay) -> None:
    nodes = [
        go_to("tab2.html", new_tab=True),
        read_text('locator("#status")', "new_tab"),
        browser_action("switch_tab", tab_index=0),
        read_text('locator("#status")', "first_tab"),
        browser_action("switch_tab", tab_index=-1),
        READ_STATUS,
    ]
    result = await replay(automation("tabs.html", nodes))
    assert status_after(result) == "Tab 2"
    assert outputs(result)["new_tab"] == "Tab 2"
    assert outputs(result)["first_tab"] == "Tab 1"


async def test_go_back_returns_to_the_previous_page(replay: Replay) -> None:
    nodes = [
        click('locator("#row-3").get_by_role("link", name="Open")'),
        read_text('locator("#detail-name")', "detail"),
        browser_action("go_back"),
        READ_STATUS,
    ]
    result = await replay(automation("table.html", nodes))
    assert status_after(result) == "10 invoices"
    assert outputs(result)["detail"] == "Invoice 3"


async def test_go_back_within_the_same_document(replay: Replay) -> None:
    nodes = [go_to("table.html#rows"), browser_action("go_back"), action("extraction_action", {"state": {}})]
    result = await replay(automation("table.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["page_url"].endswith("/table.html")


async def test_go_back_without_history_fails(replay: Replay) -> None:
    result = await replay(automation("table.html", [browser_action("go_back"), READ_STATUS]))
    assert result.status == "failed"
    assert result.error == "nodes[0] (go_back): there is no page to go back to"


async def test_go_back_in_a_tab_opened_by_script_fails(replay: Replay) -> None:
    # The new tab has no history at all: going back is not silently skipped.
    nodes = [open_tab('locator("#open-tab3")'), browser_action("go_back"), READ_STATUS]
    result = await replay(automation("tabs.html", nodes))
    assert result.status == "failed"
    assert result.error == "nodes[1] (go_back): there is no page to go back to"


# ---------------------------------------------------------------------------------------------------------
# expect_new_tab, switch_tab


async def test_expect_new_tab_follows_a_target_blank_link(replay: Replay) -> None:
    result = await replay(automation("tabs.html", [open_tab('get_by_role("link", name="Open tab 2")'), READ_STATUS]))
    assert status_after(result) == "Tab 2"
    assert result.steps[1].url is not None
    assert result.steps[1].url.endswith("/tab2.html")


async def test_expect_new_tab_follows_window_open(replay: Replay) -> None:
    result = await replay(automation("tabs.html", [open_tab('locator("#open-tab3")'), READ_STATUS]))
    assert status_after(result) == "Tab 3"


async def test_expect_new_tab_without_a_new_tab_fails(replay: Replay) -> None:
    # Optexity forces a 10 s wait for the tab, so this test takes that long.
    result = await replay(automation("buttons.html", [open_tab('locator("#single")'), READ_STATUS]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[0] (click_element on locator("#single")): expected a new tab')
    assert [s.outcome for s in result.steps] == ["failed"]


async def test_switch_tab_out_of_range_fails(replay: Replay) -> None:
    result = await replay(automation("tabs.html", [browser_action("switch_tab", tab_index=1)]))
    assert result.status == "failed"
    assert result.error == "nodes[0] (switch_tab): tab_index 1 is out of range: 1 tab(s) open"


# ---------------------------------------------------------------------------------------------------------
# Closing tabs


async def test_close_current_tab_continues_in_the_remaining_tab(replay: Replay) -> None:
    nodes = [open_tab('locator("#open-tab2")'), browser_action("close_current_tab"), READ_STATUS]
    result = await replay(automation("tabs.html", nodes))
    assert status_after(result) == "Tab 1"


async def test_close_current_tab_refuses_to_close_the_last_tab(replay: Replay) -> None:
    result = await replay(automation("tabs.html", [browser_action("close_current_tab"), READ_STATUS]))
    assert result.status == "failed"
    assert result.error == f"nodes[0] (close_current_tab): {ONLY_TAB}"


async def test_close_tabs_until_a_url_matches(replay: Replay) -> None:
    nodes = [
        *OPEN_THREE_TABS,
        browser_action("close_tabs_until", matching_url="tabs.html"),
        READ_STATUS,
        browser_action("close_current_tab"),  # fails: the two other tabs are gone
    ]
    result = await replay(automation("tabs.html", nodes))
    assert outputs(result)["status"] == "opened tab 3"
    assert result.error == f"nodes[5] (close_current_tab): {ONLY_TAB}"


async def test_close_tabs_until_a_tab_index_is_the_last(replay: Replay) -> None:
    nodes = [
        *OPEN_THREE_TABS,
        browser_action("close_tabs_until", tab_index=1),
        read_text('locator("#status")', "last"),
        browser_action("close_current_tab"),  # one more tab is left to close
        READ_STATUS,
    ]
    result = await replay(automation("tabs.html", nodes))
    assert status_after(result) == "opened tab 3"
    assert outputs(result)["last"] == "Tab 2"


async def test_close_tabs_until_a_placeholder_url_matches(replay: Replay) -> None:
    nodes = [*OPEN_THREE_TABS, browser_action("close_tabs_until", matching_url="{page[0]}"), READ_STATUS]
    result = await replay(automation("tabs.html", nodes, parameters={"input_parameters": {"page": ["tab2.html"]}}))
    assert status_after(result) == "Tab 2"


async def test_close_tabs_until_nothing_matches_fails(replay: Replay) -> None:
    nodes = [open_tab('locator("#open-tab2")'), browser_action("close_tabs_until", matching_url="nowhere.html")]
    result = await replay(automation("tabs.html", nodes))
    assert result.status == "failed"
    assert result.error == "nodes[1] (close_tabs_until): no open tab matches 'nowhere.html'"


async def test_close_tabs_until_an_index_that_is_not_open_fails(replay: Replay) -> None:
    nodes = [open_tab('locator("#open-tab2")'), browser_action("close_tabs_until", tab_index=2), READ_STATUS]
    result = await replay(automation("tabs.html", nodes))
    assert result.status == "failed"
    assert result.error == "nodes[1] (close_tabs_until): tab_index 2 is out of range: 2 tab(s) open"


async def test_close_all_but_last_tab(replay: Replay) -> None:
    nodes = [
        *OPEN_THREE_TABS,
        browser_action("switch_tab", tab_index=0),
        browser_action("close_all_but_last_tab"),
        READ_STATUS,
        browser_action("close_current_tab"),  # fails: only the last tab is left
    ]
    result = await replay(automation("tabs.html", nodes))
    assert outputs(result)["status"] == "Tab 3"
    assert result.error == f"nodes[6] (close_current_tab): {ONLY_TAB}"


# ---------------------------------------------------------------------------------------------------------
# scroll


def count_items(locator: str) -> dict[str, Any]:
    """A count_locator node whose count is output as `items`."""
    return action(
        "misc_action", {"count_locator": {"locator": locator, "name": "items", "output_variable_name": "items"}}
    )


async def test_scroll_by_an_amount(replay: Replay) -> None:
    nodes = [
        browser_action("scroll", amount=100),
        read_text('locator("#status")', "near_top"),
        browser_action("scroll", amount=10_000),  # to the bottom: the feed loads one more batch
        READ_STATUS,
    ]
    result = await replay(automation("scroll.html", nodes))
    assert outputs(result)["near_top"] == "Loaded 0 of 3 more batches"
    assert status_after(result) == "Loaded 1 of 3 more batches"


async def test_scroll_to_the_end_of_an_infinite_feed(replay: Replay) -> None:
    nodes = [
        browser_action("scroll"),
        read_text('locator("#end")', "end"),
        READ_STATUS,
        count_items('locator(".item")'),
    ]
    result = await replay(automation("scroll.html", nodes))
    assert status_after(result) == "Loaded 3 of 3 more batches"
    assert outputs(result)["end"] == "End of feed"
    assert outputs(result)["items"] == 50


async def test_scroll_up_to_the_top_loads_nothing_more(replay: Replay) -> None:
    nodes = [browser_action("scroll", amount=10_000), browser_action("scroll", down=False), READ_STATUS]
    result = await replay(automation("scroll.html", nodes))
    assert status_after(result) == "Loaded 1 of 3 more batches"
