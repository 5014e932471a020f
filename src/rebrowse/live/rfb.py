"""RFB 3.8: the handshakes the stream bridge does, and a minimal viewer (raw encoding, 32-bit true colour) that
checks and measures a stream."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from websockets.asyncio.client import ClientConnection

from rebrowse.errors import RebrowseError

VERSION = b"RFB 003.008\n"
SECURITY_NONE, SECURITY_VNC = 1, 2
CHALLENGE_BYTES = 16
PASSWORD_LENGTH = 8  # VNC authentication uses the first 8 characters of a password, no more
OK = struct.pack(">I", 0)
RAW = 0
FRAMEBUFFER_UPDATE, COLOUR_MAP, BELL, CUT_TEXT = 0, 1, 2, 3
# Client-to-server messages: their sizes, fixed or read from a header (type -> (header size, size from header)).
KEY_EVENT, POINTER_EVENT, CLIENT_CUT_TEXT, XVP, QEMU = 4, 5, 6, 250, 255
# What drives the remote desktop: keys, the mouse, the clipboard, QEMU's extended keys, XVP's shutdown/reboot.
INPUT_MESSAGES = frozenset({KEY_EVENT, POINTER_EVENT, CLIENT_CUT_TEXT, XVP, QEMU})
MAX_CUT_TEXT = 1 << 20  # a viewer's clipboard text longer than this ends the connection
FIXED_CLIENT_MESSAGES = {0: 20, 3: 10, KEY_EVENT: 8, POINTER_EVENT: 6, 150: 10, XVP: 4}
# 32 bits per pixel, depth 24, little-endian, true colour, 8 bits a channel: pixels arrive as B, G, R, padding.
PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


class RfbError(RebrowseError):
    """The VNC server answered something this viewer does not understand."""


class ByteStream(Protocol):
    """A bidirectional byte stream: a TCP connection or a WebSocket."""

    async def read_exactly(self, n: int) -> bytes: ...

    async def write(self, data: bytes) -> None: ...


class TcpStream:
    """An asyncio TCP connection as a byte stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read_exactly(self, n: int) -> bytes:
        return await self.reader.readexactly(n)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


class MessageStream:
    """Bytes that arrive as messages (a WebSocket's), read as one stream."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    async def next_message(self) -> bytes:
        """The next message's bytes."""
        raise NotImplementedError

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += await self.next_message()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def take_buffered(self) -> bytes:
        """What has arrived beyond what was read."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


class WebSocketStream(MessageStream):
    """The bytes of a binary WebSocket (as websockify and noVNC speak it) as one stream."""

    def __init__(self, connection: ClientConnection) -> None:
        super().__init__()
        self.connection = connection

    async def next_message(self) -> bytes:
        message = await self.connection.recv()
        return message.encode() if isinstance(message, str) else message

    async def write(self, data: bytes) -> None:
        await self.connection.send(data)


def client_message_size(data: bytes | bytearray) -> int | None:
    """The size of the client message `data` starts with; None until enough of it has arrived to tell. RfbError
    for a message type a viewer has no business sending (its size is unknown, so the stream cannot be followed)."""
    kind = data[0]
    if kind in FIXED_CLIENT_MESSAGES:
        return FIXED_CLIENT_MESSAGES[kind]
    if kind == 2:  # SetEncodings: 4 bytes, then 4 per encoding
        return 4 + 4 * struct.unpack(">2xH", data[:4])[0] if len(data) >= 4 else None
    if kind == CLIENT_CUT_TEXT:
        if len(data) < 8:
            return None
        # A negative length is the Extended Clipboard pseudo-encoding's: that many bytes follow (noVNC sends its caps).
        (length,) = struct.unpack(">4xi", data[:8])
        length = abs(length)
        if length > MAX_CUT_TEXT:
            raise RfbError(f"clipboard text of {length} bytes is too long")
        return 8 + int(length)
    if kind == 248:  # ClientFence: 9 bytes, then its payload
        return 9 + data[8] if len(data) >= 9 else None
    if kind == 251:  # SetDesktopSize: 8 bytes, then 16 per screen
        return 8 + 16 * data[6] if len(data) >= 8 else None
    if kind == QEMU:
        if len(data) < 2:
            return None
        if data[1] == 0:  # extended key event
            return 12
    raise RfbError(f"unexpected client message {kind}")


class ClientMessages:
    """A viewer's bytes cut into whole RFB client messages, so that its input can be told from the rest."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The messages `data` completes (a message's first byte is its type); the rest waits for more."""
        self._buffer += data
        messages: list[bytes] = []
        while self._buffer:
            size = client_message_size(self._buffer)
            if size is None or len(self._buffer) < size:
                break
            messages.append(bytes(self._buffer[:size]))
            del self._buffer[:size]
        return messages


def without_input(messages: list[bytes], allow_input: bool) -> bytes:
    """The messages to pass on: keyboard, mouse and clipboard ones only when `allow_input`."""
    return b"".join(m for m in messages if allow_input or m[0] not in INPUT_MESSAGES)


@dataclass
class Framebuffer:
    """The remote screen as the viewer knows it, 4 bytes a pixel (B, G, R, padding)."""

    width: int
    height: int
    name: str
    pixels: bytearray = field(init=False)

    def __post_init__(self) -> None:
        self.pixels = bytearray(self.width * self.height * 4)

    def paint(self, x: int, y: int, w: int, h: int, data: bytes) -> None:
        """Copy a raw rectangle into the framebuffer."""
        for row in range(h):
            start = ((y + row) * self.width + x) * 4
            self.pixels[start : start + w * 4] = data[row * w * 4 : (row + 1) * w * 4]

    def share(self, matches: Callable[[int, int, int], bool]) -> float:
        """The fraction of pixels whose (red, green, blue) satisfies `matches`."""
        total = self.width * self.height
        view = memoryview(self.pixels)
        hits = sum(1 for i in range(0, total * 4, 4) if matches(view[i + 2], view[i + 1], view[i]))
        return hits / total if total else 0.0


def near(rgb: tuple[int, int, int], tolerance: int = 8) -> Callable[[int, int, int], bool]:
    """A pixel test: within `tolerance` of the colour on every channel."""
    red, green, blue = rgb
    return lambda r, g, b: abs(r - red) <= tolerance and abs(g - green) <= tolerance and abs(b - blue) <= tolerance


async def handshake(stream: ByteStream, password: str | None = None) -> Framebuffer:
    """Version 3.8, security (None, or VNC authentication with a password), shared ClientInit, ServerInit; then
    ask for raw 32-bit true-colour pixels."""
    await log_in(stream, password)
    await stream.write(b"\x01")  # shared: other viewers of the same task stay connected
    width, height = struct.unpack(">HH", await stream.read_exactly(4))
    await stream.read_exactly(16)  # the server's pixel format; we set ours next
    (name_length,) = struct.unpack(">I", await stream.read_exactly(4))
    name = (await stream.read_exactly(name_length)).decode(errors="replace")
    await stream.write(b"\x00\x00\x00\x00" + PIXEL_FORMAT)
    await stream.write(struct.pack(">BxHi", 2, 1, RAW))
    return Framebuffer(width, height, name)


async def log_in(server: ByteStream, password: str | None = None) -> None:
    """Take a server through RFB 3.8's handshake up to a successful security result."""
    version = await server.read_exactly(len(VERSION))
    if not version.startswith(b"RFB 003."):
        raise RfbError(f"not an RFB server: {version!r}")
    await server.write(VERSION)
    (count,) = await server.read_exactly(1)
    if count == 0:
        raise RfbError(f"the server refused the connection: {await read_reason(server)}")
    wanted = SECURITY_NONE if password is None else SECURITY_VNC
    if wanted not in await server.read_exactly(count):
        raise RfbError("the server does not offer " + ("VNC authentication" if password else "security type None"))
    await server.write(bytes([wanted]))
    if password is not None:
        await server.write(challenge_response(password, await server.read_exactly(CHALLENGE_BYTES)))
    if await server.read_exactly(4) != OK:
        raise RfbError(f"security handshake failed: {await read_reason(server)}")


