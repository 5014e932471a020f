"""Live view through the API: stream URLs, their tokens, and the WebSocket bridge to a real x11vnc."""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from rebrowse.api.routes.stream import NO_LIVE_VIEW, NOT_INTERACTIVE, NOT_RUNNING
from rebrowse.browser.display import LiveDisplay, live_view_available
from rebrowse.live import rfb, tokens
from rebrowse.live.vnc_auth import vnc_password
from rebrowse.store import stream_tokens, tasks, worker_slots
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from rebrowse.store.worker_slots import VncAddress
from tests.api.conftest import BASE_URL, Account, submit_ok
from tests.browser.test_display import DODGER_BLUE, HEIGHT, WIDTH, launch_headed
from tests.serving import serve_app
from tests.waiting import eventually, free_port

WORKER = "worker-1"
KEY_EVENT, POINTER_EVENT = 4, 5  # RFB client message types
BINARY = Subprotocol("binary")


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    async with serve_app(app) as base:
        yield base


async def running_task(db: Database, account: Account, vnc: VncAddress | None) -> uuid.UUID:
    """A submitted task that a worker's slot (with or without live view) is running."""
    task_id = uuid.UUID(await submit_ok(account))
    async with db.connection() as conn:
        assert await tasks.mark_allocated(conn, task_id, WORKER) is not None
        await tasks.mark_running(conn, task_id, 0)
        await worker_slots.publish(conn, WORKER, 0, task_id, vnc)
    return task_id


async def finish(db: Database, task_id: uuid.UUID) -> None:
    async with db.connection() as conn:
        await tasks.finish_task(conn, task_id, tasks.Outcome("success"))


def on_server(stream_url: str, served: str) -> str:
    """The stream URL as the test reaches it: the same path and token on the real server."""
    parts = urlsplit(stream_url)
    return f"{served}{parts.path}?{parts.query}"


async def close_code(connection: ClientConnection) -> int | None:
    """Read until the server closes; the code it closed with."""
    with pytest.raises(ConnectionClosed):
        while True:
            await connection.recv()
    assert connection.close_code is not None
    return connection.close_code


COUNTING_PAGE = (
    "data:text/html,<style>html,body{margin:0;height:100%;background:rgb(30,144,255)}</style>"
    "<script>window.inputs=0;for(const e of ['mousedown','click','keydown'])addEventListener(e,()=>inputs++)</script>"
)
live_view = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")


@asynccontextmanager
async def watched_task(acme: Account, db: Database, sealer: Sealer) -> AsyncIterator[tuple[uuid.UUID, Page]]:
    """A running task whose slot shows COUNTING_PAGE in a headed Chromium on a real display."""

    def password(port: int) -> str:
        return vnc_password(sealer, VncAddress("127.0.0.1", port))

    async with LiveDisplay(WIDTH, HEIGHT, password=password) as display, launch_headed(display) as browser:
        page: Page = await (await browser.new_context(no_viewport=True)).new_page()
        await page.goto(COUNTING_PAGE)
        yield await running_task(db, acme, VncAddress("127.0.0.1", display.vnc_ports[0])), page


async def stream_of(acme: Account, task_id: uuid.UUID, *, control: bool = False) -> str:
    response = await acme.client.get(f"/api/v1/tasks/{task_id}/stream", params={"control": control})
    assert response.status_code == 200, response.text
    stream_url: str = response.json()["stream_url"]
    return stream_url


async def page_shown(stream: rfb.WebSocketStream, framebuffer: rfb.Framebuffer) -> None:
    async def page_dominates() -> bool:
        await rfb.request_update(stream, framebuffer)
        await rfb.read_update(stream, framebuffer)
        return framebuffer.share(rfb.near(DODGER_BLUE)) > 0.7

    await eventually(page_dominates, timeout_s=30, what="the task's page in the stream")


