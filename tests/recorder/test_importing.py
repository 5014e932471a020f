"""`rebrowse import`: Playwright scripts in codegen's shapes become automations that replay on the fixture site."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from rebrowse.automation.loading import load_automation
from rebrowse.demo.site import SiteServer
from rebrowse.recorder.importing import Parameter, ScriptUntranslatable, import_script
from tests.engine.conftest import Replay
from tests.test_cli import rebrowse

SCRIPTS = Path(__file__).parent / "scripts"
NEVER_WRITTEN = Path("/tmp/rebrowse-import-must-not-exist")


def imported(name: str, *parameters: Parameter) -> dict[str, Any]:
    return import_script((SCRIPTS / name).read_text(), name, list(parameters))


def submission(site: SiteServer, field: str, value: str) -> dict[str, Any]:
    found = [s for s in site.submissions() if s["fields"].get(field) == value]
    assert len(found) == 1, site.submissions()
    return found[0]


async def test_sync_codegen_script_replays_with_new_parameter_values(
    replay: Replay, site: SiteServer, tmp_path: Path
) -> None:
    data = imported(
        "login_form_sync.py",
        Parameter("full_name", "Ada Lovelace"),
        Parameter("region", "eu-west"),
        Parameter("attachment", "notes.txt"),
    )
    load_automation(data)
    assert data["parameters"]["input_parameters"] == {
        "full_name": ["Ada Lovelace"],
        "region": ["eu-west"],
        "attachment": ["notes.txt"],
    }
    # The expected text holds a parameter: the assertion follows its value.
    assert data["nodes"][-2]["locator"] == 'locator("#field-full_name").filter(has_text="{full_name[0]}")'
    (tmp_path / "memo.txt").write_text("a memo for the form\n")
    # A name no other test sends: the fixture site keeps every submission of the session.
    name = f"Grace Hopper {uuid.uuid4().hex[:8]}"
    inputs = {"full_name": [name], "region": ["ap-south"], "attachment": ["memo.txt"]}

    result = await replay(data, inputs=inputs, upload_dirs=(tmp_path,))

    assert result.status == "success", result.error
    sent = submission(site, "full_name", name)
    assert sent["fields"]["region"] == "ap-south"
    assert sent["fields"]["newsletter"] == "yes"
    assert sent["fields"]["notes"] == "Analytical Engine"
    assert [f["filename"] for f in sent["files"]] == ["memo.txt"]


async def test_a_failed_expect_fails_the_run_naming_its_line(replay: Replay, site: SiteServer) -> None:
    data = imported("login_form_sync.py", Parameter("password", "lovelace"))

    result = await replay(data, inputs={"password": ["wrong"]})

    assert result.status == "failed"
    assert 'line 15: expect(page.locator("#status")).to_have_text("Signed in as ada") did not hold' in str(result.error)
    # The run stopped at the assertion: the form after it was never sent.
    assert not [s for s in site.submissions() if s["fields"].get("full_name") == "Ada Lovelace"]


async def test_async_codegen_script_with_download_popup_and_frame(replay: Replay) -> None:
    data = imported("tabs_download_async.py")

    result = await replay(data)

    assert result.status == "success", result.error
    assert [d.filename for d in result.downloads] == ["second_invoice.txt"]
    assert Path(result.downloads[0].path).read_bytes()
    tabs = [
        node["interaction_action"]
        for node in data["nodes"]
        if node.get("type") == "action_node" and "interaction_action" in node
    ]
    assert {"switch_tab": {"tab_index": 1}} in tabs and {"close_current_tab": {}} in tabs


async def test_a_text_expectation_that_does_not_hold_fails(replay: Replay) -> None:
    script = (SCRIPTS / "tabs_download_async.py").read_text().replace('to_have_text("Tab 2")', 'to_have_text("tab 2")')

    result = await replay(import_script(script, "case.py", []))

    assert result.status == "failed"
    assert "line 19:" in str(result.error)


def test_untranslatable_lines_are_all_named_and_the_script_never_runs() -> None:
    NEVER_WRITTEN.unlink(missing_ok=True)
    with pytest.raises(ScriptUntranslatable) as caught:
        imported("untranslatable.py")

    lines = [error.split(":")[0] for error in caught.value.errors]
    assert lines == [f"untranslatable.py line {n}" for n in (1, 4, 12, 13, 14, 15, 18)]
    assert "cannot be translated (only a string literal can be used here)" in caught.value.errors[3]
    assert not NEVER_WRITTEN.exists()


@pytest.mark.parametrize(
    ("statement", "line", "why"),
    [
        ('page.get_by_role("button").click(modifiers=["Shift"])', 3, "option modifiers= has no automation field"),
        ('page.get_by_role("button").drag_to(page.locator("#x"))', 3, "drag_to() is not an element action"),
        ('page.evaluate("1")', 3, "page.evaluate() has no automation node"),
        ('page.get_by_role("button").nth(x).click()', 3, "invalid locator command"),
        ('page.get_by_label("Notes").fill("{name}")', 3, "{name...} would be read as a placeholder"),
        ('page.get_by_text("{name[0]}").click()', 3, "{name...} would be read as a placeholder"),
        ('with page.expect_download() as d:\n        page.get_by_label("Notes").fill("x")', 4, "only from a click"),
    ],
)
def test_each_refusal_says_why(statement: str, line: int, why: str) -> None:
    # Codegen's pytest shape: pytest calls the test with its page.
    script = f'def test_example(page):\n    page.goto("http://site.test/")\n    {statement}\n'

    with pytest.raises(ScriptUntranslatable) as caught:
        import_script(script, "s.py", [])

    (error,) = caught.value.errors
    assert error.startswith(f"s.py line {line}: `") and why in error


def test_a_parameter_whose_literal_is_never_typed_is_an_error() -> None:
    with pytest.raises(ScriptUntranslatable) as caught:
        imported("login_form_sync.py", Parameter("city", "Paris"))

    (error,) = caught.value.errors
    assert error == "--param city=Paris: the literal is not typed, selected, uploaded or expected anywhere"


def test_cli_writes_the_automation_and_the_run_line(tmp_path: Path) -> None:
    target = tmp_path / "login.json"

    done = rebrowse("import", SCRIPTS / "login_form_sync.py", "-o", target, "--param", "user=ada", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"wrote {target} (20 nodes)", f"run it: rebrowse run {target} -p user=ada"]
    assert json.loads(target.read_text())["parameters"]["input_parameters"] == {"user": ["ada"]}
    assert rebrowse("validate", target, cwd=tmp_path).returncode == 0


def test_cli_lists_every_error_and_writes_nothing(tmp_path: Path) -> None:
    NEVER_WRITTEN.unlink(missing_ok=True)
    target = tmp_path / "out.json"

    done = rebrowse("import", SCRIPTS / "untranslatable.py", "-o", target, cwd=tmp_path)

    assert done.returncode == 2
    errors = done.stderr.splitlines()
    assert len(errors) == 7 and all(line.startswith("import error: untranslatable.py line ") for line in errors)
    assert not target.exists() and not NEVER_WRITTEN.exists()
