"""An upstream proxy chained behind the egress policy: the policy decides first, then the slot's proxy tunnels to
the checked address through the upstream proxy with its credentials (and the task's sticky-session id); the
bypass list goes direct; the upstream proxy's password is never shown."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser

from rebrowse.browser.egress import DENIED_HEADER, EgressPolicy, EgressProxy
from rebrowse.browser.upstream import ProxyInvalid, UpstreamProxy
from rebrowse.demo.site import SiteServer
from rebrowse.settings import ServerSettings
from rebrowse.ssrf import AllowList
from tests.egress_sites import SECRET, Site, running_site
from tests.upstream_proxy import PROXY_PASSWORD, Passage, UpstreamProxyServer, running_upstream_proxy


@pytest.fixture
def upstream() -> Iterator[UpstreamProxyServer]:
    with running_upstream_proxy() as proxy:
        yield proxy


@pytest.fixture
def internal() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.fixture
async def egress(site: SiteServer) -> AsyncIterator[EgressProxy]:
    """The slot's proxy, allowing the fixture site alone."""
    proxy = EgressProxy(EgressPolicy(AllowList.parse([site.url.removeprefix("http://")])))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def test_a_proxy_url_gives_its_parts_and_hides_its_password() -> None:
    proxy = UpstreamProxy.parse("http://user-session-{session_id}:p%40ss@proxy.example:8001", ["corp.example"])
    assert (proxy.host, proxy.port, proxy.password) == ("proxy.example", 8001, "p@ss")
    assert proxy.shown == "http://user-session-{session_id}@proxy.example:8001"
    sticky = proxy.for_session("abc123")
    assert sticky.username == "user-session-abc123"
    assert sticky.authorization == "Basic dXNlci1zZXNzaW9uLWFiYzEyMzpwQHNz"
    assert "p@ss" not in repr(sticky) and "p@ss" in sticky.secrets


@pytest.mark.parametrize(
    ("url", "bypass", "words"),
    [
        ("socks5://u:secretpw@h:1", [], "http://"),
        ("http://u:secretpw@h:1/path", [], "without a path"),
        ("http://u:secretpw@:1", [], "no host"),
        ("http://u:secretpw@h:99999", [], "valid port"),
        ("http://u:secretpw@h:1", ["not a host!"], "bypass entry"),
    ],
)
def test_bad_proxies_are_refused_without_showing_the_password(url: str, bypass: list[str], words: str) -> None:
    with pytest.raises(ProxyInvalid) as raised:
        UpstreamProxy.parse(url, bypass)
    assert words in str(raised.value) and "secretpw" not in str(raised.value)


def test_the_bypass_list_matches_names_subdomains_and_networks() -> None:
    proxy = UpstreamProxy.parse("http://h:1", ["corp.example", "*.intra.example", "10.0.0.0/8"])
    public = ipaddress.ip_address("93.184.216.34")
    assert proxy.bypassed("corp.example", public) and proxy.bypassed("a.corp.example", public)
    assert proxy.bypassed("x.intra.example", public)
    assert proxy.bypassed("anything.example", ipaddress.ip_address("10.1.2.3"))
    assert not proxy.bypassed("notcorp.example", public)


def test_settings_name_the_variable_of_a_bad_proxy() -> None:
    with pytest.raises(ValueError, match="REBROWSE_PROXY_URL: must be an http:// URL") as raised:
        ServerSettings.from_env({"REBROWSE_PROXY_URL": "ftp://u:hunter22@h:1"})
    assert "hunter22" not in str(raised.value)
    with pytest.raises(ValueError, match="REBROWSE_PROXY_BYPASS"):
        ServerSettings.from_env({"REBROWSE_PROXY_URL": "http://h:1", "REBROWSE_PROXY_BYPASS": "bad host"})
    settings = ServerSettings.from_env({"REBROWSE_PROXY_URL": "http://u:pw@h:3128", "REBROWSE_PROXY_BYPASS": "a.b"})
    assert settings.proxy is not None and settings.proxy.bypass == ("a.b",)
    assert "pw" not in repr(settings.proxy)


async def test_traffic_goes_through_the_upstream_proxy_with_credentials_and_session(
    site: SiteServer, egress: EgressProxy, upstream: UpstreamProxyServer, browser: Browser
) -> None:
    egress.upstream = UpstreamProxy.parse(upstream.url("user-session-{session_id}")).for_session("task42")
    context = await browser.new_context(proxy={"server": egress.proxy_url})
    try:
        page = await context.new_page()
        response = await page.goto(f"{site.url}/detail.html?id=3")
        assert response is not None and response.ok
        assert await page.locator("#detail-name").text_content() == "Invoice 3"
    finally:
        await context.close()
    async with httpx.AsyncClient(proxy=egress.proxy_url) as client:  # as api_call does
        answer = await client.get(f"{site.url}/api/recent")
    assert answer.status_code == 200
    passages = upstream.passed()
    site_port = site.url.rsplit(":", 1)[1]
    assert passages and all(
        p == Passage("CONNECT", f"127.0.0.1:{site_port}", "user-session-task42", True) for p in passages
    )


async def test_wrong_credentials_get_407_and_the_request_fails(
    site: SiteServer, egress: EgressProxy, upstream: UpstreamProxyServer
) -> None:
    egress.upstream = UpstreamProxy.parse(f"http://someone:wrong@{upstream.address}")
    async with httpx.AsyncClient(proxy=egress.proxy_url) as client:
        answer = await client.get(f"{site.url}/api/recent")
    assert answer.status_code == 502
    assert "wrong" not in answer.text
    assert upstream.passed() == [Passage("CONNECT", f"127.0.0.1:{site.url.rsplit(':', 1)[1]}", "someone", False)]


async def test_the_bypass_list_goes_direct(
    site: SiteServer, egress: EgressProxy, upstream: UpstreamProxyServer
) -> None:
    egress.upstream = UpstreamProxy.parse(upstream.url("u"), ["127.0.0.1"])
    async with httpx.AsyncClient(proxy=egress.proxy_url) as client:
        answer = await client.get(f"{site.url}/api/recent")
    assert answer.status_code == 200
    assert upstream.passed() == []


async def test_the_policy_still_refuses_a_forbidden_address_with_a_proxy(
    internal: Site, egress: EgressProxy, upstream: UpstreamProxyServer
) -> None:
    egress.upstream = UpstreamProxy.parse(upstream.url("u"))
    async with httpx.AsyncClient(proxy=egress.proxy_url) as client:
        answer = await client.get(f"{internal.url}/metrics")
    assert answer.status_code == 403 and answer.headers[DENIED_HEADER] == "denied"
    assert SECRET not in answer.text
    assert internal.requests == [] and upstream.passed() == []
    assert PROXY_PASSWORD not in answer.text