@live_view
@pytest.mark.usefixtures("login")
async def test_the_stream_url_shows_the_running_task_page(
    acme: Account, db: Database, sealer: Sealer, served: str
) -> None:
    async with watched_task(acme, db, sealer) as (task_id, _):
        stream_url = await stream_of(acme, task_id)
        assert stream_url.startswith(f"ws://{urlsplit(BASE_URL).netloc}/api/v1/tasks/{task_id}/websockify?token=")

        async with connect(on_server(stream_url, served), subprotocols=[BINARY]) as connection:
            assert connection.subprotocol == "binary"
            stream = rfb.WebSocketStream(connection)
            framebuffer = await rfb.handshake(stream)
            assert (framebuffer.width, framebuffer.height) == (WIDTH, HEIGHT)
            await page_shown(stream, framebuffer)

            await finish(db, task_id)
            assert await close_code(connection) == 1000  # a clean end: noVNC shows "Stream ended"


@live_view
@pytest.mark.usefixtures("login")
async def test_a_stream_url_opens_one_connection_while_its_key_is_active(
    acme: Account, db: Database, sealer: Sealer, served: str
) -> None:
    async with watched_task(acme, db, sealer) as (task_id, _):
        stream_url = on_server(await stream_of(acme, task_id), served)
        async with connect(stream_url, subprotocols=[BINARY]) as connection:
            stream = rfb.WebSocketStream(connection)
            await page_shown(stream, await rfb.handshake(stream))
            async with connect(stream_url, subprotocols=[BINARY]) as replayed:
                assert await close_code(replayed) == 1008
                assert replayed.close_reason == "The stream token was already used: request a new stream_url"

        viewer = (await acme.client.post("/api/v1/keys", json={"name": "viewer"})).json()
        asked = await acme.client.get(f"/api/v1/tasks/{task_id}/stream", headers={"x-api-key": viewer["api_key"]})
        assert (await acme.client.delete(f"/api/v1/keys/{viewer['id']}")).status_code == 204
        async with connect(on_server(asked.json()["stream_url"], served), subprotocols=[BINARY]) as revoked:
            assert await close_code(revoked) == 1008
            assert revoked.close_reason == "The API key that asked for this stream token was revoked"


async def test_spent_tokens_are_kept_until_they_expire(db: Database) -> None:
    expired, live = uuid.uuid4(), uuid.uuid4()
    async with db.connection() as conn:
        assert await stream_tokens.spend(conn, expired, time.time() - 1)
        assert await stream_tokens.spend(conn, live, time.time() + 60)
        assert not await stream_tokens.spend(conn, live, time.time() + 60)
        rows = await (await conn.execute("SELECT id FROM spent_stream_tokens")).fetchall()
    assert [row["id"] for row in rows] == [live]


@live_view
@pytest.mark.usefixtures("login")
async def test_a_viewer_cannot_click_or_type_into_the_task_browser(
    acme: Account, db: Database, sealer: Sealer, served: str
) -> None:
    async with watched_task(acme, db, sealer) as (task_id, page):
        async with connect(on_server(await stream_of(acme, task_id), served), subprotocols=[BINARY]) as connection:
            stream = rfb.WebSocketStream(connection)
            framebuffer = await rfb.handshake(stream)
            await page_shown(stream, framebuffer)
            middle = (WIDTH // 2, HEIGHT // 2)
            for buttons in (1, 0, 1, 0):  # two left clicks in the middle of the page
                await stream.write(struct.pack(">BBHH", POINTER_EVENT, buttons, *middle))
            for down in (1, 0):  # the key "a"
                await stream.write(struct.pack(">BBxxI", KEY_EVENT, down, ord("a")))
            # The server handles a client's messages in order: once this update arrives, it has seen the input.
            await rfb.request_update(stream, framebuffer)
            await rfb.read_update(stream, framebuffer)
        assert await page.evaluate("window.inputs") == 0
        await page.mouse.click(*middle)  # the page does count input that really reaches it
        assert await page.evaluate("window.inputs") == 2


async def test_without_a_valid_api_key_it_is_401(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get(f"/api/v1/tasks/{uuid.uuid4()}/stream")).status_code == 401
    bad = await anonymous.get(f"/api/v1/tasks/{uuid.uuid4()}/stream", headers={"x-api-key": "rb_wrong"})
    assert bad.status_code == 401


@pytest.mark.usefixtures("login")
async def test_another_account_task_and_an_unknown_one_are_404(acme: Account, other: Account, db: Database) -> None:
    task_id = await running_task(db, acme, VncAddress("127.0.0.1", free_port()))
    assert (await other.client.get(f"/api/v1/tasks/{task_id}/stream")).status_code == 404
    assert (await acme.client.get(f"/api/v1/tasks/{uuid.uuid4()}/stream")).status_code == 404
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}/stream")).status_code == 200


