"""Live view in the worker: headed slots on their own display, and worker_slots telling where a task runs."""

from __future__ import annotations

import os
import signal
from functools import partial

import pytest
from playwright.async_api import Playwright

from rebrowse.browser.display import live_view_available
from rebrowse.demo.site import SiteServer
from rebrowse.engine.contexts import ContextSpec, first_page
from rebrowse.live import registry
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from rebrowse.worker.slots import LiveView, Slot, SlotPool, launch_slot_browser
from tests.browser.test_display import DODGER_BLUE, SOLID_PAGE, alive, page_share
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers, automation_json

SCREEN = (1280, 720)  # page_share checks the screen has this size
LIVE = LiveView(SCREEN, Sealer(generate_key()))
live_view = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")


async def shows_the_page(slot: Slot) -> None:
    """Load the solid page in the slot's browser and wait until its VNC screen shows it."""
    assert slot.vnc is not None and slot.vnc.host == "127.0.0.1"
    context = await (await slot.for_task()).new_run_context(ContextSpec(fills_window=slot.headed))
    page = await first_page(context)
    await page.goto(SOLID_PAGE)
    port = slot.vnc.port
    secret = LIVE.password(port)

    async def page_dominates() -> bool:
        # The page fills the window; the browser's tab strip and address bar take the top of the screen.
        return await page_share(port, DODGER_BLUE, secret=secret) > 0.8

    await eventually(page_dominates, timeout_s=30, what="the slot's page on its VNC screen")


@live_view
async def test_a_live_slot_shows_its_browser_over_vnc_and_stops_everything_with_the_pool(
    playwright: Playwright,
) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, None), 1, max_memory_mb=4096, live=LIVE)
    try:
        async with pool.take_slot() as slot:
            assert slot.display is not None
            pids = slot.display.pids
            await shows_the_page(slot)
    finally:
        await pool.close()
    assert not any(alive(pid) for pid in pids)


@live_view
async def test_a_slot_whose_display_died_gets_a_new_one(playwright: Playwright) -> None:
    pool = SlotPool(partial(launch_slot_browser, playwright, None), 1, max_memory_mb=4096, live=LIVE)
    try:
        async with pool.take_slot() as slot:
            display = slot.display
            assert display is not None
            os.kill(display.pids[0], signal.SIGKILL)  # Xvfb
        await eventually(lambda: not display.running, what="the display to be seen stopped")
        async with pool.take_slot() as slot:
            assert slot.display is not None and slot.display is not display and slot.display.running
            assert not any(alive(pid) for pid in display.pids)
            await shows_the_page(slot)
    finally:
        await pool.close()


async def test_a_running_task_is_recorded_in_its_slot_and_cleared_after(
    tenant: Tenant, workers: Workers, site: SiteServer, db: Database
) -> None:
    await tenant.put("slow", automation_json(site, sleep_s=2.0))
    worker = await workers.start("w1")
    task = await tenant.submit("slow", {"who": ["ada"]})

    await tenant.wait_for(task.id, lambda t: t.status == "running")
    async with db.connection() as conn:
        slot = await registry.task_slot(conn, task.id)
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
