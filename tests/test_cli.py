"""`rebrowse` as a person runs it: a real subprocess against the fixture site on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pyotp
import pytest

from rebrowse.automation.json_schema import automation_json_schema
from rebrowse.cli.replay import print_summary
from rebrowse.demo.site import SiteServer
from rebrowse.engine.run import RunResult
from tests import llm_server
from tests.llm_server import Call, ChatServer, Script, output_tool, snapshot_ref

chat_server = llm_server.chat_server  # the fixture of the model's server

FAST = {"max_tries": 1, "max_timeout_seconds_per_try": 0.5}
# The operator's own settings must not change what these tests see.
CLEARED_ENV = (
    "REBROWSE_ALLOW_PYTHON_SCRIPTS",
    "REBROWSE_SCREENSHOTS",
    "REBROWSE_TRACE",
    "OP_SERVICE_ACCOUNT_TOKEN",
    "REBROWSE_CHROME_PATH",
    "REBROWSE_LLM_MODEL",
    "REBROWSE_LLM_BASE_URL",
    "REBROWSE_LLM_FALLBACK_MODEL",
    "REBROWSE_HEALING",
)


def rebrowse(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion; whatever the input, it must never answer with a Python traceback."""
    environ = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV} | (env or {})
    done = subprocess.run(
        [sys.executable, "-m", "rebrowse.cli", *map(str, args)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def write_automation(
    path: Path, site: SiteServer, nodes: list[dict[str, Any]], inputs: dict[str, list[Any]] | None = None
) -> Path:
    """An automation on form.html of the live site, written to `path`."""
    data = {"url": f"{site.url}/form.html", "parameters": {"input_parameters": inputs or {}}, "nodes": nodes}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def interaction(kind: str, **payload: Any) -> dict[str, Any]:
    return {"type": "action_node", "interaction_action": {kind: payload}}


def typed(command: str, text: str) -> dict[str, Any]:
    return interaction("input_text", command=command, input_text=text)


def read_text(command: str, name: str) -> dict[str, Any]:
    payload = {"command": command, "output_variable_name": name, "extraction_format": {name: "str"}}
    return {"type": "action_node", "extraction_action": {"locator": payload}}


SUBMIT = interaction("click_element", command='locator("#submit")')


def submission_with(site: SiteServer, field: str, value: str) -> dict[str, Any]:
    """The one submission whose `field` holds `value`."""
    found = [s for s in site.submissions() if s["fields"].get(field) == value]
    assert len(found) == 1, f"expected one submission with {field}={value!r}, got {len(found)}"
    submission: dict[str, Any] = found[0]
    return submission


# ---------------------------------------------------------------------------------------------------------
# rebrowse run


def test_run_json_reports_the_result_as_one_object(site: SiteServer, tmp_path: Path) -> None:
    name = f"Grace {uuid.uuid4().hex[:8]}"
    nodes = [typed('locator("#full-name")', "{name[0]}"), SUBMIT, read_text('locator("#field-full_name")', "shown")]
    automation = write_automation(tmp_path / "flow.json", site, nodes, {"name": ["Ada"]})

    done = rebrowse("run", automation, "-p", f"name={name}", "--out", "out", "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "success" and result["error"] is None
    assert result["output_data"] == [{"unique_identifier": None, "json_data": {"shown": name}}]
    assert result["downloads"] == []
    assert [(s["path"], s["action"], s["outcome"]) for s in result["steps"]] == [
        ("nodes[0]", "input_text", "success"),
        ("nodes[1]", "click_element", "success"),
        ("nodes[2]", "extract.locator", "success"),
    ]
    assert result["duration_s"] > 0
    assert Path(result["out_dir"]) == (tmp_path / "out").resolve()
    assert Path(result["final_screenshot"]).read_bytes().startswith(b"\x89PNG")
    assert submission_with(site, "full_name", name)["fields"]["email"] == ""


def test_everything_a_run_leaves_is_the_users_alone(site: SiteServer, tmp_path: Path) -> None:
    # The review found artifacts and downloads world-readable (0755/0644): another user of the machine could read
    # what a task saw and fetched.
    link = 'locator("#row-2").get_by_role("link", name="Download")'
    data = {
        "url": f"{site.url}/table.html",
        "parameters": {},
        "nodes": [interaction("click_element", command=link, expect_download=True)],
        "take_final_screenshot": True,
    }
    automation = tmp_path / "flow.json"
    automation.write_text(json.dumps(data))
    env = {"REBROWSE_SCREENSHOTS": "every_step", "REBROWSE_TRACE": "1"}

    done = rebrowse("run", automation, "--out", "out", "--json", cwd=tmp_path, env=env)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    written = [Path(result["out_dir"]), *Path(result["out_dir"]).rglob("*")]
    kinds = {p.suffix for p in written if p.is_file()}
    assert {".png", ".zip", ".json", ".jsonl"} <= kinds and len(result["downloads"]) == 1
    shared = {str(p): oct(p.stat().st_mode & 0o777) for p in written if p.stat().st_mode & 0o077}
    assert shared == {}


def test_run_shows_each_step_then_a_summary(site: SiteServer, tmp_path: Path) -> None:
    # Brackets in a locator are text to show, not console markup to interpret.
    name = uuid.uuid4().hex
    nodes = [typed('locator("input[name=full_name]")', "{name[0]}"), SUBMIT]
    automation = write_automation(tmp_path / "flow.json", site, nodes, {"name": [name]})

    done = rebrowse("run", automation, "--out", "out", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("nodes[0] input_text" in line and 'locator("input[name=full_name]")' in line for line in lines)
    assert any("nodes[1] click_element" in line and 'locator("#submit")' in line for line in lines)
    assert any(line.startswith("success in ") for line in lines)
    assert f"artifacts in {(tmp_path / 'out').resolve()}" in done.stdout
    assert "LLM" not in done.stdout  # the run asked no model: no line about it
    submission_with(site, "full_name", name)


@pytest.mark.parametrize(
    ("usage", "line"),
    [
        ((1, 0, 812, 20), "LLM 1 call, 812 tokens in, 20 tokens out"),
        ((3, 1, 2400, 75), "LLM 3 calls, 1 failed, 2400 tokens in, 75 tokens out"),
    ],
)
def test_the_summary_shows_the_runs_model_calls_and_tokens(
    usage: tuple[int, int, int, int], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    calls, failed, tokens_in, tokens_out = usage
    figures = {"calls": calls, "failed_calls": failed, "input_tokens": tokens_in, "output_tokens": tokens_out}
    result = RunResult("success", None, [], [], [], None, [], 1.5, 1, "/tmp/out", {**figures, "requests": calls})

    print_summary(result)

    assert line in capsys.readouterr().out.splitlines()


def healing_run(site: SiteServer, tmp_path: Path, chat_server: ChatServer, *args: str, **env: str) -> Any:
    """`rebrowse run` of an old recording's click on healing.html (its command finds nothing there) with a goal,
    the model being the test's server, which picks the order button."""

    def answer(request: dict[str, Any]) -> Call:
        prompt = "\n".join(str(m.get("content")) for m in request["messages"])
        return Call(output_tool(request), {"ref": snapshot_ref(prompt, "button", "Place order"), "reason": "it"})

    chat_server.script = answer
    click = interaction("click_element", command='locator("#place-order")', prompt_instructions="Place the order")
    click["interaction_action"].update(FAST)
    automation = tmp_path / "order.json"
    automation.write_text(json.dumps({"url": f"{site.url}/healing.html", "parameters": {}, "nodes": [click]}))
    settings = {"REBROWSE_LLM_MODEL": "test-model", "REBROWSE_LLM_BASE_URL": chat_server.base_url, **env}
    return rebrowse("run", automation, "--out", "out", *args, cwd=tmp_path, env=settings)


NEW_BUTTON = 'get_by_role("button", name="Place order", exact=True)'


def test_run_says_which_steps_the_model_healed(site: SiteServer, tmp_path: Path, chat_server: ChatServer) -> None:
    done = healing_run(site, tmp_path, chat_server)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("healed 1 step(s)") for line in lines), done.stdout
    assert any(line.strip().startswith(f'nodes[0]: locator("#place-order") → {NEW_BUTTON}') for line in lines)


def test_run_json_lists_the_healed_steps(site: SiteServer, tmp_path: Path, chat_server: ChatServer) -> None:
    done = healing_run(site, tmp_path, chat_server, "--json")

    assert done.returncode == 0, done.stderr
    [healed] = json.loads(done.stdout)["healed"]
    assert healed["path"] == "nodes[0]" and healed["command"] == NEW_BUTTON
    assert healed["failed_command"] == 'locator("#place-order")' and "Timeout" in healed["error"]


@pytest.mark.parametrize(("args", "env"), [(("--no-healing",), {}), ((), {"REBROWSE_HEALING": "off"})])
def test_with_healing_off_the_run_fails_as_before_without_asking_the_model(
    site: SiteServer, tmp_path: Path, chat_server: ChatServer, args: tuple[str, ...], env: dict[str, str]
) -> None:
    done = healing_run(site, tmp_path, chat_server, "--json", *args, **env)

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "failed" and "Timeout 500ms exceeded" in result["error"]
    assert result["healed"] == [] and chat_server.requests == []


def test_failed_run_exits_1_naming_the_node(site: SiteServer, tmp_path: Path) -> None:
    nodes = [
        typed('locator("#full-name")', "x"),
        {"type": "action_node", "interaction_action": {"click_element": {"command": 'locator("#missing")'}, **FAST}},
    ]
    automation = write_automation(tmp_path / "flow.json", site, nodes)

    as_json = rebrowse("run", automation, "--out", "out-json", "--json", cwd=tmp_path)
    shown = rebrowse("run", automation, "--out", "out-text", cwd=tmp_path)

    assert as_json.returncode == shown.returncode == 1
    result = json.loads(as_json.stdout)
    assert result["status"] == "failed"
    assert result["error"].startswith('nodes[1] (click_element on locator("#missing")): ')
    assert [s["outcome"] for s in result["steps"]] == ["success", "failed"]
    assert 'nodes[1] (click_element on locator("#missing"))' in shown.stdout
    assert "failed in " in shown.stdout


def test_automation_defaults_apply_and_a_repeated_param_collects_a_list(site: SiteServer, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    nodes = [typed('locator("#full-name")', "{greeting[0]} {tags[0]}"), typed('locator("#notes")', "{tags[1]}"), SUBMIT]
    inputs = {"greeting": ["Hello"], "tags": ["unused"]}
    automation = write_automation(tmp_path / "flow.json", site, nodes, inputs)

    done = rebrowse("run", automation, "-p", f"tags={tag}", "-p", "tags=second=value", "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    fields = submission_with(site, "full_name", f"Hello {tag}")["fields"]
    assert fields["notes"] == "second=value"


def test_params_and_secure_json_files_supply_values(site: SiteServer, tmp_path: Path) -> None:
    name = uuid.uuid4().hex
    seed = pyotp.random_base32()
    nodes = [typed('locator("#full-name")', "{name[0]}"), typed('locator("#notes")', "{code[0]}"), SUBMIT]
    automation = tmp_path / "flow.json"
    data = {
        "url": f"{site.url}/form.html",
        "parameters": {"input_parameters": {"name": ["default"]}, "secure_parameters": {"code": []}},
        "nodes": nodes,
    }
    automation.write_text(json.dumps(data))
    (tmp_path / "params.json").write_text(json.dumps({"name": name}))
    (tmp_path / "secure.json").write_text(json.dumps({"code": [{"totp": {"totp_secret": seed}}]}))

    done = rebrowse(
        "run", automation, "--params-json", "params.json", "--secure-json", "secure.json", "--json", cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    code = submission_with(site, "full_name", name)["fields"]["notes"]
    assert pyotp.TOTP(seed).verify(code, valid_window=1)
    assert seed not in done.stdout


@pytest.mark.parametrize("where", ["upload_dir", "automation_dir"])
def test_upload_reads_a_file_from_an_allowed_directory(site: SiteServer, tmp_path: Path, where: str) -> None:
    content = uuid.uuid4().bytes * 8
    automation_dir, uploads, cwd = tmp_path / "automation", tmp_path / "uploads", tmp_path / "cwd"
    for directory in (automation_dir, uploads, cwd):
        directory.mkdir()
    folder = uploads if where == "upload_dir" else automation_dir
    (folder / "report.bin").write_bytes(content)
    file_path = str(folder / "report.bin") if where == "upload_dir" else "report.bin"
    nodes = [
        typed('locator("#full-name")', "{name[0]}"),
        interaction("upload_file", command='locator("#attachment")', file_path="{file[0]}"),
        SUBMIT,
    ]
    name = uuid.uuid4().hex
    automation = write_automation(automation_dir / "flow.json", site, nodes, {"name": [name], "file": ["x"]})

    done = rebrowse("run", automation, "-p", f"file={file_path}", "--upload-dir", uploads, "--json", cwd=cwd)

    assert done.returncode == 0, done.stderr
    [uploaded] = submission_with(site, "full_name", name)["files"]
    assert (uploaded["filename"], uploaded["sha256"]) == ("report.bin", hashlib.sha256(content).hexdigest())


def test_upload_of_a_file_outside_the_allowed_directories_is_refused(site: SiteServer, tmp_path: Path) -> None:
    automation_dir, uploads, elsewhere = tmp_path / "automation", tmp_path / "uploads", tmp_path / "elsewhere"
    for directory in (automation_dir, uploads, elsewhere):
        directory.mkdir()
    (elsewhere / "private.txt").write_text("not for upload")
    nodes = [interaction("upload_file", command='locator("#attachment")', file_path="{file[0]}")]
    automation = write_automation(automation_dir / "flow.json", site, nodes, {"file": ["x"]})
    before = len(site.submissions())

    for path in (elsewhere / "private.txt", "../elsewhere/private.txt"):
        done = rebrowse("run", automation, "-p", f"file={path}", "--upload-dir", uploads, "--json", cwd=uploads)

        assert done.returncode == 1
        result = json.loads(done.stdout)
        assert result["error"].startswith("nodes[0] (upload_file): ")
        assert "is not a file inside an allowed upload directory" in result["error"]
    assert len(site.submissions()) == before


# ---------------------------------------------------------------------------------------------------------
# Invalid input: exit 2 with every problem and where it is


UNREADABLE_LLM_EXTRACTION = {"extraction_format": {"a": "money"}, "extraction_instructions": "Read the total"}
INVALID_AUTOMATIONS = {
    "misspelled key": (
        [interaction("click_elemnt", command='locator("#submit")')],
        ["nodes[0].interaction_action.click_elemnt: unknown field"],
    ),
    "unsupported features": (
        [
            SUBMIT,
            {"type": "action_node", "extraction_action": {"llm": UNREADABLE_LLM_EXTRACTION}},
            {"type": "action_node", "python_script_action": {"execution_code": "async def code_fn(page): pass"}},
        ],
        [
            "nodes[1].extraction_action.llm.extraction_format.a: type 'money' is not understood",
            "nodes[2].python_script_action: python_script_action is disabled: set REBROWSE_ALLOW_PYTHON_SCRIPTS=1",
        ],
    ),
}


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case", INVALID_AUTOMATIONS)
def test_invalid_automation_exits_2_listing_every_path(
    site: SiteServer, tmp_path: Path, command: str, case: str
) -> None:
    nodes, expected = INVALID_AUTOMATIONS[case]
    automation = write_automation(tmp_path / "flow.json", site, nodes)

    done = rebrowse(command, automation, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == f"invalid automation {automation}:"
    problems = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)
    assert not (tmp_path / "runs").exists()


def test_python_script_is_allowed_only_by_the_setting(site: SiteServer, tmp_path: Path) -> None:
    nodes = [{"type": "action_node", "python_script_action": {"execution_code": "async def code_fn(page): pass"}}]
    automation = write_automation(tmp_path / "flow.json", site, nodes)

    refused = rebrowse("run", automation, cwd=tmp_path)
    allowed = rebrowse("validate", automation, cwd=tmp_path, env={"REBROWSE_ALLOW_PYTHON_SCRIPTS": "1"})

    assert refused.returncode == 2
    assert "nodes[0].python_script_action: python_script_action is disabled" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert "python_script_action 1" in allowed.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="the system chromium stands in for Google Chrome")
@pytest.mark.parametrize("chrome", ["system chromium", "missing"])
def test_browser_channel_chrome_runs_on_rebrowse_chrome_path_or_says_it_did_not(
    site: SiteServer, tmp_path: Path, chrome: str
) -> None:
    path = shutil.which("chromium") if chrome == "system chromium" else str(tmp_path / "no-chrome")
    automation = write_automation(tmp_path / "flow.json", site, [read_text('locator("h1")', "title")])
    data = json.loads(automation.read_text())
    automation.write_text(json.dumps({**data, "browser_channel": "chrome"}))

    done = rebrowse("run", automation, "--out", "out", "--json", cwd=tmp_path, env={"REBROWSE_CHROME_PATH": str(path)})

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if chrome == "system chromium":
        assert (result["browser"], result["notes"]) == ("chrome", [])
    else:
        assert result["browser"] == "chromium"
        assert result["notes"][0].startswith("browser_channel chrome: Google Chrome is not installed here")


def test_a_script_that_raises_fails_the_run_in_its_json(site: SiteServer, tmp_path: Path) -> None:
    source = "async def code_fn(page):\n    raise RuntimeError('no invoice today')"
    nodes = [{"type": "action_node", "python_script_action": {"execution_code": source}}]
    automation = write_automation(tmp_path / "flow.json", site, nodes)

    done = rebrowse(
        "run", automation, "--out", "out", "--json", cwd=tmp_path, env={"REBROWSE_ALLOW_PYTHON_SCRIPTS": "1"}
    )

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "failed"
    assert result["error"] == "nodes[0] (python_script): the script raised RuntimeError: no invoice today"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "name"], "error: -p expects name=value, got 'name'"),
        (["-p", "=value"], "error: -p expects name=value, got '=value'"),
        (["-p", "nope=1"], "input_parameters.nope: not declared by the automation"),
        (["-p", "nmae=1"], "input_parameters.nmae: not declared by the automation (did you mean `name`?)"),
        (["--params-json", "broken.json"], "error: --params-json broken.json: not JSON (Expecting"),
        (["--params-json", "list.json"], "error: --params-json list.json: expected a JSON object"),
        (["--params-json", "absent.json"], "error: --params-json absent.json: No such file or directory"),
        (["--params-json", "nested.json"], "input_parameters.name[0]: must be a string, a number or a boolean"),
        (["--secure-json", "broken.json"], "error: --secure-json broken.json: not JSON (Expecting"),
        (["--secure-json", "no_source.json"], "error: --secure-json: "),
        (["--secure-json", "undeclared.json"], "secure_parameters.other: not declared by the automation"),
        (["--secure-json", "as_input.json"], "secure_parameters.name: not declared by the automation (it is an input"),
    ],
)
def test_invalid_parameters_exit_2_with_the_reason(
    site: SiteServer, tmp_path: Path, args: list[str], message: str
) -> None:
    files = {
        "broken.json": "{not json",
        "list.json": "[1, 2]",
        "nested.json": json.dumps({"name": [{"deep": 1}]}),
        "no_source.json": json.dumps({"code": [{}]}),
        "undeclared.json": json.dumps({"other": [{"totp": {"totp_secret": pyotp.random_base32()}}]}),
        "as_input.json": json.dumps({"name": [{"totp": {"totp_secret": pyotp.random_base32()}}]}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    automation = tmp_path / "flow.json"
    parameters = {"input_parameters": {"name": ["x"]}, "secure_parameters": {"code": []}}
    automation.write_text(json.dumps({"url": f"{site.url}/form.html", "parameters": parameters, "nodes": [SUBMIT]}))

    done = rebrowse("run", automation, *args, cwd=tmp_path)

    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["run", "absent.json"], {}, "error: absent.json: No such file or directory"),
        (["validate", "."], {}, "error: .: Is a directory"),
        (["validate", "latin1.json"], {}, "error: latin1.json: not UTF-8 text"),
        (["validate", "truncated.json"], {}, "invalid automation truncated.json:\n  invalid JSON at line 1 column"),
        (["run", "flow.json", "--out", "flow.json"], {}, "error: --out flow.json: exists and is not a directory"),
        (["run", "flow.json", "--upload-dir", "absent"], {}, "error: --upload-dir absent: not a directory"),
        (["run", "flow.json"], {"REBROWSE_SCREENSHOTS": "sometimes"}, "error: REBROWSE_SCREENSHOTS must be one of"),
    ],
)
def test_bad_files_and_settings_exit_2_with_the_reason(
    site: SiteServer, tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    write_automation(tmp_path / "flow.json", site, [SUBMIT])
    (tmp_path / "latin1.json").write_bytes('{"url": "café"}'.encode("latin-1"))
    (tmp_path / "truncated.json").write_text('{"url": ')

    done = rebrowse(*args, cwd=tmp_path, env=env)

    assert done.returncode == 2
    assert message in done.stderr


# ---------------------------------------------------------------------------------------------------------
# rebrowse validate and rebrowse demo


def test_validate_prints_valid_and_a_summary(site: SiteServer, tmp_path: Path) -> None:
    nodes = [typed('locator("#full-name")', "{name[0]}"), SUBMIT, read_text('locator("#status")', "status")]
    automation = write_automation(tmp_path / "flow.json", site, nodes, {"name": ["Ada"]})

    done = rebrowse("validate", automation, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "valid",
        f"url: {site.url}/form.html",
        "input parameters: name",
        "secure parameters: -",
        "generated parameters: -",
        "nodes: 3 (action_node 3)",
        "actions: interaction_action.input_text 1, interaction_action.click_element 1, extraction_action.locator 1",
        "steps that ask a model: -",
    ]
    assert not (tmp_path / "runs").exists()


def test_validate_names_the_steps_that_ask_a_model_and_the_setting_they_need(site: SiteServer, tmp_path: Path) -> None:
    ask_for_text = {"type": "action_node", "interaction_action": {"input_text": {"command": 'locator("#full-name")'}}}
    extract = {"llm": {"extraction_format": {"name": "str"}, "extraction_instructions": "the name"}}
    nodes = [ask_for_text, SUBMIT, {"type": "action_node", "extraction_action": extract}]
    automation = write_automation(tmp_path / "flow.json", site, nodes)

    unconfigured = rebrowse("validate", automation, cwd=tmp_path)
    configured = rebrowse("validate", automation, cwd=tmp_path, env={"REBROWSE_LLM_MODEL": "openai:gpt-4.1-mini"})

    assert unconfigured.returncode == configured.returncode == 0, unconfigured.stderr
    expected = "steps that ask a model: nodes[0].interaction_action.input_text, nodes[2].extraction_action.llm"
    assert expected in unconfigured.stdout.splitlines()
    assert "note: 2 step(s) ask a model and none is configured: set REBROWSE_LLM_MODEL" in unconfigured.stdout
    assert "note:" not in configured.stdout


def test_demo_replays_the_bundled_automation(tmp_path: Path) -> None:
    done = rebrowse("demo", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "\nsuccess in " in done.stdout
    assert '"record_title": "Invoice 1042 - Acme Robotics"' in done.stdout
    [run_dir] = (tmp_path / "runs").iterdir()
    assert (run_dir / "result.json").is_file()


# ---------------------------------------------------------------------------------------------------------
# rebrowse run --save-cached


def by_model(kind: str, goal: str) -> dict[str, Any]:
    """An element step with no command: the model finds its element (and its text) from `goal`."""
    return {"type": "action_node", "interaction_action": {kind: {"prompt_instructions": goal}, "max_tries": 1}}


def picks_full_name(text: str) -> Script:
    """The model's script: the Full name field of the snapshot it is sent, and `text` to type."""

    def answer(request: dict[str, Any]) -> Call:
        prompt = "\n".join(m["content"] for m in request["messages"] if isinstance(m.get("content"), str))
        ref = snapshot_ref(prompt, "textbox", "Full name")
        return Call(output_tool(request), {"ref": ref, "text": text, "reason": "the name field"})

    return answer


def test_run_save_cached_writes_an_automation_that_replays_without_a_model(
    site: SiteServer, tmp_path: Path, chat_server: ChatServer
) -> None:
    name, other = f"Ada {uuid.uuid4().hex[:8]}", f"Grace {uuid.uuid4().hex[:8]}"
    nodes = [by_model("input_text", "Type the full name"), SUBMIT, read_text('locator("#field-full_name")', "shown")]
    automation = write_automation(tmp_path / "flow.json", site, nodes, {"name": [name]})
    seed = pyotp.random_base32()
    data = json.loads(automation.read_text())
    data["parameters"]["secure_parameters"] = {"code": [{"totp": {"totp_secret": seed}}]}
    automation.write_text(json.dumps(data))
    chat_server.script = picks_full_name(name)
    model = {"REBROWSE_LLM_BASE_URL": chat_server.base_url, "REBROWSE_LLM_MODEL": "test-model"}

    learning = rebrowse("run", automation, "--save-cached", "cached.json", "--out", "one", cwd=tmp_path, env=model)
    cached = tmp_path / "cached.json"
    replayed = rebrowse(
        "run", cached, "-p", f"name={other}", "--json", "--save-cached", "again.json", "--out", "two", cwd=tmp_path
    )

    assert learning.returncode == 0, learning.stderr
    assert "cached automation written to cached.json" in learning.stderr
    assert json.loads(cached.read_text())["nodes"][0]["interaction_action"]["input_text"] == {
        "prompt_instructions": "Type the full name",
        "command": 'get_by_role("textbox", name="Full name", exact=True)',
        "skip_command": False,
        "input_text": "{name[0]}",
    }
    assert submission_with(site, "full_name", name)
    # The user's file gets the automation's own secret back; the run's directory never holds it.
    assert json.loads(cached.read_text())["parameters"]["secure_parameters"] == {
        "code": [{"totp": {"totp_secret": seed}}]
    }
    assert all(seed not in path.read_text(errors="replace") for path in (tmp_path / "one").rglob("*") if path.is_file())
    assert replayed.returncode == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert result["llm_usage"]["calls"] == 0
    assert result["output_data"][0]["json_data"] == {"shown": other}
    assert "asked the model nothing a replay needs" in replayed.stderr and "nothing written" in replayed.stderr
    assert not (tmp_path / "again.json").exists()


def test_run_save_cached_of_a_failed_run_writes_nothing_and_exits_1(site: SiteServer, tmp_path: Path) -> None:
    nodes = [by_model("input_text", "Type the full name"), SUBMIT]
    automation = write_automation(tmp_path / "flow.json", site, nodes, {"name": ["Ada"]})

    done = rebrowse("run", automation, "--save-cached", "cached.json", "--out", "out", cwd=tmp_path)

    assert done.returncode == 1
    assert "REBROWSE_LLM_MODEL" in done.stdout
    assert "the run failed: nothing written to cached.json" in done.stderr
    assert not (tmp_path / "cached.json").exists()


def test_run_save_cached_to_a_directory_is_refused_before_the_run(site: SiteServer, tmp_path: Path) -> None:
    automation = write_automation(tmp_path / "flow.json", site, [SUBMIT])

    done = rebrowse("run", automation, "--save-cached", str(tmp_path), "--out", "out", cwd=tmp_path)

    assert done.returncode == 2
    assert "--save-cached" in done.stderr and "not a file in an existing directory" in done.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------------
# rebrowse schema and rebrowse new


def test_schema_prints_or_writes_the_json_schema_of_the_format(tmp_path: Path) -> None:
    printed = rebrowse("schema", cwd=tmp_path)
    written = rebrowse("schema", "-o", "automation.schema.json", cwd=tmp_path)

    assert printed.returncode == written.returncode == 0, printed.stderr + written.stderr
    assert json.loads(printed.stdout) == automation_json_schema()
    assert (tmp_path / "automation.schema.json").read_text() == printed.stdout


def test_new_writes_a_valid_starting_file_with_its_schema_beside_it(tmp_path: Path) -> None:
    done = rebrowse("new", "-o", "flow.json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    started = json.loads((tmp_path / "flow.json").read_text())
    assert started["$schema"] == "automation.schema.json"
    assert json.loads((tmp_path / "automation.schema.json").read_text()) == automation_json_schema()
    jsonschema.Draft202012Validator(automation_json_schema()).validate(started)
    validated = rebrowse("validate", "flow.json", cwd=tmp_path)
    assert validated.returncode == 0 and validated.stdout.startswith("valid\n"), validated.stderr
    assert json.loads(rebrowse("new", cwd=tmp_path).stdout) == started


def test_new_never_overwrites_a_file(tmp_path: Path) -> None:
    (tmp_path / "flow.json").write_text("mine")

    done = rebrowse("new", "-o", "flow.json", cwd=tmp_path)

    assert done.returncode == 2
    assert "flow.json already exists" in done.stderr
    assert (tmp_path / "flow.json").read_text() == "mine"
    assert not (tmp_path / "automation.schema.json").exists()
