"""The egress policy and its proxy: which addresses are denied, the allow-list, and the proxy on real sockets."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import async_playwright

from rebrowse.browser.egress import (
    DENIED_HEADER,
    EgressDenied,
    EgressPolicy,
    EgressProxy,
    denial_reason,
    interface_addresses,
)
from rebrowse.browser.launch import launch_chromium
from rebrowse.settings import ServerSettings, browser_egress_from_env
from rebrowse.ssrf import AllowList
from tests.egress_sites import SECRET, Site, running_site
from tests.waiting import eventually

NONE: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback address"),
        ("127.8.9.10", "loopback address"),
        ("::1", "loopback address"),
        ("::ffff:127.0.0.1", "loopback address"),
        ("169.254.169.254", "link-local address"),  # the cloud metadata service
        ("::ffff:169.254.169.254", "link-local address"),
        ("fe80::1", "link-local address"),
        ("0.0.0.0", "unspecified address"),
        ("0.1.2.3", "unspecified address"),
        ("::", "unspecified address"),
        ("224.0.0.1", "multicast address"),
        ("ff02::1", "multicast address"),
    ],
)
def test_internal_addresses_are_denied_by_default(address: str, reason: str) -> None:
    assert denial_reason(ipaddress.ip_address(address), deny_private=False, own=NONE) == reason


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fc00::1"])
def test_private_ranges_are_denied_only_when_asked(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert denial_reason(ip, deny_private=False, own=NONE) is None
    assert denial_reason(ip, deny_private=True, own=NONE) == "private address"


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert denial_reason(ipaddress.ip_address(address), deny_private=True, own=NONE) is None


def test_this_machines_own_addresses_are_denied() -> None:
    own = interface_addresses()
    assert ipaddress.ip_address("127.0.0.1") in own
    public_looking = ipaddress.ip_address("93.184.216.34")
    assert denial_reason(public_looking, deny_private=False, own=frozenset({public_looking})) == (
        "an address of this machine"
    )
    for address in own:  # whatever else this machine has (its LAN address...) is denied too
        assert denial_reason(address, deny_private=False, own=own) is not None


def test_allow_list_entries_host_port_and_networks() -> None:
    allow = AllowList.parse(["127.0.0.1:8080", "[::1]:9000", "10.0.0.0/8", "Metadata.Internal."])
    loopback, v6 = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")
    assert allow.permits("127.0.0.1", loopback, 8080)
    assert not allow.permits("127.0.0.1", loopback, 8081)
    assert not allow.permits("127.0.0.1", loopback)  # a port-bound entry needs the port
    assert allow.permits("::1", v6, 9000) and not allow.permits("::1", v6, 9001)
    assert allow.permits("anything", ipaddress.ip_address("10.9.8.7"), 1)
    assert allow.permits("metadata.internal", ipaddress.ip_address("169.254.169.254"), 80)


@pytest.mark.parametrize("entry", ["host:notaport", "host:0", "host:70000", "[::1", ":80", "a:b:c"])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r"port|not a host"):
        AllowList.parse([entry])


def test_settings_name_the_variable_of_a_bad_entry() -> None:
    with pytest.raises(ValueError, match=r"REBROWSE_BROWSER_ALLOW_HOSTS.*notaport"):
        ServerSettings.from_env({"REBROWSE_BROWSER_ALLOW_HOSTS": "ok.example, host:notaport"})
    with pytest.raises(ValueError, match="REBROWSE_CALLBACK_ALLOW_HOSTS"):
        ServerSettings.from_env({"REBROWSE_CALLBACK_ALLOW_HOSTS": "host:x"})
    with pytest.raises(ValueError, match="REBROWSE_BROWSER_DENY_PRIVATE"):
        ServerSettings.from_env({"REBROWSE_BROWSER_DENY_PRIVATE": "maybe"})
    settings = ServerSettings.from_env(
        {"REBROWSE_BROWSER_ALLOW_HOSTS": "127.0.0.1:8080, 10.0.0.0/8", "REBROWSE_BROWSER_DENY_PRIVATE": "1"}
    )
    assert settings.browser_allow_hosts == ("127.0.0.1:8080", "10.0.0.0/8")
    assert settings.browser_deny_private
    assert ServerSettings.from_env({}).browser_allow_hosts == ()
    assert browser_egress_from_env({"REBROWSE_BROWSER_DENY_PRIVATE": "yes"}) == ((), True)


async def test_a_name_that_resolves_to_loopback_is_denied() -> None:
    with pytest.raises(EgressDenied, match=r"localhost:8000 \(loopback address\).*REBROWSE_BROWSER_ALLOW_HOSTS"):
        await EgressPolicy().address("localhost", 8000)
    # Allowed by name and port, not by the address it resolves to.
    allowed = EgressPolicy(AllowList.parse(["localhost:8000"]))
    assert (await allowed.address("localhost", 8000)).is_loopback
    with pytest.raises(EgressDenied):
        await allowed.address("localhost", 8001)


@pytest.fixture
async def internal() -> AsyncIterator[Site]:
    with running_site() as site:
        yield site


async def started(policy: EgressPolicy) -> EgressProxy:
    proxy = EgressProxy(policy)
    await proxy.start()
    return proxy


async def test_proxy_refuses_plain_http_to_an_internal_server_and_records_it(internal: Site) -> None:
    proxy = await started(EgressPolicy())
    try:
        async with httpx.AsyncClient(proxy=proxy.proxy_url) as client:
            # By name: the proxy resolves it, and checks the address it would connect to.
            answer = await client.get(f"http://localhost:{internal.server_address[1]}/metrics")
        assert answer.status_code == 403
        assert answer.headers[DENIED_HEADER] == "denied"
        assert "loopback address" in answer.text and SECRET not in answer.text
        assert internal.requests == []
        [denial] = proxy.take_denials()
        assert denial.target == f"http://localhost:{internal.server_address[1]}/metrics"
        assert denial.reason == "loopback address"
        assert proxy.take_denials() == []
    finally:
        await proxy.close()


async def test_proxy_refuses_a_tunnel_to_an_internal_server(internal: Site) -> None:
    proxy = await started(EgressPolicy())
    port = int(proxy.proxy_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"CONNECT {internal.host_port} HTTP/1.1\r\nHost: {internal.host_port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 403")
        assert internal.requests == []
        assert [str(d) for d in proxy.take_denials()] == [f"{internal.host_port} (loopback address)"]
    finally:
        writer.close()
        await proxy.close()


async def test_proxy_relays_what_the_allow_list_permits(internal: Site) -> None:
    proxy = await started(EgressPolicy(AllowList.parse([internal.host_port])))
    try:
        async with httpx.AsyncClient(proxy=proxy.proxy_url) as client:
            answer = await client.get(f"{internal.url}/allowed?x=1")
            posted = await client.post(f"{internal.url}/redirect?to=/x", content=b"body")
        assert answer.status_code == 200 and answer.text == SECRET
        assert answer.headers["connection"] == "close"
        assert posted.status_code == 501  # the request (with its body) reached the server, which has no POST
        assert internal.requests == ["/allowed?x=1"]
        # A tunnel to the allowed server carries its bytes both ways.
        reader, writer = await asyncio.open_connection(*proxy.proxy_url.removeprefix("http://").split(":"))
        try:
            writer.write(f"CONNECT {internal.host_port} HTTP/1.1\r\n\r\n".encode())
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            writer.write(b"GET /tunnelled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert SECRET.encode() in await reader.read()
        finally:
            writer.close()
        assert internal.requests[-1] == "/tunnelled"
        assert proxy.take_denials() == []
    finally:
        await proxy.close()


async def test_proxy_answers_a_request_it_cannot_parse_with_400() -> None:
    proxy = await started(EgressPolicy())
    reader, writer = await asyncio.open_connection(*proxy.proxy_url.removeprefix("http://").split(":"))
    try:
        writer.write(b"GET http://[::1/x HTTP/1.1\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 400")
    finally:
        writer.close()
        await proxy.close()


# ICE gathering towards a STUN server the test listens on; it ends when every candidate has been tried.
GATHER_ICE = """async (port) => {
  const pc = new RTCPeerConnection({iceServers: [{urls: `stun:127.0.0.1:${port}`}]});
  pc.createDataChannel("probe");
  const complete = new Promise(done => pc.addEventListener("icegatheringstatechange",
      () => { if (pc.iceGatheringState === "complete") done(); }));
  await pc.setLocalDescription(await pc.createOffer());
  window.gathering = complete.then(() => pc.close());
}"""


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.received.append(data)


async def stun_attempts(proxy: str | None) -> Datagrams:
    """Datagrams a page's WebRTC sends to a STUN server on 127.0.0.1: all of them when `proxy` is given
    (gathering complete), the first one otherwise."""
    loop = asyncio.get_running_loop()
    transport, stun = await loop.create_datagram_endpoint(Datagrams, local_addr=("127.0.0.1", 0))
    try:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright, proxy=proxy)
            try:
                page = await browser.new_page()
                await page.evaluate(GATHER_ICE, transport.get_extra_info("sockname")[1])
                if proxy is None:
                    await eventually(lambda: bool(stun.received), what="a STUN request")
                else:
                    await page.evaluate("() => window.gathering")
            finally:
                await browser.close()
    finally:
        transport.close()
    return stun


async def test_webrtc_sends_no_udp_around_the_proxy() -> None:
    proxy = await started(EgressPolicy())
    try:
        assert (await stun_attempts(proxy.proxy_url)).received == []
    finally:
        await proxy.close()
    # The same page in a browser without the egress flags does send one: the check above can fail.
    assert (await stun_attempts(None)).received
