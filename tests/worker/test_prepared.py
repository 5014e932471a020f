"""Slots that open their next task's context ahead of time, with real Chromium."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from playwright.async_api import Playwright

from rebrowse.automation.loading import load_automation
from rebrowse.demo.site import SiteServer
from rebrowse.engine.contexts import ContextSpec
from rebrowse.engine.options import RunOptions
from rebrowse.engine.run import run_automation
from rebrowse.worker.slots import SlotPool, launch_slot_browser
from tests.waiting import eventually
from tests.worker.conftest import automation_json


async def prepared_context_opened(pool: SlotPool) -> None:
    async def opened() -> bool:
        browser = pool.browsers.current
        return browser is not None and len(browser.contexts) == 1 and len(browser.contexts[0].pages) == 1

    await eventually(opened, timeout_s=30, what="the slot opening its next task's context")


async def test_a_task_gets_the_context_and_page_opened_while_the_slot_was_idle(pool: SlotPool) -> None:
    await prepared_context_opened(pool)
    browser = pool.browsers.current
    assert browser is not None
    waiting = browser.contexts[0]
    async with pool.take_slot() as taken:
        context = await (await taken.for_task()).new_run_context(ContextSpec())
        assert context is waiting
        assert browser.contexts == [waiting]
        assert len(waiting.pages) == 1
        assert waiting.pages[0].url == "about:blank"
    # The task's context was closed with the task; the next one is being prepared.
    await prepared_context_opened(pool)
    assert browser.contexts[0] is not waiting


async def test_a_task_asking_for_other_options_gets_a_context_of_its_own(pool: SlotPool) -> None:
    await prepared_context_opened(pool)
    browser = pool.browsers.current
    assert browser is not None
    waiting = browser.contexts[0]
    async with pool.take_slot() as taken:
        spec = ContextSpec(user_agent="Mozilla/5.0 (X11; Linux x86_64)")
        context = await (await taken.for_task()).new_run_context(spec)
        assert browser.contexts == [context]  # the prepared one was closed, not handed over
        page = await context.new_page()
        assert await page.evaluate("navigator.userAgent") == "Mozilla/5.0 (X11; Linux x86_64)"
    assert waiting not in browser.contexts


async def test_the_engine_runs_in_the_prepared_context(pool: SlotPool, site: SiteServer, tmp_path: Path) -> None:
    await prepared_context_opened(pool)
    automation = load_automation(automation_json(site))
    async with pool.take_slot() as slot:
        result = await run_automation(await slot.for_task(), automation, options=RunOptions(out_dir=tmp_path))
    assert result.status == "success", result.error
    assert result.output_data and result.output_data[0]["json_data"]["name"]


async def test_closing_the_pool_leaves_nothing_open(playwright: Playwright) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, None), 1, max_memory_mb=4096)
    await pool.start()
    browser = pool.browsers.current
    assert browser is not None
    await pool.close()  # while the context may still be opening
    assert not browser.is_connected()
    assert pool.browsers.current is None
