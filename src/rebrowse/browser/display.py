"""A virtual screen to run Chromium headed on, served over password-protected VNC (the live view; the API's bridge
decides per connection whether a viewer's keyboard and mouse get through)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import secrets
import shutil
import signal
import socket
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from rebrowse.browser.windows import ScreenArea
from rebrowse.errors import RebrowseError

START_DEADLINE_S = 15.0
STOP_DEADLINE_S = 5.0
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and x11vnc binding it
PORT_LINE = b"PORT="
PR_SET_PDEATHSIG = 1
DEFAULT_LISTEN = "127.0.0.1"
MAX_SCREEN_SIDE = 32767  # X coordinates are 16-bit signed
SYSV_SHM_TABLE = "/proc/sysvipc/shm"
IPC_RMID = 0
COOKIE_PROTOCOL = b"MIT-MAGIC-COOKIE-1"
FAMILY_WILD = 0xFFFF  # an authority entry for any address and, with no display number, any display
COOKIE_BYTES = 16
AUTHORITY_PREFIX = "rebrowse-x-"  # then the pid of the process whose display it serves


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to terminate it when the worker dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def password_file(password: str) -> Iterator[Path]:
    """A file only the owner can read, holding the password; removed on exit if its reader has not done so."""
    fd, name = tempfile.mkstemp(prefix="rebrowse-vnc-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def authority_entry(cookie: bytes) -> bytes:
    """One entry of an X authority file (Xau's format: big-endian length-prefixed fields) holding the cookie."""
    fields = (b"", b"", COOKIE_PROTOCOL, cookie)  # address, display number, protocol name, data
    return struct.pack(">H", FAMILY_WILD) + b"".join(struct.pack(">H", len(f)) + f for f in fields)


def remove_stale_authorities(folder: Path) -> None:
    """Remove the authority directories of our processes that died without stopping their display (a killed
    worker's): each holds a cookie of a display that is gone."""
    for directory in folder.glob(f"{AUTHORITY_PREFIX}*-*"):
        pid = directory.name.removeprefix(AUTHORITY_PREFIX).split("-", 1)[0]
        with contextlib.suppress(OSError):
            if pid.isdigit() and not Path(f"/proc/{pid}").exists() and directory.stat().st_uid == os.geteuid():
                shutil.rmtree(directory)


def write_authority(directory: Path) -> Path:
    """A fresh X authority file in `directory`, readable by this user alone: whoever cannot read it cannot connect
    to the display (capture the screen, or type into a task's page with XTEST)."""
    path = directory / "Xauthority"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(authority_entry(secrets.token_bytes(COOKIE_BYTES)))
    return path


def shared_memory_of(pid: int) -> list[int]:
    """The System V shared memory segments the process created that nothing has attached (their ids)."""
    try:
        rows = [line.split() for line in Path(SYSV_SHM_TABLE).read_text().splitlines()[1:]]
    except OSError:
        return []
    # Columns: key shmid perms size cpid lpid nattch ...
    return [int(row[1]) for row in rows if int(row[4]) == pid and int(row[6]) == 0]


def remove_shared_memory_of(pid: int) -> None:
    """Remove what shared memory a dead x11vnc left: it removes its segments when it exits cleanly, but one that
    crashed or was killed leaves them for good, until the system has no segment left to give the next one."""
    libc = ctypes.CDLL(None, use_errno=True)
    for segment in shared_memory_of(pid):
        libc.shmctl(segment, IPC_RMID, None)


class LiveViewUnavailable(RebrowseError):
    """The live view cannot be started on this machine."""


def live_view_available() -> str | None:
    """None when Xvfb and x11vnc are installed, else the reason the live view is off."""
    for program in ("Xvfb", "x11vnc"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return None


def free_port(host: str = DEFAULT_LISTEN) -> int:
    """A TCP port on `host` nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def stop_process(process: asyncio.subprocess.Process, deadline_s: float = STOP_DEADLINE_S) -> None:
    """Terminate the process, killing it when it has not exited by the deadline."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), deadline_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class LiveDisplay:
    """An Xvfb display cut into tiles, one per slot, each served by its own password-protected x11vnc
    that shows that tile only; all are stopped on exit, also when starting fails.

    New windows appear on a parking tile no VNC server shows, until they are placed on their slot's tile: a viewer
    never sees another slot's window, not even for the moment before it is placed.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        password: Callable[[int], str],
        listen: str = DEFAULT_LISTEN,
        tiles: int = 1,
    ) -> None:
        """Tiles of `width` x `height`; `password` gives the VNC password for the port a server will listen on;
        `listen` is the address the servers bind."""
        self.width = width
        self.height = height
        self.listen = listen
        self._password = password
        self._columns = math.ceil(math.sqrt(tiles + 1))  # the slots' tiles and the parking one, in a square-ish grid
        self.tiles = [self._area(index) for index in range(tiles)]
        self.parking = self._area(tiles)
        self.display = ""
        self.xauthority: Path | None = None  # the display's authority file: X clients need it to connect
        self.vnc_ports = [0] * tiles  # by tile; 0 until its server listens
        self._xvfb: asyncio.subprocess.Process | None = None
        self._vncs: dict[int, asyncio.subprocess.Process] = {}  # by tile
        self._drains: list[asyncio.Task[None]] = []

    def _area(self, index: int) -> ScreenArea:
        row, column = divmod(index, self._columns)
        return ScreenArea(column * self.width, row * self.height, self.width, self.height)

    @property
    def screen_size(self) -> tuple[int, int]:
        """The size of the whole X screen: every tile's and the parking one's."""
        rows = math.ceil((len(self.tiles) + 1) / self._columns)
        return self._columns * self.width, rows * self.height

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of Xvfb and of the VNC servers started, by tile."""
        servers = [self._vncs[tile] for tile in sorted(self._vncs)]
        return tuple(p.pid for p in (self._xvfb, *servers) if p is not None)

    @property
    def running(self) -> bool:
        """Whether Xvfb and every VNC server are up."""
        return self.screen_running and not self._stopped_tiles()

    @property
    def screen_running(self) -> bool:
        """Whether Xvfb is up (windows on it live on, even when a VNC server stopped)."""
        return self._xvfb is not None and self._xvfb.returncode is None

    def _stopped_tiles(self) -> list[int]:
        return [
            tile for tile in range(len(self.tiles)) if tile not in self._vncs or self._vncs[tile].returncode is not None
        ]

    async def restart_stopped_vncs(self) -> None:
        """Start again the VNC servers that stopped, each on a new port; LiveViewUnavailable when one cannot."""
        stopped = self._stopped_tiles()
        for tile in stopped:
            if tile in self._vncs:
                remove_shared_memory_of(self._vncs[tile].pid)
        await asyncio.gather(*(self._start_vnc(tile) for tile in stopped))

    async def __aenter__(self) -> LiveDisplay:
        await self.start()
        return self

    async def start(self) -> None:
        """Start Xvfb, then the VNC servers; LiveViewUnavailable (with everything stopped) when one cannot start."""
        reason = live_view_available()
        if reason is not None:
            raise LiveViewUnavailable(f"Live view is not available: {reason}")
        width, height = self.screen_size
        if max(width, height) > MAX_SCREEN_SIDE:
            raise LiveViewUnavailable(
                f"Live view is not available: {len(self.tiles)} tiles of {self.width}x{self.height} make a "
                f"{width}x{height} screen, larger than X allows ({MAX_SCREEN_SIDE}); use a smaller REBROWSE_SCREEN"
            )
        try:
            await self._start_xvfb()
            await asyncio.gather(*(self._start_vnc(tile) for tile in range(len(self.tiles))))
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop the VNC servers, then Xvfb."""
        await asyncio.gather(*(stop_process(process) for process in self._vncs.values()))
        for process in self._vncs.values():
            remove_shared_memory_of(process.pid)
        if self._xvfb is not None:
            await stop_process(self._xvfb)
        await asyncio.gather(*self._drains)
        if self.xauthority is not None:
            shutil.rmtree(self.xauthority.parent, ignore_errors=True)

    async def _start_xvfb(self) -> None:
        # -displayfd lets Xvfb pick a free display number and tells it once the server accepts clients.
        width, height = self.screen_size
        remove_stale_authorities(Path(tempfile.gettempdir()))
        # mkdtemp makes the directory the worker's alone (0700); its name says whose it is.
        self.xauthority = write_authority(Path(tempfile.mkdtemp(prefix=f"{AUTHORITY_PREFIX}{os.getpid()}-")))
        read_fd, write_fd = os.pipe()
        try:
            self._xvfb = await asyncio.create_subprocess_exec(
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{width}x{height}x24",
                "-auth",
                str(self.xauthority),
                "-nolisten",
                "tcp",
                # Chromium renders in software on its own and never uses GLX; without it Xvfb does not load Mesa,
                # which saves about 50 MB per display.
                "-extension",
                "GLX",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=(write_fd,),
                preexec_fn=die_with_parent,
            )
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb") as reader:
            number = await asyncio.wait_for(asyncio.to_thread(reader.readline), START_DEADLINE_S)
        if not number.strip().isdigit():
            raise LiveViewUnavailable("Xvfb did not start")
        self.display = f":{int(number)}"

    async def _start_vnc(self, tile: int) -> None:
        """Start the VNC server showing a tile, and note its port."""
        area = self.tiles[tile]
        said = ""
        for _ in range(PORT_ATTEMPTS):
            port = free_port(self.listen)
            with password_file(self._password(port)) as path:
                vnc = await asyncio.create_subprocess_exec(
                    "x11vnc",
                    *("-display", self.display, "-auth", str(self.xauthority), "-clip", area.clip()),
                    # -noipv6 alone still leaves a listener on [::]:5900; -rfbportv6 -1 closes it.
                    *("-rfbport", str(port), "-listen", self.listen, "-noipv6", "-rfbportv6", "-1"),
                    # "rm:": x11vnc deletes the file once it has read the password.
                    *("-passwdfile", f"rm:{path}", "-forever", "-shared", "-quiet"),
                    # Not -viewonly: input reaches the display only through the API's bridge, which drops it
                    # unless the viewer holds a control token while the task waits for a person.
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
                self._vncs[tile] = vnc
                announced, said = await self._announced_port(vnc)
            if announced == port:  # the port its password was derived for
                self._drains.append(asyncio.create_task(drain(vnc)))
                self.vnc_ports[tile] = port
                return
            await stop_process(vnc)
        raise LiveViewUnavailable(f"x11vnc did not start{': ' + said if said else ''}")

    @staticmethod
    async def _announced_port(process: asyncio.subprocess.Process) -> tuple[int | None, str]:
        """The port x11vnc prints (PORT=n) once it listens, None when it exits or the deadline passes first; and
        the last line it printed before (why it failed, when it did)."""
        assert process.stdout is not None
        last = b""
        try:
            async with asyncio.timeout(START_DEADLINE_S):
                while line := await process.stdout.readline():
                    if line.startswith(PORT_LINE) and line[len(PORT_LINE) :].strip().isdigit():
                        return int(line[len(PORT_LINE) :]), ""
                    last = line.strip() or last
        except TimeoutError:
            pass
        return None, last.decode(errors="replace")


async def drain(process: asyncio.subprocess.Process) -> None:
    """Read what the process still prints, so that a full pipe never blocks it."""
    assert process.stdout is not None
    while await process.stdout.read(4096):
        pass
