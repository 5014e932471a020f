"""Slots sharing one real Chromium: reuse, isolation, fresh contexts, crash and bloat restarts, launch failures."""

from __future__ import annotations

import asyncio
import os
import signal
from functools import partial

import pytest
from playwright.async_api import Browser, BrowserContext, Playwright

from rebrowse.demo.site import SiteServer
from rebrowse.engine.contexts import ContextSpec, first_page
from rebrowse.worker.slots import BrowserUnavailable, Slot, SlotPool, browser_memory, launch_slot_browser
from tests.waiting import eventually


async def browser_pid(browser: Browser) -> int:
    session = await browser.new_browser_cdp_session()
    try:
        info = await session.send("SystemInfo.getProcessInfo")
    finally:
        await session.detach()
    return next(int(p["id"]) for p in info["processInfo"] if p["type"] == "browser")


async def task_context(slot: Slot) -> BrowserContext:
    """A context as a task gets it."""
    return await (await slot.for_task()).new_run_context(ContextSpec())


async def test_a_slot_reuses_its_browser_and_closes_what_a_task_left_open(pool: SlotPool) -> None:
    async with pool.take_slot() as slot:
        browser = slot.browser
        assert browser is not None
        context = await task_context(slot)
        await (await first_page(context)).set_content("<p>task one</p>")
        extra = await task_context(slot)  # another attempt's context, say
    assert context not in browser.contexts and extra not in browser.contexts

    async with pool.take_slot() as slot:
        assert slot.browser is browser
    assert pool.browsers.launches == 1


async def test_slots_share_one_browser_and_their_tasks_share_nothing(playwright: Playwright, site: SiteServer) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, None), 2, max_memory_mb=4096)
    try:
        await pool.start()
        async with pool.take_slot() as one, pool.take_slot() as two:
            assert one is not two and one.browser is two.browser
            first = await first_page(await task_context(one))
            second = await first_page(await task_context(two))
            await first.goto(f"{site.url}/table.html")
            await second.goto(f"{site.url}/table.html")
            await first.evaluate("localStorage.setItem('owner', 'one'); document.cookie = 'owner=one'")
            assert await second.evaluate("[localStorage.getItem('owner'), document.cookie]") == [None, ""]
            await first.context.close()
            assert await second.evaluate("1 + 1") == 2
    finally:
        await pool.close()


async def test_a_task_cancelled_in_a_slot_leaves_no_context_behind(pool: SlotPool) -> None:
    opened = asyncio.Event()

    contexts: list[BrowserContext] = []

    async def task() -> None:
        async with pool.take_slot() as slot:
            contexts.append(await task_context(slot))
            opened.set()
            await asyncio.Event().wait()  # until cancelled

    running = asyncio.create_task(task())
    await opened.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    async with pool.take_slot() as slot:
        assert slot.browser is not None and contexts[0] not in slot.browser.contexts


async def test_a_crashed_browser_is_replaced_before_the_next_task(pool: SlotPool) -> None:
    crashed = pool.browsers.current
    assert crashed is not None
    os.kill(await browser_pid(crashed), signal.SIGKILL)

    async def disconnected() -> bool:
        return not crashed.is_connected()

    await eventually(disconnected, timeout_s=10, what="Playwright noticing the crash")

    async with pool.take_slot() as slot:
        browser = slot.browser
        assert browser is not None and browser is not crashed
        assert browser.is_connected()
        page = await first_page(await task_context(slot))
        await page.set_content("<p id='ok'>alive</p>")
        assert await page.text_content("#ok") == "alive"
    assert pool.browsers.launches == 2


async def test_a_browser_over_the_memory_limit_is_replaced_and_closed_when_its_last_task_ends(
    playwright: Playwright,
) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, None), 2, max_memory_mb=1)
    try:
        await pool.start()
        async with pool.take_slot() as running:
            first = running.browser
            assert first is not None and await browser_memory(first) > 2 * 2**20
            page = await first_page(await task_context(running))
            async with pool.take_slot():
                pass  # a task ends in the other slot: the browser, over its limit, is retired
            async with pool.take_slot() as slot:
                assert slot.browser is not first and slot.browser is not None and slot.browser.is_connected()
            # The task still running in the retired browser carries on undisturbed.
            await page.set_content("<p id='ok'>still here</p>")
            assert await page.text_content("#ok") == "still here"
            assert first.is_connected()
        assert not first.is_connected()
        assert pool.browsers.launches >= 2
    finally:
        await pool.close()


async def test_a_browser_that_cannot_start_makes_the_task_fail_clearly(playwright: Playwright) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, "/nonexistent/chromium"), 1, max_memory_mb=4096)
    with pytest.raises(BrowserUnavailable, match="Chromium could not be started"):
        async with pool.take_slot():
            pass
    # The slot went back to the pool: the next task gets the same clear error rather than waiting forever.
    with pytest.raises(BrowserUnavailable):
        async with pool.take_slot():
            pass
