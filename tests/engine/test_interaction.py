"""Element actions replayed on the fixture site: clicks, text input, selects, checkboxes, hover, uploads, keys."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from rebrowse.demo.site import DEMO_PASSWORD, DEMO_USERNAME, SiteServer, download_bytes
from rebrowse.engine.run import RunResult
from tests.engine.conftest import Replay, action, automation

# For steps that are meant to fail: one short try instead of Optexity's ten one-second tries.
FAIL_FAST = {"max_tries": 1, "max_timeout_seconds_per_try": 0.5}


def interact(kind: str, payload: dict[str, Any], *, fail_fast: bool = False, **node: Any) -> dict[str, Any]:
    """An interaction node such as interact("click_element", {"command": 'locator("#go")'})."""
    wrapper: dict[str, Any] = {kind: payload, **(FAIL_FAST if fail_fast else {})}
    return action("interaction_action", wrapper, **node)


def click(command: str, **fields: Any) -> dict[str, Any]:
    """A click_element node on `command`."""
    return interact("click_element", {"command": command, **fields})


def read_text(command: str, name: str) -> dict[str, Any]:
    """A locator extraction storing the element's text as output `name`."""
    payload = {"command": command, "output_variable_name": name, "extraction_format": {name: "str"}}
    return action("extraction_action", {"locator": payload})


def outputs(result: RunResult) -> dict[str, Any]:
    """Every extracted value of a run by output name (later values win)."""
    merged: dict[str, Any] = {}
    for entry in result.output_data:
        merged.update(entry.get("json_data") or {})
    return merged


def status_after(result: RunResult) -> str:
    """The #status text read by the run's `read_text('locator("#status")', "status")` node."""
    assert result.status == "success", result.error
    value: str = outputs(result)["status"]
    return value


READ_STATUS = read_text('locator("#status")', "status")


def submission_with(site: SiteServer, field: str, value: str) -> dict[str, Any]:
    """The one submission whose `field` is `value` (tests mark their submissions with unique values)."""
    found = [s for s in site.submissions() if s["fields"].get(field) == value]
    assert len(found) == 1, f"expected one submission with {field}={value!r}, got {found}"
    return found[0]


# ---------------------------------------------------------------------------------------------------------
# click_element


@pytest.mark.parametrize(
    ("command", "fields", "expected"),
    [
        ('locator("#single")', {}, "single click"),
        ('get_by_role("button", name="Double")', {"double_click": True}, "double click"),
        ('locator("#right")', {"button": "right"}, "right click"),
        ('locator("#middle")', {"button": "middle"}, "middle click"),
        ('locator("#covered")', {"force": True}, "covered click"),
    ],
)
async def test_click_variants_reach_their_listener(
    replay: Replay, command: str, fields: dict[str, Any], expected: str
) -> None:
    result = await replay(automation("buttons.html", [click(command, **fields), read_text('locator("#log")', "log")]))
    assert result.status == "success", result.error
    assert outputs(result)["log"] == expected  # exactly one event of exactly this kind


