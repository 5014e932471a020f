"""Slots with real Chromium: reuse, fresh contexts, crash and bloat restarts, launch failures."""

from __future__ import annotations

import asyncio
import os
import signal
from functools import partial

import pytest
from playwright.async_api import Browser, BrowserContext, Playwright

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
        browser = await slot.ready()
        context = await task_context(slot)
        await (await first_page(context)).set_content("<p>task one</p>")
        extra = await browser.new_context()  # something else the task opened
    assert context not in browser.contexts and extra not in browser.contexts

    async with pool.take_slot() as slot:
        assert await slot.ready() is browser
    assert pool.slots[0].launches == 1


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
        assert contexts[0] not in (await slot.ready()).contexts


async def test_a_crashed_browser_is_replaced_before_the_next_task(pool: SlotPool) -> None:
    async with pool.take_slot() as slot:
        crashed = await slot.ready()
    os.kill(await browser_pid(crashed), signal.SIGKILL)

    async def disconnected() -> bool:
        return not crashed.is_connected()

    await eventually(disconnected, timeout_s=10, what="Playwright noticing the crash")

    async with pool.take_slot() as slot:
        browser = await slot.ready()
        assert browser is not crashed
        assert browser.is_connected()
        page = await first_page(await task_context(slot))
        await page.set_content("<p id='ok'>alive</p>")
        assert await page.text_content("#ok") == "alive"
    assert pool.slots[0].launches == 2


async def test_a_browser_over_the_memory_limit_is_restarted_between_tasks(playwright: Playwright) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, None), 1, max_memory_mb=1)
    try:
        await pool.start()
        async with pool.take_slot() as slot:
            first = await slot.ready()
            assert await browser_memory(first) > 2**20
        async with pool.take_slot() as slot:
            browser = await slot.ready()
            assert browser is not first
            assert browser.is_connected()
        assert not first.is_connected()
        assert pool.slots[0].launches >= 2
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
