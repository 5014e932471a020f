"""Callbacks must not reach the deployment's own network: every resolved address is checked before connecting.

The address policy (AllowList, is_internal) is shared with the browser's egress, the upstream proxy and the
settings that parse allow-lists, so it sits in a bottom layer of its own rather than inside callbacks/.

The check happens in the HTTP transport, right before the connection is made, and the connection goes to the
address that was checked: a DNS answer that changes between the check and the connection (DNS rebinding)
cannot redirect a callback to an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from rebrowse.errors import RebrowseError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")


class DestinationRefused(RebrowseError):
    """The callback URL points to an address that callbacks may not reach."""


@dataclass(frozen=True)
class AllowList:
    """Hosts, host:port pairs and networks that may be reached although they are internal
    (REBROWSE_CALLBACK_ALLOW_HOSTS, REBROWSE_BROWSER_ALLOW_HOSTS)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    host_ports: frozenset[tuple[str, int]] = frozenset()  # a host (name or address) on one port only

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """An allow-list from entries that are host names, addresses, CIDR networks or host:port
        (`[v6]:port` for an IPv6 address); ValueError for an entry whose port is not a port."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        host_ports: set[tuple[str, int]] = set()
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            host, port = split_host_port(entry)
            if port is None:
                hosts.add(normal_host(host))
            else:
                host_ports.add((normal_host(host), port))
        return cls(frozenset(hosts), tuple(networks), frozenset(host_ports))

    def permits(self, host: str, address: IPAddress, port: int | None = None) -> bool:
        """Whether `host` (as the URL names it), resolved to `address`, may be reached (on `port`, when known)."""
        name = normal_host(host)
        if name in self.hosts or any(address in network for network in self.networks):
            return True
        return port is not None and ((name, port) in self.host_ports or (str(address), port) in self.host_ports)


def normal_host(host: str) -> str:
    """A host as compared: lower case, without a trailing dot or IPv6 brackets."""
    return host.lower().rstrip(".").removeprefix("[").removesuffix("]")


def split_host_port(entry: str) -> tuple[str, int | None]:
    """`host` or `host:port` (`[v6]:port`) as host and port; ValueError when the port is not a port number."""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r} is not a host, host:port or network")
        return host, port_number(entry, rest[1:]) if rest else None
    host, colon, port = entry.rpartition(":")
    if not colon:
        return entry, None
    if not host or ":" in host:
        raise ValueError(f"{entry!r} is not a host, host:port or network")
    return host, port_number(entry, port)


def port_number(entry: str, text: str) -> int:
    if not (text.isdigit() and 0 < int(text) < 65536):
        raise ValueError(f"{entry!r}: {text!r} is not a port number (1-65535)")
    return int(text)


def is_internal(address: IPAddress) -> bool:
    """Whether the address belongs to a private, loopback, link-local, reserved, multicast or unspecified range."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_internal(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global  # e.g. the carrier-grade NAT range 100.64.0.0/10
    )


def check_url(url: httpx.URL) -> None:
    """Refuse URLs that are not http(s) with a host (no DNS lookup: suitable when a task is submitted)."""
    if url.scheme not in SCHEMES:
        raise DestinationRefused(f"callback URL scheme must be http or https, not {url.scheme or 'empty'!r}")
    if not url.host:
        raise DestinationRefused("callback URL has no host")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to (the literal itself for an IP address)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # The scope of an IPv6 link-local address ("fe80::1%eth0") is dropped: it is refused anyway.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


async def checked_address(url: httpx.URL, allow: AllowList) -> IPAddress:
    """The address to connect to for this URL, after checking every address its host resolves to."""
    check_url(url)
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(url.host, port)
    if any(is_internal(a) and not allow.permits(url.host, a, port) for a in addresses):
        # The address itself is not named: errors are shown to users, who must not map the internal network.
        raise DestinationRefused(
            f"callback host {url.host!r} resolves to an internal address, which callbacks may not reach"
            " (REBROWSE_CALLBACK_ALLOW_HOSTS can allow it)"
        )
    return addresses[0]


class PinnedTransport(httpx.AsyncBaseTransport):
    """Sends each request to the checked address of its host, keeping the Host header and the TLS server name."""

    def __init__(self, allow: AllowList, *, verify: ssl.SSLContext | bool = True) -> None:
        self._allow = allow
        # No kept-alive connections: the pool is keyed by address, and a TLS connection made for one host name
        # must never carry a request for another name served from the same address.
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            address = await checked_address(request.url, self._allow)
        except socket.gaierror as exc:
            # A name that does not resolve may resolve later: a connection error, not a refusal.
            raise httpx.ConnectError(
                f"{request.url.host!r} does not resolve: {exc.strerror}", request=request
            ) from None
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(address)),
            headers=request.headers,  # keeps the Host header of the original URL
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()
