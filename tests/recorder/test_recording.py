"""The conversion of Playwright recorder events (as its jsonl `code` strings) into steps and an automation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rebrowse.automation.loading import load_automation
from rebrowse.recorder.recording import (
    RecordedAction,
    RecordingInvalid,
    automation_of,
    describe_step,
    locator_from_json,
    recorded_steps,
    semantic_share,
)

PAGE = "page@one"
POPUP = "page@two"
PASSWORD_FIELD = 'internal:role=textbox[name="Password"i]'


def role(body: str, name: str, **options: Any) -> dict[str, Any]:
    return {"kind": "role", "body": body, "options": {"attrs": [], "exact": False, "name": name, **options}}


def event(name: str, page: str = PAGE, signals: list[dict[str, Any]] | None = None, **data: Any) -> RecordedAction:
    code = {"name": name, **data, "signals": signals or [], "pageGuid": page, "ariaSnapshot": "- textbox: s3cr3t"}
    return RecordedAction.from_code(json.dumps(code))


def on_field(name: str, locator: dict[str, Any], selector: str, **data: Any) -> RecordedAction:
    return event(name, selector=selector, locator=locator, **data)


def login_events(password: str) -> list[RecordedAction]:
    user = role("textbox", "User name")
    secret = role("textbox", "Password")
    return [
        event("openPage", url="about:blank"),
        event("navigate", url="http://site.test/login.html"),
        on_field("click", user, "u", button="left", clickCount=1, modifiers=0),
        on_field("fill", user, "u", text="ada"),
        on_field("click", secret, PASSWORD_FIELD, button="left", clickCount=1, modifiers=0),
        on_field("fill", secret, PASSWORD_FIELD, text=password),
        on_field("press", secret, PASSWORD_FIELD, key="Enter", modifiers=0),
        # Enter activating the form's button: the key press is the step.
        on_field("click", role("button", "Sign in"), "b", button="left", clickCount=0, modifiers=0),
    ]


def test_login_becomes_parameters_with_the_password_secure_and_nowhere_in_the_output() -> None:
    password = "correct-horse-battery"
    steps = recorded_steps(login_events(password), {PASSWORD_FIELD: True, "u": False})
    data = automation_of(steps)
    load_automation(data)
    assert data["url"] == "http://site.test/login.html"
    assert data["parameters"] == {"input_parameters": {"user_name": ["ada"]}, "secure_parameters": {"password": []}}
    assert [next(iter(node["interaction_action"])) for node in data["nodes"]] == [
        "input_text",
        "input_text",
        "key_press",
    ]
    assert data["nodes"][0]["interaction_action"]["input_text"] == {
        "command": 'get_by_role("textbox", name="User name")',
        "input_text": "{user_name[0]}",
    }
    assert data["nodes"][1]["interaction_action"]["input_text"]["input_text"] == "{password[0]}"
    assert data["nodes"][2]["interaction_action"]["key_press"]["type"] == "Enter"
    assert password not in repr(steps)  # nor in the steps a dashboard would stream
    described = "\n".join(describe_step(step) for step in steps)
    for text in (json.dumps(data), described, repr(data)):
        assert password not in text
        assert "s3cr3t" not in text  # the aria snapshot is never kept
    assert '"ada"' in described


def test_a_field_not_yet_checked_is_treated_as_secret() -> None:
    steps = recorded_steps(login_events("hunter22"), {})
    assert "hunter22" not in describe_step(steps[3])
    assert set(automation_of(steps)["parameters"]["secure_parameters"]) == {"user_name", "password"}


def test_duplicate_labels_get_numbered_names() -> None:
    city = role("textbox", "City")
    actions = [
        event("navigate", url="http://site.test/form.html"),
        on_field("fill", city, "c1", text="Paris"),
        on_field("fill", {**city, "next": {"kind": "nth", "body": "1"}}, "c2", text="Lyon"),
        on_field("fill", {"kind": "default", "body": "#notes"}, "#notes", text="hi"),
    ]
    data = automation_of(recorded_steps(actions, {"c1": False, "c2": False, "#notes": False}))
    load_automation(data)
    assert data["parameters"]["input_parameters"] == {"city": ["Paris"], "city_2": ["Lyon"], "text": ["hi"]}
    assert (
        data["nodes"][1]["interaction_action"]["input_text"]["command"] == 'get_by_role("textbox", name="City").nth(1)'
    )


@pytest.mark.parametrize(
    ("locator", "command", "semantic"),
    [
        (role("button", "Go", exact=True), 'get_by_role("button", name="Go", exact=True)', True),
        ({"kind": "label", "body": "Email", "options": {"exact": False}}, 'get_by_label("Email")', True),
        (
            {"kind": "placeholder", "body": "Search", "options": {"exact": True}},
            'get_by_placeholder("Search", exact=True)',
            True,
        ),
        ({"kind": "test-id", "body": "save"}, 'get_by_test_id("save")', True),
        ({"kind": "text", "body": "Invoice 3", "options": {}}, 'get_by_text("Invoice 3")', True),
        (
            {"kind": "role", "body": "heading", "options": {"attrs": [{"name": "level", "value": 2}], "name": "X"}},
            'get_by_role("heading", name="X", level=2)',
            True,
        ),
        (
            {"kind": "default", "body": "#row-2", "options": {}, "next": role("link", "Open")},
            'locator("#row-2").get_by_role("link", name="Open")',
            False,
        ),
        (
            {"kind": "default", "body": "li", "next": {"kind": "has-text", "body": "Tea", "next": {"kind": "first"}}},
            'locator("li").filter(has_text="Tea").first',
            False,
        ),
        (
            {"kind": "default", "body": "#pay", "next": {"kind": "frame", "next": role("button", "Pay")}},
            'locator("#pay").content_frame.get_by_role("button", name="Pay")',
            False,
        ),
    ],
)
def test_locator_json_becomes_a_whitelisted_command(locator: dict[str, Any], command: str, semantic: bool) -> None:
    found = locator_from_json(locator, "css=unused")
    assert (found.command, found.semantic) == (command, semantic)


def test_an_unsupported_kind_falls_back_to_the_selector_or_is_an_error_naming_the_step() -> None:
    odd = {"kind": "shadow-magic", "body": "x"}
    assert locator_from_json(odd, "internal:attr=[x]").command == 'locator("internal:attr=[x]")'
    actions = [event("navigate", url="http://site.test/"), event("click", locator=odd, clickCount=1)]
    steps = recorded_steps(actions, {})
    assert semantic_share(steps) == (0, 0)
    with pytest.raises(RecordingInvalid) as caught:
        automation_of(steps)
    assert caught.value.errors == ["step 2 (click): the recorder gave no usable locator (kinds: shadow-magic)"]


def test_tabs_downloads_selects_uploads_and_picks() -> None:
    link = role("link", "Report")
    status = {"kind": "test-id", "body": "status"}
    actions = [
        event("navigate", url="http://site.test/tabs.html"),
        event("click", locator=link, clickCount=1, signals=[{"name": "download", "downloadAlias": ""}]),
        event(
            "click",
            locator=role("button", "Open tab"),
            clickCount=1,
            signals=[{"name": "popup", "popupPageGuid": POPUP}],
        ),
        event("openPage", page=POPUP, url="about:blank"),
        event("select", page=POPUP, locator={"kind": "label", "body": "Region"}, options=["eu-west"]),
        event("setInputFiles", page=POPUP, locator={"kind": "label", "body": "Document"}, files=["a.txt"]),
        event("check", page=POPUP, locator=role("checkbox", "Agree")),
        event("assertText", page=POPUP, locator=status, text="ok", substring=True),
        event("assertVisible", page=POPUP, locator=status),
        event("assertSnapshot", page=POPUP, locator=status),
        event("click", locator=link, clickCount=2),
        event("closePage", page=POPUP),
    ]
    data = automation_of(recorded_steps(actions, {}))
    load_automation(data)
    kinds = [
        next(iter(node.get("interaction_action") or node.get("extraction_action") or {node["type"]: 0}))
        for node in data["nodes"]
    ]
    assert kinds == [
        "click_element",
        "click_element",
        "select_option",
        "upload_file",
        "check",
        "locator",
        "assert_locator_node",
        "if_else_node",
        "state",
        "switch_tab",
        "click_element",
        "switch_tab",  # closing the popup, which is not the current tab
        "close_current_tab",
    ]
    assert data["nodes"][0]["interaction_action"]["click_element"]["expect_download"] is True
    assert data["nodes"][1]["expect_new_tab"] is True
    assert data["nodes"][9]["interaction_action"]["switch_tab"] == {"tab_index": 0}
    assert data["nodes"][10]["interaction_action"]["click_element"]["double_click"] is True
    assert data["nodes"][5]["extraction_action"]["locator"]["output_variable_name"] == "status"
    assert data["parameters"]["input_parameters"] == {"region": ["eu-west"], "document": ["a.txt"]}
