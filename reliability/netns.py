"""A small private network of Linux network namespaces, one per "host", for the multi-host scenario.

A "switch" namespace holds a bridge with the suite's own address (the host the suite and the fixture site live
on); every other host is a namespace joined to that bridge by a veth pair whose ends are both inside namespaces.
Addresses come from 198.18.0.0/15 (reserved for testing, RFC 2544) and exist nowhere else: the root namespace
gains no address, link or route. Everything is removed at the end by name, also when the scenario fails.
Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), as `ip netns` does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from reliability.harness import ScenarioFailed

CLONE_NEWNET = 0x40000000
PREFIX_LENGTH = 24
SUBNET = "198.18.0"
IP_DEADLINE_S = 30.0


def ip(*args: str) -> None:
    """Run one `ip` command; ScenarioFailed with its message when it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_DEADLINE_S, check=False)
    if done.returncode != 0:
        raise ScenarioFailed(f"ip {' '.join(args)}: {done.stderr.strip()}")


def netns_available() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "the multi-host scenario needs root (it makes network namespaces)"
    try:
        subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=IP_DEADLINE_S, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`ip netns` does not work here: {exc}"
    return None


@dataclass(frozen=True)
class Host:
    """One namespace on the network: its name, its address and the switch-side end of its link."""

    name: str
    namespace: str
    address: str
    link: str  # the veth end on the bridge, in the switch namespace

    def command(self, *args: str) -> list[str]:
        """`args` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *args]


@dataclass
class Network:
    """The switch and the hosts made so far; `remove` deletes them all."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    hosts: dict[str, Host] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"rb{self.tag}-switch"

    @property
    def bridge(self) -> str:
        return f"rb{self.tag}br"  # interface names have at most 15 characters

    @property
    def address(self) -> str:
        """The suite's own address, on the bridge."""
        return f"{SUBNET}.1"

    def create(self) -> None:
        """The switch namespace and its bridge, up, with the suite's address."""
        self._namespace(self.switch)
        ip("-n", self.switch, "link", "add", self.bridge, "type", "bridge")
        self.links.append(self.bridge)
        ip("-n", self.switch, "addr", "add", f"{self.address}/{PREFIX_LENGTH}", "dev", self.bridge)
        ip("-n", self.switch, "link", "set", self.bridge, "up")
        ip("-n", self.switch, "link", "set", "lo", "up")

    def add_host(self, name: str, number: int) -> Host:
        """A namespace with loopback and an eth0 at 198.18.0.<number>, plugged into the bridge."""
        host = Host(name, f"rb{self.tag}-{name}", f"{SUBNET}.{number}", f"rb{self.tag}{name[:4]}")
        self._namespace(host.namespace)
        ip("-n", self.switch, "link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
        self.links.append(host.link)
        ip("-n", self.switch, "link", "set", host.link, "master", self.bridge)
        ip("-n", self.switch, "link", "set", host.link, "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/{PREFIX_LENGTH}", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        ip("-n", host.namespace, "link", "set", "lo", "up")
        self.hosts[name] = host
        return host

    def cut_off(self, host: Host) -> None:
        """Unplug the host: its link on the bridge goes down (its processes live on, unreachable)."""
        ip("-n", self.switch, "link", "set", host.link, "down")

    def _namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.namespaces.append(name)

    def remove(self) -> list[str]:
        """Delete every link, then every namespace, by name; what could not be removed (not raised: cleanup goes
        on)."""
        left: list[str] = []
        for link in reversed(self.links):
            try:
                ip("-n", self.switch, "link", "del", link)
            except ScenarioFailed as exc:
                left.append(str(exc))
        for namespace in reversed(self.namespaces):
            try:
                ip("netns", "del", namespace)
            except ScenarioFailed as exc:
                left.append(str(exc))
        self.links.clear()
        self.namespaces.clear()
        return left


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise ScenarioFailed(f"setns: {os.strerror(errno)}")


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run the calling thread in `namespace` (sockets it opens belong there and keep to it), then back.

    Only the calling thread moves (setns acts on one thread); threads it starts meanwhile start there too.
    """
    with open("/proc/thread-self/ns/net", "rb") as home, open(f"/run/netns/{namespace}", "rb") as there:
        _setns(there.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())
