"""LiveDisplay: a real Xvfb and x11vnc, a headed Chromium on it, and the page's pixels read back over RFB."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from rebrowse.browser.display import (
    AUTHORITY_PREFIX,
    COOKIE_BYTES,
    LiveDisplay,
    LiveViewUnavailable,
    live_view_available,
)
from rebrowse.browser.launch import launch_chromium
from rebrowse.live import rfb
from tests.processes import AS_NOBODY, listening, x11_handshake
from tests.waiting import eventually

pytestmark = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")

WIDTH, HEIGHT = 1280, 720
PASSWORD = "s3cretPw"


def password(port: int) -> str:
    return PASSWORD


X11_FAILED, X11_SUCCESS = 0, 1
DODGER_BLUE = (30, 144, 255)
SOLID_PAGE = "data:text/html,<style>html,body{margin:0;height:100%;background:rgb(30,144,255)}</style>"


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an orphan's zombie waits for whoever reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@asynccontextmanager
async def launch_headed(display: LiveDisplay) -> AsyncIterator[Browser]:
    """Chromium whose windows fill the display's first tile."""
    async with async_playwright() as playwright:
        browser = await launch_chromium(
            playwright,
            headless=False,
            display=display.display,
            xauthority=display.xauthority,
            new_windows=display.tiles[0],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def page_share(
    port: int, colour: tuple[int, int, int], *, host: str = "127.0.0.1", secret: str = PASSWORD
) -> float:
    """The share of the VNC screen showing the colour, read with our own RFB viewer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        stream = rfb.TcpStream(reader, writer)
        framebuffer = await rfb.handshake(stream, secret)
        assert (framebuffer.width, framebuffer.height) == (WIDTH, HEIGHT)
        await rfb.request_update(stream, framebuffer)
        await rfb.read_update(stream, framebuffer)
        return framebuffer.share(rfb.near(colour))
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_page_of_a_headed_chromium_is_served_over_vnc() -> None:
    async with LiveDisplay(WIDTH, HEIGHT, password=password) as display:
        pids = display.pids
        assert display.display.startswith(":")
        assert len(pids) == 2
        async with launch_headed(display) as browser:
            context = await browser.new_context(no_viewport=True)
            page = await context.new_page()
            await page.goto(SOLID_PAGE)

            async def page_dominates() -> bool:
                return await page_share(display.vnc_ports[0], DODGER_BLUE) > 0.7

            await eventually(page_dominates, timeout_s=30, what="the page's colour on the VNC screen")
    assert not any(alive(pid) for pid in pids)


async def test_the_vnc_server_listens_on_localhost_only_by_default() -> None:
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    async with LiveDisplay(WIDTH, HEIGHT, password=password) as display:
        reader, writer = await asyncio.open_connection("127.0.0.1", display.vnc_ports[0])
        assert (await reader.readexactly(12)).startswith(b"RFB ")
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(address, display.vnc_ports[0])


async def test_the_vnc_server_can_listen_on_another_address() -> None:
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    async with LiveDisplay(WIDTH, HEIGHT, password=password, listen=address) as display:
        assert await page_share(display.vnc_ports[0], (0, 0, 0), host=address) >= 0.0  # the handshake succeeded
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", display.vnc_ports[0])


async def test_the_vnc_server_wants_its_password_and_keeps_no_file_of_it(tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("rebrowse-vnc-*"))
    async with LiveDisplay(WIDTH, HEIGHT, password=password) as display:
        assert set(Path(tempfile.gettempdir()).glob("rebrowse-vnc-*")) == before
        for wrong in (None, "wrong-pw"):
            reader, writer = await asyncio.open_connection("127.0.0.1", display.vnc_ports[0])
            try:
                with pytest.raises(rfb.RfbError):
                    await rfb.handshake(rfb.TcpStream(reader, writer), wrong)
            finally:
                writer.close()


async def test_no_vnc_server_listens_on_anything_but_its_address() -> None:
    # The review found slot 0's x11vnc on [::]:5900 too, every IPv6 interface, despite -listen and -noipv6.
    async with LiveDisplay(WIDTH, HEIGHT, password=password, tiles=3) as display:
        sockets = listening(set(display.pids))
        assert sockets == {("127.0.0.1", port) for port in display.vnc_ports}


async def test_the_display_lets_in_only_clients_with_its_authority() -> None:
    # Without -auth any local user could capture a slot's screen or type into its page through XTEST.
    async with LiveDisplay(WIDTH, HEIGHT, password=password) as display:
        assert display.xauthority is not None
        cookie = display.xauthority.read_bytes()[-COOKIE_BYTES:]
        assert await x11_handshake(display.display) == X11_FAILED
        assert await x11_handshake(display.display, bytes(COOKIE_BYTES)) == X11_FAILED
        assert await x11_handshake(display.display, cookie) == X11_SUCCESS
        assert stat.S_IMODE(display.xauthority.stat().st_mode) == 0o600
        assert stat.S_IMODE(display.xauthority.parent.stat().st_mode) == 0o700
        if os.geteuid() == 0:
            read = subprocess.run([*AS_NOBODY, "cat", str(display.xauthority)], capture_output=True, timeout=30)
            assert read.returncode != 0 and b"Permission denied" in read.stderr
        folder = display.xauthority.parent
    assert not folder.exists()


async def test_a_display_removes_the_authority_left_by_a_killed_worker() -> None:
    finished = subprocess.Popen(["true"])  # a process that has ended: its pid stands for a killed worker's
    finished.wait()
    tmp = Path(tempfile.gettempdir())
    stale = Path(tempfile.mkdtemp(prefix=f"{AUTHORITY_PREFIX}{finished.pid}-"))
    alive = Path(tempfile.mkdtemp(prefix=f"{AUTHORITY_PREFIX}{os.getpid()}-"))
    try:
        async with LiveDisplay(WIDTH, HEIGHT, password=password) as display:
            assert display.xauthority is not None
            assert display.xauthority.parent.name.startswith(f"{AUTHORITY_PREFIX}{os.getpid()}-")
            assert not stale.exists()
            assert alive.exists()  # ours: this process lives
        assert {p.name for p in tmp.glob(f"{AUTHORITY_PREFIX}{os.getpid()}-*")} == {alive.name}
    finally:
        alive.rmdir()


def outside_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
            address: str = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


async def test_without_xvfb_the_reason_is_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert live_view_available() == "Xvfb is not installed"
    with pytest.raises(LiveViewUnavailable, match="Xvfb is not installed"):
        async with LiveDisplay(WIDTH, HEIGHT, password=password):
            pass


CRASHING_WORKER = """
import asyncio, sys
from rebrowse.browser.display import LiveDisplay

async def main():
    async with LiveDisplay(640, 480, password=lambda port: 'pw') as display:
        print(*display.pids, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_the_display_dies_with_a_killed_worker() -> None:
    worker = await asyncio.create_subprocess_exec(sys.executable, "-c", CRASHING_WORKER, stdout=asyncio.subprocess.PIPE)
    try:
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), 30)
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    finally:
        worker.kill()
        await worker.wait()
    await eventually(lambda: not any(alive(pid) for pid in pids), timeout_s=15, what="Xvfb and x11vnc to stop")
    # What the killed worker left is removed by the next display to start, as a new worker's would.
    left = list(Path(tempfile.gettempdir()).glob(f"{AUTHORITY_PREFIX}{worker.pid}-*"))
    assert len(left) == 1
    async with LiveDisplay(WIDTH, HEIGHT, password=password):
        assert not left[0].exists()
