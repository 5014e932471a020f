"""An upstream proxy for the tests (asyncio, standard library only): CONNECT tunnels for clients that give the
right password in Proxy-Authorization (Basic), 407 for the others; it records every request it got."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

PROXY_PASSWORD = "pr0xy-s3cret-pw"


@dataclass(frozen=True)
class Passage:
    """One request to the proxy: what it asked for, with which user name, and whether it was let through."""

    method: str
    target: str
    user: str | None
    allowed: bool


@dataclass
class UpstreamProxyServer:
    password: str = PROXY_PASSWORD
    passages: list[Passage] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, user: str) -> str:
        return f"http://{user}:{self.password}@{self.address}"

    def passed(self) -> list[Passage]:
        return list(self.passages)

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="upstream-proxy", daemon=True)
        self._thread.start()
        assert ready.wait(60), "the upstream proxy did not start"

    def stop(self) -> None:
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None or thread is None:
            return

        async def close() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    def user_of(self, header: str | None) -> tuple[str | None, bool]:
        """The user name in a Proxy-Authorization header, and whether its password is right."""
        if header is None or not header.startswith("Basic "):
            return None, False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password == self.password

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            user, allowed = self.user_of(headers.get("proxy-authorization"))
            self.passages.append(Passage(method, target, user, allowed and method == "CONNECT"))
            if not allowed:
                writer.write(b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\n')
                writer.write(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(host.strip("[]"), int(port))
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
    finally:
        # Also when stop() cancels the tunnel: a writer left open warns once its loop is closed, in a later test.
        writer.close()


@contextlib.contextmanager
def running_upstream_proxy() -> Iterator[UpstreamProxyServer]:
    proxy = UpstreamProxyServer()
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
