"""Live view in the worker: headed slots on tiles of one display, and worker_slots telling where a task runs."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
from playwright.async_api import Page, Playwright

from rebrowse.browser.display import live_view_available, shared_memory_of
from rebrowse.demo.site import SiteServer
from rebrowse.engine.contexts import ContextSpec, first_page
from rebrowse.store import worker_slots
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from rebrowse.worker.slots import LiveView, Slot, SlotPool, launch_slot_browser
from tests.browser.test_display import DODGER_BLUE, SOLID_PAGE, alive, page_share
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers, automation_json

SCREEN = (1280, 720)  # page_share checks the screen has this size
GREEN = (0, 160, 60)
ORANGE = (255, 140, 0)
LIVE = LiveView(SCREEN, Sealer(generate_key()))
live_view = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")


@asynccontextmanager
async def live_pool(playwright: Playwright, slots: int) -> AsyncIterator[SlotPool]:
    """A started pool of live-view slots, closed on exit."""
    pool = SlotPool(partial(launch_slot_browser, playwright, None), slots, max_memory_mb=4096, live=LIVE)
    try:
        await pool.start()
        yield pool
    finally:
        await pool.close()


def solid_page(colour: tuple[int, int, int]) -> str:
    red, green, blue = colour
    return SOLID_PAGE.replace("rgb(30,144,255)", f"rgb({red},{green},{blue})")


async def open_in(slot: Slot, url: str) -> Page:
    """A task's page in the slot, showing `url`."""
    context = await (await slot.for_task()).new_run_context(ContextSpec(window=slot.window))
    page = await first_page(context)
    await page.goto(url)
    return page


async def shows(slot: Slot, colour: tuple[int, int, int], what: str) -> None:
    """Wait until the slot's VNC screen is mostly `colour` (the window's tab strip and address bar take its top)."""
    assert slot.vnc is not None and slot.vnc.host == "127.0.0.1"
    port = slot.vnc.port
    secret = LIVE.password(port)

    async def dominates() -> bool:
        return await page_share(port, colour, secret=secret) > 0.8

    await eventually(dominates, timeout_s=30, what=what)


async def shows_the_page(slot: Slot) -> None:
    """Load the solid page in the slot's browser and wait until its VNC screen shows it."""
    await open_in(slot, SOLID_PAGE)
    await shows(slot, DODGER_BLUE, "the slot's page on its VNC screen")


@live_view
async def test_a_live_slot_shows_its_browser_over_vnc_and_stops_everything_with_the_pool(
    playwright: Playwright,
) -> None:
    async with live_pool(playwright, 1) as pool:
        async with pool.take_slot() as slot:
            assert pool.browsers.display is not None
            pids = pool.browsers.display.pids
            await shows_the_page(slot)
    assert not any(alive(pid) for pid in pids)


@live_view
async def test_each_live_slot_shows_only_its_own_tasks_windows_popups_included(playwright: Playwright) -> None:
    async with live_pool(playwright, 2) as pool:
        async with pool.take_slot() as one, pool.take_slot() as two:
            assert one.vnc is not None and two.vnc is not None and one.vnc.port != two.vnc.port
            await open_in(one, SOLID_PAGE)
            page = await open_in(two, solid_page(GREEN))
            await shows(one, DODGER_BLUE, "slot one's page on slot one's screen")
            await shows(two, GREEN, "slot two's page on slot two's screen")
            # Slot two's page opens a popup at the top left corner of the screen, which is slot one's tile: the
            # popup goes to slot two's tile, and slot one's viewer never sees it.
            popup = await open_popup(page, features="popup,left=0,top=0,width=640,height=480")
            await popup.set_content(solid_page(ORANGE).removeprefix("data:text/html,"))
            await shows(two, ORANGE, "slot two's popup on slot two's screen")
            assert await page_share(one.vnc.port, ORANGE, secret=LIVE.password(one.vnc.port)) == 0.0
            await popup.close()
            await shows(two, GREEN, "slot two's page again once its popup closed")


async def open_popup(page: Page, *, features: str) -> Page:
    """A blank popup the page opens with window.open's `features`."""
    async with page.context.expect_page() as opened:
        await page.evaluate("features => { window.open('about:blank', '', features); }", features)
    return await opened.value


@live_view
async def test_a_stopped_vnc_server_is_started_again_and_the_browser_carries_on(playwright: Playwright) -> None:
    async with live_pool(playwright, 2) as pool:
        display = pool.browsers.display
        assert display is not None
        stopped = display.pids[2]  # Xvfb, then the servers by tile
        os.kill(stopped, signal.SIGKILL)
        await eventually(lambda: not display.running, what="the VNC server to be seen stopped")
        async with pool.take_slot() as one, pool.take_slot() as two:
            assert pool.browsers.display is display and display.running
            assert pool.browsers.launches == 1 and one.browser is two.browser
            assert display.pids[2] != stopped
            assert shared_memory_of(stopped) == []  # what the killed server left is removed
            await shows_the_page(two)


@live_view
async def test_a_slot_whose_display_died_gets_a_new_one(playwright: Playwright) -> None:
    async with live_pool(playwright, 1) as pool:
        display = pool.browsers.display
        assert display is not None
        os.kill(display.pids[0], signal.SIGKILL)  # Xvfb
        await eventually(lambda: not display.running, what="the display to be seen stopped")
        async with pool.take_slot() as slot:
            assert pool.browsers.display is not None and pool.browsers.display is not display
            assert pool.browsers.display.running
            assert not any(alive(pid) for pid in display.pids)
            await shows_the_page(slot)


async def test_a_running_task_is_recorded_in_its_slot_and_cleared_after(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=2.0))
    worker = await workers.start("w1")
    task = await tenant.submit("slow", {"who": ["ada"]})

    await tenant.wait_for(task.id, lambda t: t.status == "running")
    async with db.connection() as conn:
        slot = await worker_slots.task_slot(conn, task.id)
    assert slot is not None and (slot.worker_name, slot.slot) == (worker.name, 0)
    # Live view is on by default: the slot's VNC server is recorded wherever Xvfb and x11vnc are installed.
    if live_view_available() is None:
        assert slot.vnc is not None and slot.vnc.host == "127.0.0.1"
    else:
        assert slot.vnc is None

    assert (await tenant.wait_terminal(task.id)).status == "success"

    async def slot_cleared() -> bool:
        async with db.connection() as conn:
            query = "SELECT task_id FROM worker_slots WHERE worker_name = %s"
            row = await (await conn.execute(query, (worker.name,))).fetchone()
        return row == {"task_id": None}

    await eventually(slot_cleared, what="the slot to be recorded free")
