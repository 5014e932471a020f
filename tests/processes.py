"""What processes are doing, read from /proc: their descendants and the TCP sockets they listen on; and an X11
connection handshake, to see whether a display lets a client in."""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from pathlib import Path

LISTEN = "0A"  # the state column of /proc/net/tcp* for a listening socket
AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")  # a command prefix, for root


def descendants(pid: int) -> set[int]:
    """The process and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += children.get(current, [])
    return found


def socket_inodes(pids: set[int]) -> set[int]:
    """The inodes of the sockets the processes hold open."""
    inodes = set()
    for pid in pids:
        try:
            links = [fd.readlink() for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {int(str(link)[8:-1]) for link in links if str(link).startswith("socket:[")}
    return inodes


def parse_address(hex_address: str) -> str:
    """The address of a /proc/net/tcp* row (each 32-bit word in the machine's byte order)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(struct.pack("=I", int.from_bytes(raw[i : i + 4], "big")) for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket, IPv4 or IPv6, that the processes listen on."""
    inodes = socket_inodes(pids)
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            columns = row.split()
            local, state, inode = columns[1], columns[3], int(columns[9])
            if state == LISTEN and inode in inodes:
                address, port = local.split(":")
                found.add((parse_address(address), int(port, 16)))
    return found


async def x11_handshake(display: str, cookie: bytes | None = None) -> int:
    """Open the display's Unix socket and send the X11 connection setup (with a MIT-MAGIC-COOKIE-1 when given);
    the server's first answer byte: 1 success, 0 failed (refused), 2 authenticate."""
    reader, writer = await asyncio.open_unix_connection(f"/tmp/.X11-unix/X{display.lstrip(':')}")
    try:
        name = b"MIT-MAGIC-COOKIE-1" if cookie is not None else b""
        data = cookie or b""
        writer.write(struct.pack("<cxHHHHxx", b"l", 11, 0, len(name), len(data)) + padded(name) + padded(data))
        await writer.drain()
        return (await reader.readexactly(1))[0]
    finally:
        writer.close()


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)