@pytest.mark.usefixtures("login")
async def test_a_queued_or_ended_task_has_no_stream(acme: Account, db: Database) -> None:
    queued = await submit_ok(acme)
    response = await acme.client.get(f"/api/v1/tasks/{queued}/stream")
    assert (response.status_code, response.json()["detail"]) == (409, NOT_RUNNING)

    ended = await running_task(db, acme, VncAddress("127.0.0.1", free_port()))
    await finish(db, ended)
    response = await acme.client.get(f"/api/v1/tasks/{ended}/stream")
    assert (response.status_code, response.json()["detail"]) == (409, NOT_RUNNING)


@pytest.mark.usefixtures("login")
async def test_a_worker_without_live_view_says_so(acme: Account, db: Database) -> None:
    task_id = await running_task(db, acme, None)
    response = await acme.client.get(f"/api/v1/tasks/{task_id}/stream")
    assert (response.status_code, response.json()["detail"]) == (409, NO_LIVE_VIEW)


@pytest.mark.usefixtures("login")
@pytest.mark.parametrize("kind", ["expired", "forged", "other task", "missing"])
async def test_a_bad_token_is_refused_with_policy_violation(
    kind: str, acme: Account, db: Database, sealer: Sealer, served: str
) -> None:
    task_id = await running_task(db, acme, VncAddress("127.0.0.1", free_port()))
    other_task = await running_task(db, acme, VncAddress("127.0.0.1", free_port()))
    token = {
        "expired": tokens.issue(sealer, task_id, acme.id, acme.key_id, now=time.time() - 2 * tokens.DEFAULT_TTL_S),
        "forged": tokens.issue(Sealer(generate_key()), task_id, acme.id, acme.key_id),
        "other task": tokens.issue(sealer, other_task, acme.id, acme.key_id),
        "missing": "",
    }[kind]
    url = f"{served}/api/v1/tasks/{task_id}/websockify?token={token}"
    async with connect(url, subprotocols=[BINARY]) as connection:
        assert await close_code(connection) == 1008


@pytest.mark.usefixtures("login")
async def test_a_valid_token_for_an_ended_task_gets_a_clean_close(
    acme: Account, db: Database, sealer: Sealer, served: str
) -> None:
    task_id = await running_task(db, acme, VncAddress("127.0.0.1", free_port()))
    token = tokens.issue(sealer, task_id, acme.id, acme.key_id)
    await finish(db, task_id)
    url = f"{served}/api/v1/tasks/{task_id}/websockify?token={token}"
    async with connect(url, subprotocols=[BINARY]) as connection:
        assert await close_code(connection) == 1000
        assert connection.close_reason == NOT_RUNNING


