"""`rebrowse run` says where its trace is and how to open it; `rebrowse trace` finds it, or says clearly why not."""

from __future__ import annotations

import re
from pathlib import Path

from rebrowse.demo.site import SiteServer
from tests.test_cli import FAST, interaction, rebrowse, write_automation


def test_a_failed_run_prints_its_trace_and_trace_finds_it(site: SiteServer, tmp_path: Path) -> None:
    missing = {
        "type": "action_node",
        "interaction_action": {"click_element": {"command": 'locator("#never-there")'}, **FAST},
    }
    nodes = [missing]
    automation = write_automation(tmp_path / "flow.json", site, nodes)

    done = rebrowse("run", automation, "--out", "out", cwd=tmp_path)  # REBROWSE_TRACE's default: on_failure

    assert done.returncode == 1, done.stderr
    line = re.search(r"trace (\S+trace_attempt1\.zip) \(open it: rebrowse trace (\S+)\)", done.stdout)
    assert line is not None, done.stdout
    assert Path(line[1]).is_file()
    found = rebrowse("trace", line[2], "--no-open", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == f"trace {line[1]}"


def test_a_successful_run_keeps_no_trace_unless_always(site: SiteServer, tmp_path: Path) -> None:
    automation = write_automation(
        tmp_path / "flow.json", site, [interaction("click_element", command='locator("#submit")')]
    )

    kept = rebrowse("run", automation, "--out", "always", cwd=tmp_path, env={"REBROWSE_TRACE": "always"})
    default = rebrowse("run", automation, "--out", "default", cwd=tmp_path)

    assert (kept.returncode, default.returncode) == (0, 0), kept.stderr + default.stderr
    assert "trace_attempt1.zip" in kept.stdout and "trace " not in default.stdout
    assert list((tmp_path / "default").rglob("trace*")) == []


def test_trace_of_a_bad_path_or_an_empty_directory_errors_clearly(tmp_path: Path) -> None:
    missing = rebrowse("trace", tmp_path / "nowhere", "--no-open", cwd=tmp_path)
    empty = rebrowse("trace", tmp_path, "--no-open", cwd=tmp_path)
    bad = rebrowse("run", "x.json", cwd=tmp_path, env={"REBROWSE_TRACE": "sometimes"})

    assert missing.returncode == 2 and "nowhere: no such run directory or trace file" in missing.stderr
    assert empty.returncode == 2 and "no trace in this directory" in empty.stderr
    assert bad.returncode != 0 and "REBROWSE_TRACE must be one of never, on_failure, always" in bad.stderr
