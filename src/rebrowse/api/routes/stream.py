"""Live view: a short-lived stream URL for a running task, and the WebSocket that bridges it to the slot's VNC."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, WebSocket
from pydantic import BaseModel
from starlette.websockets import WebSocketState

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import Services, ServicesDep, find_task, parse_uuid
from rebrowse.api.errors import Conflict
from rebrowse.api.schemas import ERRORS, ErrorBody
from rebrowse.live import rfb, tokens, vnc_auth
from rebrowse.live.rfb import TcpStream
from rebrowse.observability.metrics import LiveViewConnections
from rebrowse.store import accounts, stream_tokens, tasks, worker_slots
from rebrowse.store.worker_slots import VncAddress

logger = logging.getLogger("rebrowse.api.stream")

router = APIRouter(prefix="/api/v1", tags=["tasks"], responses=ERRORS)

SUBPROTOCOL = "binary"  # what noVNC asks for, after websockify
CHUNK = 64 * 1024
WATCH_INTERVAL_S = 1.0
HANDSHAKE_DEADLINE_S = 10.0
POLICY_VIOLATION, NORMAL, SERVER_ERROR = 1008, 1000, 1011
NOT_RUNNING = "Stream not available: task is not running"
NO_LIVE_VIEW = "Stream not available: the task's worker runs without live view"
NOT_INTERACTIVE = "Control not available: the task is not waiting for a person (nor recording)"
SHARED = b"\x01"  # ClientInit: every viewer shares the session (one cannot disconnect the others)


class StreamUrl(BaseModel):
    stream_url: str


@router.get(
    "/tasks/{task_id}/stream",
    operation_id="get_task_stream",
    responses={
        409: {
            "model": ErrorBody,
            "description": "The task is not running, runs without live view, or (control) does not wait for a person",
        }
    },
)
async def stream(
    task_id: str,
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    control: Annotated[
        bool,
        Query(
            description="Drive the browser too: keyboard and mouse get through while the task waits for a person"
            " or records"
        ),
    ] = False,
) -> StreamUrl:
    """A WebSocket URL (noVNC wire protocol) showing the running task's browser; valid for a minute, for one
    connection, while the key that asked for it is not revoked. View only, unless `control` is asked for while the
    task waits for a person."""
    task = await find_task(services, caller.account.id, task_id)
    if task.status != "running":
        raise Conflict(NOT_RUNNING)
    if control and not task.is_interactive:
        raise Conflict(NOT_INTERACTIVE)
    async with services.db.connection() as conn:
        slot = await worker_slots.task_slot(conn, task.id)
    if slot is None or slot.vnc is None:
        raise Conflict(NO_LIVE_VIEW)
    token = tokens.issue(
        services.sealer,
        task.id,
        caller.account.id,
        caller.key_id,
        ttl_s=services.settings.stream_token_ttl_s,
        scope="control" if control else "view",
    )
    base = services.settings.public_url or str(request.base_url)
    return StreamUrl(stream_url=f"{websocket_base(base)}/api/v1/tasks/{task.id}/websockify?token={quote(token)}")


def websocket_base(http_base: str) -> str:
    """ws://host or wss://host for the API's http:// or https:// address."""
    base = http_base.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://")
    return "ws://" + base.removeprefix("http://")


@router.websocket("/tasks/{task_id}/websockify")
async def websockify(websocket: WebSocket, task_id: str, token: str = "") -> None:
    """Relay the task's VNC stream to a viewer holding a valid token, until either side closes or the task ends."""
    services = cast(Services, websocket.app.state.services)
    offered = websocket.scope.get("subprotocols") or []
    # Accepted before the token is checked, so that a refusal reaches the viewer as a close code, not a failed upgrade.
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    parsed = parse_uuid(task_id)
    try:
        if parsed is None:
            raise tokens.TokenRefused("Invalid stream token")
        grant = tokens.verify(services.sealer, token, parsed)
        await spend(services, grant)
    except tokens.TokenRefused as refused:
        await websocket.close(POLICY_VIOLATION, str(refused))
        return
    vnc, gate = await live_address(services, grant)
    if vnc is None:
        await websocket.close(NORMAL, NOT_RUNNING)
        return
    try:
        reader, writer = await asyncio.open_connection(vnc.host, vnc.port)
    except OSError:
        await websocket.close(SERVER_ERROR, "Stream not available: the live view cannot be reached")
        return
    connections = cast(LiveViewConnections, websocket.app.state.live_view_connections)
    try:
        viewer = ViewerStream(websocket)
        try:
            async with asyncio.timeout(HANDSHAKE_DEADLINE_S):
                await rfb.log_in(TcpStream(reader, writer), vnc_auth.vnc_password(services.sealer, vnc))
                await rfb.welcome(viewer)
                await viewer.read_exactly(1)  # the viewer's ClientInit, replaced by SHARED
        except (rfb.RfbError, asyncio.IncompleteReadError, OSError, TimeoutError) as failed:
            logger.warning(
                "live view of task %s: handshake failed: %s",
                grant.task_id,
                failed,
                extra={"task_id": str(grant.task_id)},
            )
            await websocket.close(SERVER_ERROR, "Stream not available: the live view's handshake failed")
            return
        writer.write(SHARED)
        with connections.track():
            watcher = watch_task(services, grant, vnc, gate)
            code, reason = await relay(websocket, reader, writer, watcher, gate, viewer.take_buffered())
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code, reason)


