"""An upstream proxy (a provider's, or a company's) that a task's traffic is chained through, behind the egress
policy: the slot's egress proxy decides on the destination, then reaches it through the upstream proxy.

The proxy is given as a URL, `http://USER:PASSWORD@HOST:PORT`. For providers with sticky sessions, the user name
may hold `{session_id}` (e.g. `user-session-{session_id}`): every task replaces it with its own session id (the
request's proxy_session_id, else the task's id), so a provider keeps one exit address for it. The bypass list names
destinations reached without the upstream proxy (the egress policy still applies to them): a host name (and its
subdomains; a leading `*.` or `.` is allowed), an IP address or a network (CIDR).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote, urlsplit

from rebrowse.ssrf import IPAddress

SESSION_ID = "{session_id}"


class ProxyInvalid(ValueError):
    """A proxy URL or bypass entry that cannot be used; the message never repeats the URL (it holds a password)."""


@dataclass(frozen=True)
class UpstreamProxy:
    """Where the upstream proxy listens, the credentials it wants, and what bypasses it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bypass: tuple[str, ...] = ()

    @classmethod
    def parse(cls, url: str, bypass: Iterable[str] = ()) -> UpstreamProxy:
        """The proxy of `url`; ProxyInvalid saying what is wrong (never showing the URL)."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ProxyInvalid("is not a URL with a valid port") from None
        if parts.scheme.lower() != "http":
            raise ProxyInvalid("must be an http:// URL (the proxy itself is spoken to in plain HTTP)")
        if not parts.hostname:
            raise ProxyInvalid("has no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ProxyInvalid("must be http://[USER:PASSWORD@]HOST:PORT, without a path")
        entries = tuple(entry.strip() for entry in bypass if entry.strip())
        for entry in entries:
            check_bypass_entry(entry)
        return cls(
            host=parts.hostname,
            port=port or 80,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            bypass=entries,
        )

    def for_session(self, session_id: str) -> UpstreamProxy:
        """The proxy with `{session_id}` in its user name replaced by the task's session id."""
        if self.username is None or SESSION_ID not in self.username:
            return self
        return replace(self, username=self.username.replace(SESSION_ID, session_id))

    @property
    def shown(self) -> str:
        """The URL without its password, as records and the dashboard show it."""
        user = f"{quote(self.username, safe='{}')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{user}{host}:{self.port}"

    @property
    def authorization(self) -> str | None:
        """The Proxy-Authorization header's value (Basic), when the proxy has credentials."""
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return f"Basic {base64.b64encode(raw).decode()}"

    @property
    def secrets(self) -> list[str]:
        """What must never be shown: the password and the header made of it."""
        return [value for value in (self.password, self.authorization if self.password else None) if value]

    def bypassed(self, host: str, address: IPAddress) -> bool:
        """Whether `host` (resolved to `address`) is reached without the upstream proxy."""
        name = host.lower().rstrip(".")
        for entry in self.bypass:
            network = as_network(entry)
            if network is not None:
                if address in network:
                    return True
                continue
            domain = entry.lower().removeprefix("*").removeprefix(".").rstrip(".")
            if name == domain or name.endswith(f".{domain}"):
                return True
        return False


def as_network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def check_bypass_entry(entry: str) -> None:
    """ProxyInvalid unless `entry` is a host name, an address or a network."""
    if as_network(entry) is not None:
        return
    domain = entry.removeprefix("*").removeprefix(".")
    if not domain or any(not label or not label.replace("-", "").isalnum() for label in domain.rstrip(".").split(".")):
        raise ProxyInvalid(f"bypass entry {entry!r} is not a host name, an IP address or a network")
