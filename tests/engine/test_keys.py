"""key_press with the keys Playwright's keyboard has not (F13-F24, browser, IME and launch keys), on real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from rebrowse.automation.actions import DEVTOOLS_KEYS
from rebrowse.automation.loading import load_automation
from rebrowse.errors import AutomationInvalid
from tests.engine.conftest import Replay, automation
from tests.engine.test_interaction import READ_STATUS, interact, outputs, read_text

# What the page's keydown listener sees for each name: "key (code) keyCode #target" (see tests/site/devtools_keys.html).
SEEN: dict[str, str] = {
    **{f"f{n}": f"F{n} (F{n}) {0x7C + n - 13} #first" for n in range(13, 25)},
    "accept": "Accept (no code) 30 #first",
    "browserforward": "BrowserForward (BrowserForward) 167 #first",
    "browserstop": "BrowserStop (BrowserStop) 169 #first",
    "browsersearch": "BrowserSearch (BrowserSearch) 170 #first",
    "browserfavorites": "BrowserFavorites (BrowserFavorites) 171 #first",
    "clear": "Clear (NumpadClear) 12 #first",
    "convert": "Convert (Convert) 28 #first",
    "execute": "Execute (no code) 43 #first",
    "final": "FinalMode (no code) 24 #first",
    "fn": "Fn (Fn) 0 #first",
    "hangul": "HangulMode (Lang1) 21 #first",
    "hanguel": "HangulMode (Lang1) 21 #first",
    "hanja": "HanjaMode (Lang2) 25 #first",
    "help": "Help (Help) 47 #first",
    "junja": "JunjaMode (no code) 23 #first",
    "kana": "KanaMode (KanaMode) 21 #first",
    "kanji": "KanjiMode (no code) 25 #first",
    "launchapp1": "LaunchApplication1 (LaunchApp1) 182 #first",
    "launchapp2": "LaunchApplication2 (LaunchApp2) 183 #first",
    "launchmail": "LaunchMail (LaunchMail) 180 #first",
    "launchmediaselect": "LaunchMediaPlayer (MediaSelect) 181 #first",
    "modechange": "ModeChange (no code) 31 #first",
    "nonconvert": "NonConvert (NonConvert) 29 #first",
    "select": "Select (Select) 41 #first",
    "separator": "Unidentified (no code) 108 #first",
    "sleep": "Standby (Sleep) 95 #first",
    "stop": "MediaStop (MediaStop) 178 #first",
    "yen": "\u00a5 (IntlYen) 220 #first",
}
# Keys Chromium answers with a navigation, which takes the page's log with it: tested on their own below (a run's
# first page has about:blank before it, so even there browserback goes somewhere).
NAVIGATING = {"browserback", "browserrefresh", "browserhome"}
READ_EVENTS = read_text('locator("#events")', "events")
READ_WHERE = read_text('locator("#where")', "where")


def press(keys: str | list[str], **fields: Any) -> dict[str, Any]:
    """A key_press node."""
    return interact("key_press", {"type": keys, **fields})


def go_to(query: str) -> dict[str, Any]:
    """A go_to_url node for the keys page with a query string."""
    return interact("go_to_url", {"url": f"http://site.test/devtools_keys.html{query}"})


def test_every_name_optexity_has_and_playwright_has_not_is_tested() -> None:
    assert set(SEEN) | NAVIGATING == set(DEVTOOLS_KEYS)


@pytest.mark.parametrize("name", sorted(SEEN))
async def test_each_key_reaches_the_page_as_a_keyboard_sends_it(replay: Replay, name: str) -> None:
    result = await replay(automation("devtools_keys.html", [press(name), READ_EVENTS]))
    assert result.status == "success", result.error
    assert outputs(result)["events"] == SEEN[name]
    key = DEVTOOLS_KEYS[name]
    assert result.steps[0].detail == f"pressed {key.key} (keyCode {key.key_code})"


async def test_yen_types_the_yen_sign(replay: Replay) -> None:
    nodes = [press(["yen", "a"]), read_text('locator("#typed")', "value")]
    result = await replay(automation("devtools_keys.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["value"] == "\u00a5a"


async def test_keys_are_pressed_in_order_with_playwright_keys_between(replay: Replay) -> None:
    result = await replay(
        automation("devtools_keys.html", [press(["f13", "Enter", "ctrl+f14", "shift+alt+help"]), READ_EVENTS])
    )
    assert result.status == "success", result.error
    assert outputs(result)["events"].split("\n") == [
        "F13 (F13) 124 #first",
        "Enter (Enter) 13 #first",
        "Control+F14 (F14) 125 #first",
        "Alt+Shift+Help (Help) 47 #first",
    ]
    assert result.steps[0].detail == (
        "pressed F13 (keyCode 124), Enter, Control+F14 (keyCode 125), Shift+Alt+Help (keyCode 47)"
    )


async def test_a_key_on_an_element_lands_on_that_element(replay: Replay) -> None:
    nodes = [press(["f15", "kana"], command='locator("#second")'), READ_EVENTS]
    result = await replay(automation("devtools_keys.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["events"].split("\n") == ["F15 (F15) 126 #second", "KanaMode (KanaMode) 21 #second"]


async def test_browserback_goes_back_exactly_one_page_and_browserforward_returns(replay: Replay) -> None:
    nodes = [go_to("?n=2"), go_to("?n=3"), press("browserback"), READ_WHERE]
    result = await replay(automation("devtools_keys.html?n=1", nodes))
    assert outputs(result)["where"] == "?n=2 back_forward"
    result = await replay(automation("devtools_keys.html?n=1", [*nodes, press("browserforward"), READ_WHERE]))
    assert outputs(result)["where"] == "?n=3 back_forward"


async def test_browserrefresh_reloads_the_page(replay: Replay) -> None:
    nodes = [go_to("?n=2"), press("f13"), press("browserrefresh"), READ_WHERE, READ_STATUS]
    result = await replay(automation("devtools_keys.html?n=1", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["where"] == "?n=2 reload"
    assert outputs(result)["status"] == "No key yet"  # a new document: F13's entry went with the old one


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("browserbak", "unknown key 'browserbak'"),
        ("f25", "unknown key 'f25'"),
        ("f13+a", "key 'f13+a': 'f13' can be combined only as the last key, after Shift, Control, Alt or Meta"),
    ],
)
def test_load_refuses_unknown_keys_and_combinations_it_cannot_press(name: str, message: str) -> None:
    with pytest.raises(AutomationInvalid) as exc:
        load_automation(automation("devtools_keys.html", [press(name)]))
    [problem] = exc.value.errors
    assert problem.path == "nodes[0].interaction_action.key_press.type"
    assert problem.message == message