class ViewerStream(rfb.MessageStream):
    """The viewer's WebSocket as a byte stream, for the handshake before the relay."""

    def __init__(self, websocket: WebSocket) -> None:
        super().__init__()
        self.websocket = websocket

    async def next_message(self) -> bytes:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise asyncio.IncompleteReadError(self.take_buffered(), None)
        return message.get("bytes") or (message.get("text") or "").encode()

    async def write(self, data: bytes) -> None:
        await self.websocket.send_bytes(data)


async def spend(services: Services, grant: tokens.StreamGrant) -> None:
    """Use the token up; TokenRefused when its key was revoked or it was used before (by any API replica)."""
    async with services.db.connection() as conn:
        if not await accounts.key_active(conn, grant.key_id):
            raise tokens.TokenRefused("The API key that asked for this stream token was revoked")
        if not await stream_tokens.spend(conn, grant.token_id, grant.expires_at):
            raise tokens.TokenRefused("The stream token was already used: request a new stream_url")


@dataclass
class InputGate:
    """Whether this connection's keyboard and mouse reach the browser: only with a control token, and only while
    the task is interactive (tasks.Task.is_interactive, refreshed by the watcher)."""

    control: bool
    interactive: bool = False

    @property
    def open(self) -> bool:
        return self.control and self.interactive


async def live_address(services: Services, grant: tokens.StreamGrant) -> tuple[VncAddress | None, InputGate]:
    """Where the task's live view is, while it runs in the grant's account (None otherwise), and its input gate."""
    gate = InputGate(control=grant.scope == "control")
    async with services.db.connection() as conn:
        task = await tasks.get_task(conn, grant.task_id, grant.account_id)
        if task is None:
            return None, gate
        gate.interactive = task.is_interactive
        slot = await worker_slots.task_slot(conn, grant.task_id)
    return (slot.vnc if slot else None), gate


async def watch_task(
    services: Services, grant: tokens.StreamGrant, vnc: VncAddress, gate: InputGate
) -> tuple[int, str]:
    """Returns once the task no longer runs on that VNC server (it ended, or moved after a retry); meanwhile keeps
    the input gate of a control connection up to date."""
    while True:
        await asyncio.sleep(WATCH_INTERVAL_S)
        async with services.db.connection() as conn:
            slot = await worker_slots.task_slot(conn, grant.task_id)
            if gate.control:
                task = await tasks.get_task(conn, grant.task_id, grant.account_id)
                gate.interactive = task is not None and task.is_interactive
        if slot is None or slot.vnc != vnc:
            return NORMAL, "The task is no longer running"


async def relay(
    websocket: WebSocket,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    watcher: Coroutine[Any, Any, tuple[int, str]],
    gate: InputGate,
    buffered: bytes,
) -> tuple[int, str]:
    """Copy bytes both ways until one side closes or the watcher returns; the close code and reason to send.
    `buffered`: what the viewer sent after its ClientInit, before the relay began."""
    jobs = {
        asyncio.create_task(viewer_to_vnc(websocket, writer, gate, buffered)),
        asyncio.create_task(vnc_to_viewer(reader, websocket)),
        asyncio.create_task(watcher),
    }
    done, pending = await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
    for job in pending:
        job.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    finished = done.pop()
    if finished.cancelled() or finished.exception() is not None:
        return SERVER_ERROR, "The live view failed"
    result: tuple[int, str] = finished.result()
    return result


async def viewer_to_vnc(
    websocket: WebSocket, writer: asyncio.StreamWriter, gate: InputGate, buffered: bytes
) -> tuple[int, str]:
    """The viewer's RFB messages to the VNC server, cut into whole messages: keyboard, mouse and clipboard ones
    pass only while the gate is open, so a crafted viewer cannot type; a message the bridge cannot follow ends
    the connection."""
    messages = rfb.ClientMessages()
    data = buffered
    while True:
        try:
            passed = rfb.without_input(messages.feed(data), gate.open)
        except rfb.RfbError as exc:
            return POLICY_VIOLATION, f"The live view refused the viewer's message: {exc}"
        if passed:
            writer.write(passed)
            await writer.drain()
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return NORMAL, ""
        data = message.get("bytes") or (message.get("text") or "").encode()


async def vnc_to_viewer(reader: asyncio.StreamReader, websocket: WebSocket) -> tuple[int, str]:
    """The VNC server's bytes to the viewer, one binary message per read."""
    while data := await reader.read(CHUNK):
        await websocket.send_bytes(data)
    return SERVER_ERROR, "The live view's VNC server closed the connection"
