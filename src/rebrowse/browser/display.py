"""A virtual screen to run Chromium headed on, served view-only over password-protected VNC (the live view)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from rebrowse.errors import RebrowseError

START_DEADLINE_S = 15.0
STOP_DEADLINE_S = 5.0
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and x11vnc binding it
PORT_LINE = b"PORT="
PR_SET_PDEATHSIG = 1
DEFAULT_LISTEN = "127.0.0.1"


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
    """An Xvfb display with a view-only, password-protected x11vnc on it; both are stopped on exit, also when
    starting fails."""

    def __init__(
        self, width: int, height: int, *, password: Callable[[int], str], listen: str = DEFAULT_LISTEN
    ) -> None:
        """`password` gives the VNC password for the port x11vnc will listen on; `listen` the address it binds."""
        self.width = width
        self.height = height
        self.listen = listen
        self._password = password
        self.display = ""
        self.vnc_port = 0
        self._xvfb: asyncio.subprocess.Process | None = None
        self._vnc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of Xvfb and x11vnc (those started)."""
        return tuple(p.pid for p in (self._xvfb, self._vnc) if p is not None)

    @property
    def running(self) -> bool:
        """Whether Xvfb and x11vnc are both up."""
        processes = (self._xvfb, self._vnc)
        return all(p is not None and p.returncode is None for p in processes)

    async def __aenter__(self) -> LiveDisplay:
        await self.start()
        return self

    async def start(self) -> None:
        """Start Xvfb, then x11vnc on it; LiveViewUnavailable (with everything stopped) when one cannot start."""
        reason = live_view_available()
        if reason is not None:
            raise LiveViewUnavailable(f"Live view is not available: {reason}")
        try:
            await self._start_xvfb()
            await self._start_vnc()
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop x11vnc, then Xvfb."""
        for process in (self._vnc, self._xvfb):
            if process is not None:
                await stop_process(process)
        if self._drain is not None:
            await self._drain

    async def _start_xvfb(self) -> None:
        # -displayfd lets Xvfb pick a free display number and tells it once the server accepts clients.
        read_fd, write_fd = os.pipe()
        try:
            self._xvfb = await asyncio.create_subprocess_exec(
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{self.width}x{self.height}x24",
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

    async def _start_vnc(self) -> None:
        for _ in range(PORT_ATTEMPTS):
            port = free_port(self.listen)
            with password_file(self._password(port)) as path:
                self._vnc = await asyncio.create_subprocess_exec(
                    "x11vnc",
                    *("-display", self.display, "-rfbport", str(port), "-listen", self.listen, "-noipv6"),
                    # "rm:": x11vnc deletes the file once it has read the password.
                    *("-passwdfile", f"rm:{path}", "-forever", "-shared", "-viewonly", "-quiet"),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                    preexec_fn=die_with_parent,
                )
                announced = await self._announced_port(self._vnc)
            if announced is not None:
                self.vnc_port = announced
                self._drain = asyncio.create_task(drain(self._vnc))
                return
            await stop_process(self._vnc)
        raise LiveViewUnavailable("x11vnc did not start")

    @staticmethod
    async def _announced_port(process: asyncio.subprocess.Process) -> int | None:
        """The port x11vnc prints (PORT=n) once it listens; None when it exits or the deadline passes first."""
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_DEADLINE_S):
                while line := await process.stdout.readline():
                    if line.startswith(PORT_LINE) and line[len(PORT_LINE) :].strip().isdigit():
                        return int(line[len(PORT_LINE) :])
        except TimeoutError:
            pass
        return None


async def drain(process: asyncio.subprocess.Process) -> None:
    """Read what the process still prints, so that a full pipe never blocks it."""
    assert process.stdout is not None
    while await process.stdout.read(4096):
        pass