async def wait_for_person(db: Database, task_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    waiting = tasks.Waiting(message="Sign in", node="nodes[0]", since=now, deadline=now + timedelta(minutes=5))
    async with db.connection() as conn:
        assert await tasks.begin_wait(conn, task_id, waiting) is not None


async def end_wait(db: Database, task_id: uuid.UUID) -> None:
    async with db.connection() as conn:
        assert await tasks.end_wait(conn, task_id)


async def send_input(stream_url: str) -> None:
    """Connect, see the page, click the middle of the screen once and type "a"; return once the server has
    handled them (it handles a client's messages in order, so the update asked for after them comes after)."""
    async with connect(stream_url, subprotocols=[BINARY]) as connection:
        stream = rfb.WebSocketStream(connection)
        framebuffer = await rfb.handshake(stream)
        await page_shown(stream, framebuffer)
        for buttons in (1, 0):
            await stream.write(struct.pack(">BBHH", POINTER_EVENT, buttons, WIDTH // 2, HEIGHT // 2))
        for down in (1, 0):
            await stream.write(struct.pack(">BBxxI", KEY_EVENT, down, ord("a")))
        await rfb.request_update(stream, framebuffer)
        await rfb.read_update(stream, framebuffer)


@live_view
@pytest.mark.usefixtures("login")
async def test_a_control_token_drives_the_browser_only_while_the_task_waits_for_a_person(
    acme: Account, db: Database, sealer: Sealer, served: str
) -> None:
    async with watched_task(acme, db, sealer) as (task_id, page):
        refused = await acme.client.get(f"/api/v1/tasks/{task_id}/stream", params={"control": True})
        assert (refused.status_code, refused.json()["detail"]) == (409, NOT_INTERACTIVE)
        await wait_for_person(db, task_id)

        await send_input(on_server(await stream_of(acme, task_id), served))  # a view token, while it waits
        assert await page.evaluate("window.inputs") == 0

        await send_input(on_server(await stream_of(acme, task_id, control=True), served))

        async def typed() -> bool:
            return bool(await page.evaluate("window.inputs") == 3)  # mousedown, click, keydown

        await eventually(typed, what="the control viewer's click and key in the page")

        late = on_server(await stream_of(acme, task_id, control=True), served)
        await end_wait(db, task_id)  # the person is done before this control viewer connects
        await send_input(late)
        assert await page.evaluate("window.inputs") == 3


@pytest.mark.usefixtures("login")
async def test_a_control_stream_is_404_for_another_account(acme: Account, other: Account, db: Database) -> None:
    task_id = await running_task(db, acme, VncAddress("127.0.0.1", free_port()))
    await wait_for_person(db, task_id)
    response = await other.client.get(f"/api/v1/tasks/{task_id}/stream", params={"control": True})
    assert response.status_code == 404
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}/stream", params={"control": True})).status_code == 200


def test_client_messages_are_cut_whole_and_input_is_dropped_unless_allowed() -> None:
    key = struct.pack(">BBxxI", KEY_EVENT, 1, ord("a"))
    pointer = struct.pack(">BBHH", POINTER_EVENT, 1, 10, 20)
    cut = struct.pack(">B3xI", 6, 5) + b"hello"
    encodings = struct.pack(">BxHii", 2, 2, 0, -223)
    update = struct.pack(">BBHHHH", 3, 1, 0, 0, 10, 10)
    extended_cut = struct.pack(">B3xi", 6, -8) + bytes(8)  # noVNC's Extended Clipboard capabilities
    stream = key + pointer + cut + encodings + update + extended_cut
    messages = rfb.ClientMessages()
    # Fed one byte at a time, the messages still come out whole.
    cut_up = [m for i in range(len(stream)) for m in messages.feed(stream[i : i + 1])]
    assert cut_up == [key, pointer, cut, encodings, update, extended_cut]
    assert rfb.without_input(cut_up, allow_input=False) == encodings + update
    assert rfb.without_input(cut_up, allow_input=True) == stream
    with pytest.raises(rfb.RfbError, match="unexpected client message 99"):
        rfb.ClientMessages().feed(b"\x63rest")
    with pytest.raises(rfb.RfbError, match="too long"):
        rfb.ClientMessages().feed(struct.pack(">B3xI", 6, rfb.MAX_CUT_TEXT + 1))
