"""The multi-host scenario's network: hosts reach each other through the switch and nothing else, a host cut off
is unreachable, the root namespace gains no address, and everything is gone after `remove`."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
from reliability.netns import Network, inside, netns_available

pytestmark = pytest.mark.skipif(netns_available() is not None, reason="network namespaces need root")
CUT_OFF_TIMEOUT_S = 3.0  # a connection to an unplugged host gets no answer; it must not hang the test


@pytest.fixture
def network() -> Iterator[Network]:
    made = Network()
    try:
        made.create()
        yield made
    finally:
        left = made.remove()
        assert left == []


def listening(namespace: str, address: str) -> socket.socket:
    with inside(namespace):
        server = socket.create_server((address, 0))
    return server


def connects(namespace: str, address: str, port: int) -> bool:
    with inside(namespace):
        try:
            socket.create_connection((address, port), timeout=CUT_OFF_TIMEOUT_S).close()
        except OSError:
            return False
    return True


def root_addresses() -> str:
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout


def test_hosts_reach_each_other_through_the_switch_only(network: Network) -> None:
    api, worker = network.add_host("api", 3), network.add_host("w", 4)
    with listening(worker.namespace, worker.address) as server:
        port = server.getsockname()[1]
        assert connects(api.namespace, worker.address, port)
        assert connects(network.switch, worker.address, port)
        assert "198.18." not in root_addresses()
        assert not connects(api.namespace, "127.0.0.1", port)  # each host has a loopback of its own

        network.cut_off(worker)
        assert not connects(api.namespace, worker.address, port)


def test_remove_deletes_every_namespace_and_link() -> None:
    network = Network()
    network.create()
    host = network.add_host("db", 2)
    names = [network.switch, host.namespace]
    assert network.remove() == []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in listed for name in names)
    assert host.link not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
