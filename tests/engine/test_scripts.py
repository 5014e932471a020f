"""Python scripts called as Optexity calls them: `code_fn(page)`, `code_fn(axtree, page)`, and a context for those
that name a `ctx` parameter; a script's error fails its step with the error's type and message."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Replay, action, automation
from tests.engine.test_interaction import outputs


def script_action(source: str) -> dict[str, Any]:
    return action("python_script_action", {"execution_code": source})


def script_extraction(source: str, **fields: Any) -> dict[str, Any]:
    return action("extraction_action", {"python_script": {"script": source, **fields}})


async def run_scripts(replay: Replay, *nodes: dict[str, Any], **parameters: Any) -> Any:
    data = automation("form.html", list(nodes), parameters={"input_parameters": parameters})
    return await replay(data, allow_python_scripts=True)


SHARE_STATE = """
async def code_fn(page, ctx):
    ctx.state["title"] = await (await ctx.get_page()).title()
    ctx.state["who"] = ctx.input_parameters["who"][0]
    ctx.log("stored the title")
"""
READ_STATE = """
async def code_fn(axtree, browser, *, context):
    assert "Full name" in axtree
    return {"seen": [context.state["title"], context.state["who"], context.variables["marked"][0]]}
"""


async def test_scripts_share_a_state_and_see_the_variables_through_their_context(
    replay: Replay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rebrowse.engine.scripts")
    marked = action("misc_action", {"set_variable": {"name": "marked", "value": "yes"}})
    result = await run_scripts(replay, script_action(SHARE_STATE), marked, script_extraction(READ_STATE), who=["ada"])
    assert result.status == "success", result.error
    assert outputs(result)["seen"] == ["Fixture: form", "ada", "yes"]
    assert "[python_script nodes[0]] stored the title" in caplog.messages


SAVE_DOWNLOADS = """
async def code_fn(axtree, browser, ctx, /):
    first = await ctx.save_download("report.csv", "a,b\\n1,2\\n", metadata={"for": "{who[0]}"})
    source = ctx.downloads_dir.parent / "made.bin"
    source.write_bytes(b"\\x00\\x01")
    second = await ctx.save_download("report.csv", path=source)
    return {"saved": [first.name, second.name]}
"""


async def test_a_script_saves_downloads_of_the_run(replay: Replay) -> None:
    result = await run_scripts(replay, script_extraction(SAVE_DOWNLOADS), who=["ada"])
    assert result.status == "success", result.error
    assert outputs(result)["saved"] == ["report.csv", "report_2.csv"]
    found = {d.filename: (Path(d.path).read_bytes(), d.metadata) for d in result.downloads}
    assert found == {"report.csv": (b"a,b\n1,2\n", {"for": "ada"}), "report_2.csv": (b"\x00\x01", {})}


READ_FIELD = "async def code_fn(axtree, page):\n    return {'filled': await page.input_value('#full-name')}"


async def test_a_script_without_a_context_parameter_gets_only_upstreams_arguments(replay: Replay) -> None:
    # `**ctx` catches keywords; it does not ask for the context.
    source = "async def code_fn(page, **ctx):\n    await page.fill('#full-name', str(len(ctx)))"
    read = action("extraction_action", {"python_script": {"script": READ_FIELD}})
    result = await run_scripts(replay, script_action(source), read)
    assert result.status == "success", result.error
    assert outputs(result) == {"filled": "0"}


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("async def code_fn(page):\n    raise KeyError('total')", "the script raised KeyError: 'total'"),
        ("async def code_fn(page):\n    return 1 / 0", "the script raised ZeroDivisionError: division by zero"),
        ("async def code_fn(page:\n    pass", "the script raised SyntaxError: "),
        ("async def code_fn(page, ctx):\n    ctx.log('x', level='loud')", "the script raised ValueError: unknown log"),
        (
            "async def code_fn(page, ctx):\n    await ctx.save_download('a.txt', b'')",
            "the script raised ValueError: save_download was given no bytes for 'a.txt'",
        ),
        ("def code_fn(page):\n    pass", "the script must define `async def code_fn(...)`"),
    ],
)
async def test_a_failing_script_fails_its_step_with_its_error(replay: Replay, source: str, error: str) -> None:
    result = await run_scripts(replay, script_action(source))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(f"nodes[0] (python_script): {error}")
    assert "Traceback" not in result.error
    assert result.steps[0].outcome == "failed"


async def test_an_extraction_script_past_its_timeout_fails_its_step(replay: Replay) -> None:
    source = "import asyncio\nasync def code_fn(axtree, browser):\n    await asyncio.Event().wait()"
    result = await run_scripts(replay, script_extraction(source, timeout_seconds=0.2))
    assert result.status == "failed"
    assert (
        result.error == "nodes[0] (extract.python_script): the script did not finish within its timeout_seconds (0.2)"
    )