def challenge_response(password: str, challenge: bytes) -> bytes:
    """The challenge encrypted with DES under the password, bits of each key byte reversed (the RFB convention)."""
    key = bytes(int(f"{byte:08b}"[::-1], 2) for byte in password.encode()[:PASSWORD_LENGTH].ljust(8, b"\0"))
    # Three copies of one key make triple DES single DES, which is what RFB specifies (ECB over one 16-byte
    # challenge).
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


async def welcome(viewer: ByteStream) -> None:
    """Serve a viewer RFB 3.8's handshake with security type None, up to (not including) its ClientInit."""
    await viewer.write(VERSION)
    if await viewer.read_exactly(len(VERSION)) != VERSION:
        raise RfbError("the viewer does not speak RFB 3.8")
    await viewer.write(bytes([1, SECURITY_NONE]))
    if await viewer.read_exactly(1) != bytes([SECURITY_NONE]):
        raise RfbError("the viewer chose a security type that was not offered")
    await viewer.write(OK)


async def read_reason(stream: ByteStream) -> str:
    (length,) = struct.unpack(">I", await stream.read_exactly(4))
    return (await stream.read_exactly(length)).decode(errors="replace")


async def request_update(stream: ByteStream, framebuffer: Framebuffer, *, incremental: bool = False) -> None:
    """Ask for the whole screen (or only what changed, when incremental)."""
    await stream.write(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, framebuffer.width, framebuffer.height))


async def read_update(stream: ByteStream, framebuffer: Framebuffer) -> int:
    """Read server messages until a framebuffer update has been painted; returns how many rectangles it had."""
    while True:
        (kind,) = await stream.read_exactly(1)
        if kind == FRAMEBUFFER_UPDATE:
            return await read_rectangles(stream, framebuffer)
        await skip_message(stream, kind)


async def read_rectangles(stream: ByteStream, framebuffer: Framebuffer) -> int:
    (count,) = struct.unpack(">xH", await stream.read_exactly(3))
    for _ in range(count):
        x, y, w, h, encoding = struct.unpack(">HHHHi", await stream.read_exactly(12))
        if encoding != RAW:
            raise RfbError(f"unexpected encoding {encoding}")
        framebuffer.paint(x, y, w, h, await stream.read_exactly(w * h * 4))
    return int(count)


async def skip_message(stream: ByteStream, kind: int) -> None:
    """Consume a server message the viewer has no use for."""
    if kind == COLOUR_MAP:
        _, entries = struct.unpack(">xHH", await stream.read_exactly(5))
        await stream.read_exactly(entries * 6)
    elif kind == CUT_TEXT:
        (length,) = struct.unpack(">3xI", await stream.read_exactly(7))
        await stream.read_exactly(length)
    elif kind != BELL:
        raise RfbError(f"unexpected server message {kind}")
