"""human_in_loop_action and captcha_action (solved by a person): the step waits on a real page until a person is
done, the run goes on in the same page and context, and a timeout fails the step clearly."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser

from rebrowse.engine.person import NO_GATE, LocalGate
from rebrowse.engine.run import RunResult
from tests.engine.conftest import Replay, action, automation
from tests.engine.test_extraction import json_outputs, read_text

WAIT_S = 30.0  # a bound on each wait of the tests, never reached when things work


def person_step(max_wait_time: float, message: str | None = None) -> dict[str, object]:
    payload: dict[str, object] = {"max_wait_time": max_wait_time}
    if message is not None:
        payload["message"] = message
    return action("human_in_loop_action", payload)


async def act_as_person(browser: Browser, gate: LocalGate) -> str | None:
    """Once the run waits: tick the box on the run's own page (as a person would), then press Done."""
    await asyncio.wait_for(gate.started.wait(), WAIT_S)
    message = gate.message
    page = browser.contexts[-1].pages[-1]
    await page.locator("#subscribe").check()
    assert gate.resume()
    return message


async def test_the_step_waits_for_the_person_and_the_run_goes_on_in_the_same_page(
    replay: Replay, browser: Browser
) -> None:
    gate = LocalGate()
    nodes = [person_step(60, "Tick the box for {who[0]}"), read_text('locator("#status")', "status")]
    data = automation("check.html", nodes, parameters={"input_parameters": {"who": ["ada"]}})
    run: asyncio.Future[RunResult] = asyncio.ensure_future(replay(data, person=gate))
    message = await act_as_person(browser, gate)
    result: RunResult = await asyncio.wait_for(run, WAIT_S)
    assert result.status == "success", result.error
    assert message == "Tick the box for ada"
    # What the person did on the page is what the next step reads: same page, same context.
    assert json_outputs(result.output_data) == [{"status": "agree=on subscribe=on"}]
    assert result.steps[0].action == "human_in_loop"
    assert result.steps[0].detail == "waited for a person: Tick the box for ada"
    assert not gate.resume()  # nothing waits any more


async def test_a_wait_nobody_ends_fails_the_step_naming_max_wait_time(replay: Replay) -> None:
    gate = LocalGate()
    result = await replay(automation("check.html", [person_step(0.2), read_text('locator("#status")')]), person=gate)
    assert result.status == "failed"
    assert result.error == "nodes[0] (human_in_loop): no person was done within 0.2 s (max_wait_time)"
    assert result.output_data == []
    assert gate.message is None


async def test_without_a_person_to_ask_the_step_fails_saying_where_one_is(replay: Replay) -> None:
    result = await replay(automation("check.html", [person_step(60)]))
    assert result.status == "failed"
    assert result.error == f"nodes[0] (human_in_loop): {NO_GATE}"


async def test_a_captcha_becomes_a_wait_for_a_person_where_allowed(replay: Replay, browser: Browser) -> None:
    gate = LocalGate()
    captcha = action("captcha_action", {"locator": "locator('#subscribe')"})
    data = automation("check.html", [captcha, read_text('locator("#status")', "status")])
    run: asyncio.Future[RunResult] = asyncio.ensure_future(replay(data, person=gate, captcha_by_person=True))
    message = await act_as_person(browser, gate)
    result: RunResult = await asyncio.wait_for(run, WAIT_S)
    assert result.status == "success", result.error
    assert message is not None and message.startswith("Solve the captcha (")
    assert json_outputs(result.output_data) == [{"status": "agree=on subscribe=on"}]
