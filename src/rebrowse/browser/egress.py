"""What a task may reach from a server worker: the egress policy, enforced by a forwarding proxy per slot.

Every connection a task's browser makes (navigations, subresources, fetch/XHR, WebSockets, downloads, its
APIRequestContext) and its own HTTP calls go through the slot's proxy. The proxy resolves the host itself, checks
every address the name resolves to, and connects to the address it checked: a name that resolves (or re-resolves,
DNS rebinding) to an internal address cannot reach it. Denied are loopback, link-local (cloud metadata),
unspecified and multicast addresses and this machine's own addresses, where the worker's own services listen (the
API, VNC servers, PostgreSQL, the proxies); with deny_private also private networks. The allow-list
(REBROWSE_BROWSER_ALLOW_HOSTS) lets some through. Each denial is recorded for the task using the slot.

A task may have its traffic chained through an upstream proxy (browser/upstream.py): the policy still decides
first, then the egress proxy opens a CONNECT tunnel through the upstream proxy to the very address it checked (so
a name cannot be re-resolved by the upstream proxy to somewhere else) and speaks to the destination inside it, for
https and plain http alike; destinations on the bypass list are connected to directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from rebrowse.browser.upstream import UpstreamProxy
from rebrowse.errors import RebrowseError
from rebrowse.ssrf import AllowList, IPAddress, is_internal, resolve

logger = logging.getLogger(__name__)

ALLOW_SETTING = "REBROWSE_BROWSER_ALLOW_HOSTS"
DENIED_HEADER = "x-rebrowse-egress"  # "denied" on the proxy's answer to a plain-HTTP request it refused
REASON_HEADER = "x-rebrowse-egress-reason"
TARGET_HEADER = "x-rebrowse-egress-target"
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te")
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.x.y.z to this machine
SIOCGIFADDR = 0x8915
MAX_DENIALS = 1000  # kept between two takes; a page hammering an internal address must not grow it without end


class EgressDenied(RebrowseError):
    """A task tried to reach a destination the egress policy denies."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"the egress policy denies {target} ({reason}); {ALLOW_SETTING} can allow it")
        self.target = target
        self.reason = reason


@dataclass(frozen=True)
class Denial:
    """One connection the proxy refused: the URL (plain HTTP) or host:port (a tunnel), why, and when."""

    target: str
    reason: str
    at: float = field(default_factory=time.time)

    def __str__(self) -> str:
        return f"{self.target} ({self.reason})"


def denial_reason(address: IPAddress, *, deny_private: bool, own: frozenset[IPAddress]) -> str | None:
    """Why the policy denies connecting to `address`; None when it does not."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return denial_reason(address.ipv4_mapped, deny_private=deny_private, own=own)
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_unspecified or address in THIS_NETWORK:
        return "unspecified address"
    if address.is_multicast:
        return "multicast address"
    if address in own:
        return "an address of this machine"
    if deny_private and is_internal(address):
        return "private address"
    return None


def interface_addresses() -> frozenset[IPAddress]:
    """The addresses of this machine's interfaces (IPv4 by ioctl, IPv6 from /proc) and of its host name."""
    found: set[IPAddress] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                packed = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
                found.add(ipaddress.IPv4Address(packed[20:24]))
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            found.add(ipaddress.IPv6Address(int(line.split()[0], 16)))
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
    return frozenset(found)


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations tasks may reach."""

    allow: AllowList = field(default_factory=AllowList)
    deny_private: bool = False
    own: frozenset[IPAddress] = frozenset()  # this machine's addresses

    @classmethod
    def from_settings(cls, allow_hosts: Iterable[str], deny_private: bool) -> EgressPolicy:
        """The policy of REBROWSE_BROWSER_ALLOW_HOSTS and REBROWSE_BROWSER_DENY_PRIVATE, on this machine."""
        return cls(AllowList.parse(allow_hosts), deny_private, interface_addresses())

    def reason(self, host: str, port: int, address: IPAddress) -> str | None:
        """Why `host`:`port`, resolved to `address`, is denied; None when it may be reached."""
        if self.allow.permits(host, address, port):
            return None
        return denial_reason(address, deny_private=self.deny_private, own=self.own)

    async def address(self, host: str, port: int) -> IPAddress:
        """The address to connect to for host:port, after checking every address it resolves to.

        EgressDenied when one is denied; socket.gaierror when the name does not resolve.
        """
        addresses = await resolve(host, port)
        for address in addresses:
            reason = self.reason(host, port, address)
            if reason is not None:
                raise EgressDenied(host_port(host, port), reason)
        return addresses[0]

    async def check_url(self, url: str) -> None:
        """Refuse an http(s)/ws(s) URL whose host is denied (a name that does not resolve passes: its request
        fails by itself). Other URLs (data:, about:blank) reach nothing."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return
        port = parts.port or DEFAULT_PORTS[scheme]
        with contextlib.suppress(socket.gaierror):
            await self.address(parts.hostname, port)


DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class Head:
    """The start line and headers of an HTTP message."""

    start: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name), None)

    def encode(self) -> bytes:
        lines = [self.start, *(f"{key}: {value}" for key, value in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """The next message head; None when the peer closed first or sent something that is not one."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")[:-2]
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers.append((name.strip(), value.strip()))
    return Head(lines[0], headers)


def forwarded(head: Head, start: str) -> Head:
    """A head to pass on: proxy and hop-by-hop headers dropped, the connection closed after the message (or kept
    for a protocol upgrade such as a WebSocket)."""
    upgrade = head.get("upgrade") is not None and "upgrade" in (head.get("connection") or "").lower()
    headers = [(k, v) for k, v in head.headers if k.lower() not in HOP_BY_HOP and not k.lower().startswith("proxy-")]
    headers.append(("Connection", "Upgrade" if upgrade else "close"))
    return Head(start, headers)


def refusal_in(headers: Mapping[str, str]) -> EgressDenied | None:
    """The denial the headers of the proxy's answer to a plain-HTTP request carry; None for any other answer."""
    if headers.get(DENIED_HEADER) != "denied":
        return None
    return EgressDenied(headers.get(TARGET_HEADER, "the destination"), headers.get(REASON_HEADER, "denied"))


def refusal(denied: EgressDenied, *, tunnel: bool) -> bytes:
    """The proxy's 403 answer to a denied request: a short text and headers the engine recognises."""
    body = b"" if tunnel else f"{denied}\n".encode()
    head = Head(
        "HTTP/1.1 403 Forbidden",
        [
            (DENIED_HEADER, "denied"),
            (REASON_HEADER, denied.reason),
            (TARGET_HEADER, denied.target),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return head.encode() + body


BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until the reader's end, then half-close the writer."""
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def relay(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]] | None = None,
) -> None:
    """Relay both ways until the upstream side has said everything; `answer` passes on the head of the upstream
    side's answer first (False: nothing more to relay)."""
    sending = asyncio.create_task(pump(client[0], upstream[1]))
    try:
        if answer is None or await answer(upstream[0], client[1]):
            await pump(upstream[0], client[1])
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending


class EgressProxy:
    """A forwarding HTTP proxy on 127.0.0.1 that enforces the policy: CONNECT tunnels (https, wss) and
    absolute-URI requests (http, ws). It records the denials for the task currently using it."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._denials: list[Denial] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # The upstream proxy of the task using the slot (its use_proxy); None: destinations are reached directly.
        self.upstream: UpstreamProxy | None = None

    @property
    def proxy_url(self) -> str:
        assert self._server is not None, "the proxy is not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()

    async def check(self, url: str) -> None:
        """EgressDenied when `url`'s host is denied (a quick check before an action; the proxy enforces)."""
        await self.policy.check_url(url)

    def take_denials(self) -> list[Denial]:
        """The denials since the last take, oldest first."""
        taken, self._denials = self._denials, []
        return taken

    @property
    def last_denial(self) -> Denial | None:
        return self._denials[-1] if self._denials else None

    def _record(self, target: str, reason: str) -> None:
        if len(self._denials) >= MAX_DENIALS:
            del self._denials[0]
        self._denials.append(Denial(target, reason))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await read_head(reader)
            if head is not None:
                await self._dispatch(head, reader, writer)
        except ValueError:  # a target urllib cannot parse ("http://[::1/")
            writer.write(BAD_REQUEST)
        except (ConnectionError, OSError) as exc:
            logger.debug("egress proxy: connection ended: %s", exc)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _dispatch(self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = head.start.split(" ")
        if len(parts) != 3:
            writer.write(BAD_REQUEST)
            return
        method, target, version = parts
        if method.upper() == "CONNECT":
            await self._tunnel(target, reader, writer)
        else:
            await self._forward(head, method, target, version, reader, writer)

    async def _open(
        self, host: str, port: int, shown: str, writer: asyncio.StreamWriter, *, tunnel: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the checked address of host:port; None after answering the client why not."""
        try:
            address = await self.policy.address(host, port)
        except EgressDenied as denied:
            self._record(shown, denied.reason)
            writer.write(refusal(denied, tunnel=tunnel))
            return None
        except (socket.gaierror, UnicodeError):
            writer.write(BAD_GATEWAY)
            return None
        upstream = self.upstream
        try:
            if upstream is not None and not upstream.bypassed(host, address):
                return await through_upstream(upstream, address, port)
            return await asyncio.open_connection(str(address), port, limit=MAX_HEAD)
        except (OSError, UpstreamRefused) as exc:
            logger.debug("egress proxy: could not reach %s: %s", shown, exc)
            writer.write(BAD_GATEWAY)
            return None

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = urlsplit(f"//{target}")
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            host = port = None
        if not host or not port:
            writer.write(BAD_REQUEST)
            return
        upstream = await self._open(host, port, host_port(host, port), writer, tunnel=True)
        if upstream is None:
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        try:
            await relay((reader, writer), upstream)
        finally:
            upstream[1].close()

    async def _forward(
        self,
        head: Head,
        method: str,
        target: str,
        version: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        parts = urlsplit(target)
        try:
            host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            host, port = None, 0
        if parts.scheme.lower() not in ("http", "ws") or not host or not port:
            writer.write(BAD_REQUEST)
            return
        upstream = await self._open(host, port, target, writer, tunnel=False)
        if upstream is None:
            return
        try:
            path = parts.path or "/"
            query = f"?{parts.query}" if parts.query else ""
            upstream[1].write(forwarded(head, f"{method} {path}{query} {version}").encode())
            await relay((reader, writer), upstream, pass_answer)
        finally:
            upstream[1].close()


class UpstreamRefused(RebrowseError):
    """The upstream proxy did not open the tunnel (its status line says why; never its credentials)."""


async def through_upstream(
    upstream: UpstreamProxy, address: IPAddress, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A tunnel to address:port through the upstream proxy, authenticated when it has credentials."""
    reader, writer = await asyncio.open_connection(upstream.host, upstream.port, limit=MAX_HEAD)
    target = host_port(str(address), port)
    headers = [("Host", target)]
    if upstream.authorization is not None:
        headers.append(("Proxy-Authorization", upstream.authorization))
    try:
        writer.write(Head(f"CONNECT {target} HTTP/1.1", headers).encode())
        answer = await read_head(reader)
    except BaseException:
        writer.close()
        raise
    status = answer.start.split(" ", 2)[1:2] if answer is not None else []
    if status != ["200"]:
        writer.close()
        said = answer.start if answer is not None else "no answer"
        raise UpstreamRefused(f"the upstream proxy {upstream.host}:{upstream.port} refused the tunnel: {said}")
    return reader, writer


async def pass_answer(upstream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Pass on the head of an answer, saying the connection closes after it (so the client never sends another
    request on it), unless the protocol is being switched; False when there was no answer."""
    head = await read_head(upstream)
    if head is None:
        writer.write(BAD_GATEWAY)
        return False
    switching = head.start.split(" ")[1:2] == ["101"]
    writer.write(head.encode() if switching else forwarded(head, head.start).encode())
    return True


@contextlib.asynccontextmanager
async def running_proxies(policy: EgressPolicy | None, count: int) -> AsyncIterator[list[EgressProxy]]:
    """`count` proxies of the policy, listening until the block ends; none without a policy."""
    proxies = [EgressProxy(policy) for _ in range(count)] if policy is not None else []
    try:
        for proxy in proxies:
            await proxy.start()
        yield proxies
    finally:
        await asyncio.gather(*(proxy.close() for proxy in proxies))