async def test_plain_click_on_a_covered_button_fails_naming_the_step(replay: Replay) -> None:
    node = interact("click_element", {"command": 'locator("#covered")'}, fail_fast=True)
    result = await replay(automation("buttons.html", [click('locator("#single")'), node]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[1] (click_element on locator("#covered")):')
    assert [s.outcome for s in result.steps] == ["success", "failed"]


async def test_single_click_does_not_fire_double_click(replay: Replay) -> None:
    result = await replay(automation("buttons.html", [click('locator("#double")'), READ_STATUS]))
    assert status_after(result) == "Nothing yet"


@pytest.mark.parametrize(
    ("command", "fields", "expected"),
    [
        ('locator("#single")', {}, "single click"),
        ('locator("#double")', {"double_click": True}, "double click"),
        ('locator("#right")', {"button": "right"}, "right click"),
        ('locator("#single")', {"mouse_click_deviation": {"x": 5, "y": 2}}, "single click"),
    ],
)
async def test_mouse_click_clicks_once_inside_the_element(
    replay: Replay, command: str, fields: dict[str, Any], expected: str
) -> None:
    node = click(command, mouse_click=True, **fields)
    result = await replay(automation("buttons.html", [node, read_text('locator("#log")', "log")]))
    assert result.status == "success", result.error
    assert outputs(result)["log"] == expected


async def test_mouse_click_deviation_moves_the_click(replay: Replay) -> None:
    # The deviation is relative to the centre: 150 px down lands on the empty page below the buttons.
    node = click('locator("#single")', mouse_click=True, mouse_click_deviation={"x": 0, "y": 150})
    result = await replay(automation("buttons.html", [node, READ_STATUS]))
    assert status_after(result) == "Nothing yet"


async def test_late_element_is_waited_for_without_a_sleep(replay: Replay) -> None:
    nodes = [click('get_by_role("button", name="Late button")'), READ_STATUS]
    result = await replay(automation("delayed.html", nodes))
    assert status_after(result) == "Late button clicked"
    assert all(step.action != "sleep" for step in result.steps)


async def test_click_that_fetches_then_navigates_lands_on_the_next_page(replay: Replay) -> None:
    nodes = [click('locator("#fetch-and-go")'), read_text('locator("#detail-id")', "id"), READ_STATUS]
    result = await replay(automation("delayed.html", nodes))
    assert status_after(result) == "Showing invoice 42"
    assert outputs(result)["id"] == "42"


async def test_elements_inside_an_iframe_through_content_frame(replay: Replay) -> None:
    nodes = [
        click('locator("#frame").content_frame.get_by_role("button", name="Inside the frame")'),
        read_text('locator("#frame").content_frame.locator("#frame-status")', "inside"),
        READ_STATUS,
    ]
    result = await replay(automation("frames.html", nodes))
    assert status_after(result) == "Frame button clicked"
    assert outputs(result)["inside"] == "Clicked in frame"
    assert result.steps[0].locator == 'locator("#frame").content_frame.get_by_role("button", name="Inside the frame")'


async def test_missing_element_fails_with_path_action_and_locator(replay: Replay) -> None:
    node = interact("click_element", {"command": 'get_by_role("button", name="Nowhere")'}, fail_fast=True)
    result = await replay(automation("buttons.html", [node]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith('nodes[0] (click_element on get_by_role("button", name="Nowhere")):')
    assert result.steps[-1].outcome == "failed"


# ---------------------------------------------------------------------------------------------------------
# input_text


def type_into(command: str, text: str, **fields: Any) -> dict[str, Any]:
    """An input_text node."""
    return interact("input_text", {"command": command, "input_text": text, **fields})


async def test_fill_and_press_enter_runs_the_search(replay: Replay) -> None:
    nodes = [type_into('get_by_label("Search")', "{query[0]}", press_enter=True), READ_STATUS]
    data = automation("search.html", nodes, parameters={"input_parameters": {"query": ["invoice"]}})
    result = await replay(data)
    # The results arrive ~150 ms after Enter; the read waits for them instead of sleeping.
    assert status_after(result) == "6 results"


@pytest.mark.parametrize("mode", ["fill", "type", "key_press"])
async def test_each_input_mode_sends_the_text(replay: Replay, site: SiteServer, mode: str) -> None:
    marker = uuid.uuid4().hex
    text = "Zoë Lovelace-42 (ça va?)"  # characters without a key on a US keyboard are inserted as text
    nodes = [
        type_into('locator("#full-name")', text, fill_or_type=mode),
        type_into('locator("#notes")', marker),
        click('locator("#submit")'),
    ]
    result = await replay(automation("form.html", nodes))
    assert result.status == "success", result.error
    assert submission_with(site, "notes", marker)["fields"]["full_name"] == text


async def test_fill_replaces_what_the_field_held(replay: Replay, site: SiteServer) -> None:
    marker = uuid.uuid4().hex
    nodes = [
        type_into('locator("#full-name")', "stale text"),
        type_into('locator("#full-name")', "Grace Hopper"),
        type_into('locator("#notes")', marker),
        click('locator("#submit")'),
    ]
    result = await replay(automation("form.html", nodes))
    assert result.status == "success", result.error
    assert submission_with(site, "notes", marker)["fields"]["full_name"] == "Grace Hopper"


async def test_key_press_mode_presses_one_key_per_character(replay: Replay) -> None:
    nodes = [
        type_into('locator("#keys-input")', "aB1/", fill_or_type="key_press"),
        read_text('locator("#key-log")', "log"),
    ]
    result = await replay(automation("keys.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["log"].split("\n") == ["a", "B", "1", "/"]


async def test_press_enter_submits_the_form(replay: Replay, site: SiteServer) -> None:
    marker = uuid.uuid4().hex
    nodes = [type_into('locator("#full-name")', marker, press_enter=True), read_text('locator("#thanks")', "thanks")]
    result = await replay(automation("form.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["thanks"] == "Thank you"
    submission_with(site, "full_name", marker)


async def test_input_with_an_empty_parameter_list_is_skipped_and_says_why(replay: Replay) -> None:
    nodes = [type_into('get_by_label("Search")', "{query[0]}", press_enter=True), READ_STATUS]
    data = automation("search.html", nodes, parameters={"input_parameters": {"query": ["invoice"]}})
    result = await replay(data, inputs={"query": []})
    assert status_after(result) == "Idle"  # nothing typed, Enter not pressed
    skipped = result.steps[0]
    assert (skipped.action, skipped.outcome) == ("input_text", "skipped")
    assert skipped.detail is not None
    assert "query" in skipped.detail
    assert "no values" in skipped.detail


async def test_input_with_a_placeholder_for_an_unknown_parameter_fails(replay: Replay) -> None:
    node = interact("input_text", {"command": 'get_by_label("Search")', "input_text": "{nobody[0]}"}, fail_fast=True)
    result = await replay(automation("search.html", [node, READ_STATUS]), unchecked=True)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (input_text")
    assert "{nobody[0]}" in result.error
    assert [s.outcome for s in result.steps] == ["failed"]


async def test_input_with_an_index_beyond_the_values_fails(replay: Replay) -> None:
    node = interact("input_text", {"command": 'get_by_label("Search")', "input_text": "{query[1]}"}, fail_fast=True)
    data = automation("search.html", [node], parameters={"input_parameters": {"query": ["only one"]}})
    result = await replay(data)
    assert result.status == "failed"
    assert result.error is not None
    assert "out of range" in result.error


# ---------------------------------------------------------------------------------------------------------
# select_option


def select(command: str, *values: str, fail_fast: bool = False) -> dict[str, Any]:
    """A select_option node."""
    return interact("select_option", {"command": command, "select_values": list(values)}, fail_fast=fail_fast)


@pytest.mark.parametrize(
    ("page", "command", "wanted", "expected"),
    [
        ("select.html", 'locator("#country")', ["de"], "country=de "),
        ("select.html", 'get_by_label("Country")', ["United Kingdom"], "country=gb "),
        ("select.html", 'locator("#country")', ["  india "], "country=in "),
        ("select.html", 'locator("#country")', ["germ"], "country=de "),  # a unique prefix
        ("select.html", 'locator("#country")', ["Kingdom"], "country=gb "),  # a unique substring
        ("select.html", 'locator("#placeholder-select")', ["Finance"], "department=fin "),
        ("select.html", 'locator("#only")', ["The only option"], "only=only-1 "),
        ("select.html", 'locator("#multi")', ["red", "Blue"], "tags=red,blue"),
        ("form.html", 'locator("#region")', ["east us"], "region=us-east "),
        ("form.html", 'locator("#region")', ["^West E"], "region=eu-west "),
        ("form.html", 'locator("#region")', [".*Asia$"], "region=ap-south "),
    ],
)
async def test_select_option_matches_value_label_fuzzy_and_pattern(
    replay: Replay, page: str, command: str, wanted: list[str], expected: str
) -> None:
    result = await replay(automation(page, [select(command, *wanted), READ_STATUS]))
    assert expected in status_after(result) + " "


async def test_select_option_from_a_parameter(replay: Replay) -> None:
    nodes = [select('locator("#region")', "{region[0]}"), READ_STATUS]
    data = automation("form.html", nodes, parameters={"input_parameters": {"region": ["West Europe"]}})
    result = await replay(data)
    assert status_after(result).startswith("region=eu-west ")


@pytest.mark.parametrize(
    ("command", "wanted"),
    [
        ('locator("#country")', "Atlantis"),
        ('locator("#country")', "United"),  # ambiguous: United States or United Kingdom
        ('locator("#only")', "Something else"),  # the only option is not picked for a wrong value
        ('locator("#placeholder-select")', "Accounting"),
    ],
)
async def test_select_option_without_a_match_fails_naming_the_step(replay: Replay, command: str, wanted: str) -> None:
    result = await replay(automation("select.html", [select(command, wanted, fail_fast=True), READ_STATUS]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(f"nodes[0] (select_option on {command}):")
    assert repr(wanted) in result.error
    assert [s.outcome for s in result.steps] == ["failed"]


async def test_select_option_with_an_invalid_pattern_fails(replay: Replay) -> None:
    result = await replay(automation("form.html", [select('locator("#region")', "^West (", fail_fast=True)]))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (select_option on locator(\"#region\")): select value '^West ('")
    assert "not a valid one" in result.error


# Options that arrive late, as in a dependent dropdown filled from an API.
LATE_OPTIONS_PAGE = """<!doctype html><select id="late"><option value="">Loading</option></select><p id="status"></p>
<script>
  const select = document.getElementById("late");
  setTimeout(() => [["a", "Alpha"], ["b", "Beta"]].forEach(([v, l]) => select.add(new Option(l, v))), 300);
  const show = () => { document.getElementById("status").textContent = "picked " + select.value; };
  select.addEventListener("change", show);
</script>"""


async def test_select_option_waits_for_options_that_load_late(replay: Replay) -> None:
    data = automation("", [select('locator("#late")', "Beta"), READ_STATUS])
    data["url"] = "data:text/html," + quote(LATE_OPTIONS_PAGE)
    result = await replay(data)
    assert status_after(result) == "picked b"


# ---------------------------------------------------------------------------------------------------------
# check / uncheck


def tick(kind: str, command: str) -> dict[str, Any]:
    """A check or uncheck node."""
    return interact(kind, {"command": command})


async def test_check_is_idempotent(replay: Replay) -> None:
    nodes = [
        tick("check", 'get_by_label("I agree to the terms")'),  # already checked
        tick("check", 'get_by_label("Subscribe to updates")'),
        tick("check", 'get_by_label("Subscribe to updates")'),  # again: stays checked
        READ_STATUS,
    ]
    result = await replay(automation("check.html", nodes))
    assert status_after(result) == "agree=on subscribe=on"


async def test_uncheck_is_idempotent(replay: Replay) -> None:
    nodes = [
        tick("uncheck", 'locator("#subscribe")'),  # already unchecked
        tick("uncheck", 'locator("#agree")'),
        tick("uncheck", 'locator("#agree")'),  # again: stays unchecked
        READ_STATUS,
    ]
    result = await replay(automation("check.html", nodes))
    assert status_after(result) == "agree=off subscribe=off"


async def test_check_selects_a_radio_button(replay: Replay) -> None:
    nodes = [
        tick("check", 'get_by_label("Pro")'),
        tick("check", 'get_by_label("Subscribe to the newsletter")'),
        READ_STATUS,
    ]
    result = await replay(automation("form.html", nodes))
    assert status_after(result) == "region=us-east newsletter=yes plan=pro"


# ---------------------------------------------------------------------------------------------------------
# hover


async def test_hover_opens_the_menu_then_an_item_is_clicked(replay: Replay) -> None:
    nodes = [
        interact("hover", {"command": 'locator("#menu")'}),
        read_text('locator("#status")', "after_hover"),
        click('get_by_role("link", name="Settings")'),
        READ_STATUS,
    ]
    result = await replay(automation("hover.html", nodes))
    assert status_after(result) == "Settings clicked"
    assert outputs(result)["after_hover"] == "Menu open"


async def test_hidden_menu_item_cannot_be_clicked_without_hover(replay: Replay) -> None:
    node = interact("click_element", {"command": 'locator("#menu-settings")'}, fail_fast=True)
    result = await replay(automation("hover.html", [node]))
    assert result.status == "failed"
    assert result.error is not None
    assert 'locator("#menu-settings")' in result.error


# ---------------------------------------------------------------------------------------------------------
# upload_file


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    """A directory uploads may be read from, holding notes.txt."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"hello from rebrowse\n")
    return folder


def upload(command: str, fail_fast: bool = False, **source: str) -> dict[str, Any]:
    """An upload_file node with file_path or file_url."""
    return interact("upload_file", {"command": command, **source}, fail_fast=fail_fast)


@pytest.mark.parametrize("file_path", ["notes.txt", "{doc[0]}"])
async def test_upload_through_a_file_input(replay: Replay, upload_dir: Path, file_path: str) -> None:
    nodes = [upload('get_by_label("Document")', file_path=file_path), READ_STATUS]
    data = automation("upload.html", nodes, parameters={"input_parameters": {"doc": [str(upload_dir / "notes.txt")]}})
    result = await replay(data, upload_dirs=(upload_dir,))
    assert status_after(result) == "file: notes.txt (20 bytes)"
    assert result.steps[0].detail == "uploaded notes.txt"


async def test_upload_through_a_button_that_opens_a_file_chooser(replay: Replay, upload_dir: Path) -> None:
    nodes = [upload('get_by_role("button", name="Choose file")', file_path="notes.txt"), READ_STATUS]
    result = await replay(automation("upload.html", nodes), upload_dirs=(upload_dir,))
    assert status_after(result) == "hidden-file: notes.txt (20 bytes)"


async def test_uploaded_file_reaches_the_server_in_a_multipart_form(
    replay: Replay, site: SiteServer, upload_dir: Path
) -> None:
    content = uuid.uuid4().bytes * 100
    (upload_dir / "scan.bin").write_bytes(content)
    marker = uuid.uuid4().hex
    nodes = [
        type_into('locator("#full-name")', marker),
        upload('get_by_label("Attachment")', file_path="scan.bin"),
        click('locator("#submit")'),
        read_text('locator("#file-attachment")', "received"),
    ]
    result = await replay(automation("form.html", nodes), upload_dirs=(upload_dir,))
    assert result.status == "success", result.error
    assert outputs(result)["received"] == f"scan.bin ({len(content)} bytes)"
    (file,) = submission_with(site, "full_name", marker)["files"]
    assert (file["field"], file["filename"], file["size"]) == ("attachment", "scan.bin", len(content))
    assert file["sha256"] == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    "file_path",
    [
        "/etc/passwd",
        "../../etc/passwd",
        "../outside.txt",
        "{evil[0]}",
        "missing.txt",
        "linked.txt",  # a symlink inside the directory that points outside it
    ],
)
async def test_upload_outside_the_allowed_directories_is_refused(
    replay: Replay, upload_dir: Path, tmp_path: Path, file_path: str
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not for upload")
    (upload_dir / "linked.txt").symlink_to(outside)
    nodes = [upload('get_by_label("Document")', fail_fast=True, file_path=file_path), READ_STATUS]
    data = automation("upload.html", nodes, parameters={"input_parameters": {"evil": ["../outside.txt"]}})
    result = await replay(data, upload_dirs=(upload_dir,))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[0] (upload_file")
    assert "not a file inside an allowed upload directory" in result.error
    assert str(upload_dir) in result.error
    assert len(result.steps) == 1


async def test_upload_without_any_allowed_directory_is_refused(
    replay: Replay, upload_dir: Path, tmp_path: Path
) -> None:
    nodes = [upload('get_by_label("Document")', fail_fast=True, file_path=str(upload_dir / "notes.txt"))]
    result = await replay(automation("upload.html", nodes), out_dir=tmp_path / "run")
    assert result.status == "failed"
    assert result.error is not None
    # Only the run's own downloads may be uploaded.
    assert result.error.endswith(f"is not a file inside an allowed upload directory ({tmp_path / 'run' / 'downloads'})")


@pytest.mark.parametrize("scheme", ["ftp", "file"])
async def test_upload_file_url_is_checked_once_its_placeholder_is_filled(replay: Replay, scheme: str) -> None:
    nodes = [upload('get_by_label("Document")', fail_fast=True, file_url="{doc[0]}")]
    params = {"input_parameters": {"doc": [f"{scheme}://x.test/a.pdf"]}}
    result = await replay(automation("upload.html", nodes, parameters=params))
    assert result.status == "failed"
    assert result.error == (
        f"nodes[0] (upload_file): file_url must be an http:// or https:// URL, got '{scheme}://x.test/a.pdf'"
    )


async def test_upload_file_url_from_a_placeholder(replay: Replay, site: SiteServer) -> None:
    nodes = [upload('get_by_label("Document")', file_url="{doc[0]}"), READ_STATUS]
    params = {"input_parameters": {"doc": [f"{site.url}/download/invoice_3.txt"]}}
    result = await replay(automation("upload.html", nodes, parameters=params))
    assert status_after(result) == f"file: invoice_3.txt ({len(download_bytes('invoice_3.txt'))} bytes)"


async def test_upload_from_a_url_fetched_through_the_browser_context(replay: Replay, site: SiteServer) -> None:
    # /api/session answers only with the session cookie the login set in this browser context.
    marker = uuid.uuid4().hex
    nodes = [
        type_into('locator("#username")', DEMO_USERNAME),
        type_into('locator("#password")', DEMO_PASSWORD),
        click('locator("#sign-in")'),
        interact("go_to_url", {"url": "http://site.test/form.html"}),
        type_into('locator("#full-name")', marker),
        upload('locator("#attachment")', file_url=f"{site.url}/api/session"),
        click('locator("#submit")'),
    ]
    result = await replay(automation("login.html", nodes))
    assert result.status == "success", result.error
    (file,) = submission_with(site, "full_name", marker)["files"]
    assert file["filename"] == "session.json"  # the extension comes from the response's content type
    assert file["sha256"] == hashlib.sha256(b'{"user": "ada"}').hexdigest()


async def test_upload_from_a_url_keeps_the_served_bytes(replay: Replay, site: SiteServer) -> None:
    nodes = [upload('get_by_label("Document")', file_url=f"{site.url}/download/invoice_3.txt"), READ_STATUS]
    result = await replay(automation("upload.html", nodes))
    assert status_after(result) == f"file: invoice_3.txt ({len(download_bytes('invoice_3.txt'))} bytes)"


async def test_upload_from_a_url_that_fails_fails_the_step(replay: Replay, site: SiteServer) -> None:
    # Without a login, /api/session answers 401.
    nodes = [upload('get_by_label("Document")', fail_fast=True, file_url=f"{site.url}/api/session")]
    result = await replay(automation("upload.html", nodes))
    assert result.status == "failed"
    assert result.error is not None
    assert "HTTP 401" in result.error


# ---------------------------------------------------------------------------------------------------------
# JavaScript dialogs


@pytest.mark.parametrize(
    ("button", "shown"),
    [
        ("alert", "alert closed"),
        ("confirm", "confirmed"),
        ("prompt", "prompt: []"),  # an empty answer, as Optexity gives
    ],
)
@pytest.mark.parametrize("alerts", [False, True])
async def test_dialogs_are_accepted_whatever_enable_browser_alerts_says(
    replay: Replay, button: str, shown: str, alerts: bool
) -> None:
    nodes = [click(f'locator("#{button}")'), READ_STATUS]
    result = await replay(automation("dialogs.html", nodes, enable_browser_alerts=alerts))
    assert status_after(result) == shown


# ---------------------------------------------------------------------------------------------------------
# key_press


def press(keys: str | list[str], **fields: Any) -> dict[str, Any]:
    """A key_press node."""
    return interact("key_press", {"type": keys, **fields})


@pytest.mark.parametrize(
    ("keys", "logged"),
    [
        ("Enter", ["Enter"]),
        ("Tab", ["Tab"]),
        ("Escape", ["Escape"]),
        ("ArrowDown", ["ArrowDown"]),
        ("Control+a", ["Control+a"]),
        (["Enter", "Tab", "Escape", "ArrowDown", "Control+a"], ["Enter", "Tab", "Escape", "ArrowDown", "Control+a"]),
        (
            ["enter", "tab", "esc", "down", "ctrl+a", "0", "/"],
            ["Enter", "Tab", "Escape", "ArrowDown", "Control+a", "0", "/"],
        ),
        ("Shift+Tab", ["Shift+Tab"]),
    ],
)
async def test_key_press_presses_every_key_in_order(replay: Replay, keys: str | list[str], logged: list[str]) -> None:
    result = await replay(automation("keys.html", [press(keys), read_text('locator("#key-log")', "log")]))
    assert result.status == "success", result.error
    assert result.steps[0].outcome == "success"
    assert outputs(result)["log"].split("\n") == logged


async def test_key_press_on_an_element_focuses_it_first(replay: Replay) -> None:
    nodes = [
        click('locator("h1")'),  # take the focus away from the input
        press(["x", "Enter"], command='locator("#keys-input")'),
        read_text('locator("#key-log")', "log"),
    ]
    result = await replay(automation("keys.html", nodes))
    assert result.status == "success", result.error
    assert outputs(result)["log"].split("\n") == ["x", "Enter"]
    assert result.steps[1].locator == 'locator("#keys-input")'


async def test_enter_on_the_search_field_submits_it(replay: Replay) -> None:
    nodes = [type_into('locator("#q")', "contract"), press("enter"), READ_STATUS]
    result = await replay(automation("search.html", nodes))
    assert status_after(result) == "3 results"
