"""SSRF protection: internal destinations are refused unless the allow-list names them."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rebrowse.ssrf import AllowList, DestinationRefused, PinnedTransport, checked_address, is_internal
from tests.callbacks.conftest import serve_asgi

INTERNAL = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "ff02::1",
]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses(address: str) -> None:
    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not is_internal(ipaddress.ip_address(address))


async def test_loopback_is_refused_without_allow_list() -> None:
    with pytest.raises(DestinationRefused, match="internal address") as caught:
        await checked_address(httpx.URL("http://169.254.169.254/latest"), AllowList())
    assert "169.254.169.254" in str(caught.value)  # the host as written, which the user knows
    with pytest.raises(DestinationRefused):
        await checked_address(httpx.URL("http://127.0.0.1:8080/hook"), AllowList())
    with pytest.raises(DestinationRefused):
        await checked_address(httpx.URL("http://[::1]:8080/hook"), AllowList())


async def test_allow_list_admits_addresses_networks_and_names() -> None:
    allow = AllowList.parse(["127.0.0.1", " 10.0.0.0/8 ", "", "Receiver.Internal."])
    assert allow.hosts == frozenset({"receiver.internal"})
    assert await checked_address(httpx.URL("http://127.0.0.1:8080/"), allow) == ipaddress.ip_address("127.0.0.1")
    assert await checked_address(httpx.URL("https://10.20.30.40/"), allow) == ipaddress.ip_address("10.20.30.40")
    with pytest.raises(DestinationRefused):
        await checked_address(httpx.URL("http://127.0.0.2/"), allow)
    assert allow.permits("receiver.internal", ipaddress.ip_address("10.9.9.9"))


async def test_host_names_resolving_to_internal_addresses_are_refused() -> None:
    # localhost resolves through /etc/hosts: no DNS traffic leaves the machine.
    with pytest.raises(DestinationRefused, match="localhost") as caught:
        await checked_address(httpx.URL("http://localhost:8080/hook"), AllowList())
    assert "127.0.0.1" not in str(caught.value)  # users must not learn internal addresses from errors
    named = AllowList.parse(["localhost"])
    assert (await checked_address(httpx.URL("http://localhost:8080/hook"), named)).is_loopback


async def test_public_literal_is_allowed_and_other_schemes_are_refused() -> None:
    public = await checked_address(httpx.URL("https://93.184.216.34/hook"), AllowList())
    assert public == ipaddress.ip_address("93.184.216.34")
    with pytest.raises(DestinationRefused, match="scheme"):
        await checked_address(httpx.URL("ftp://93.184.216.34/hook"), AllowList())
    with pytest.raises(DestinationRefused, match="scheme"):
        await checked_address(httpx.URL("file:///etc/passwd"), AllowList())


async def echo_host(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.headers["host"])


async def test_pinned_transport_connects_to_the_checked_address_keeping_the_host() -> None:
    async with serve_asgi(Starlette(routes=[Route("/", echo_host, methods=["POST"])])) as base:
        port = httpx.URL(base).port
        allowed = PinnedTransport(AllowList.parse(["localhost"]))
        async with httpx.AsyncClient(transport=allowed) as client:
            response = await client.post(f"http://localhost:{port}/", content=b"{}")
        assert response.status_code == 200 and response.text == f"localhost:{port}"
        async with httpx.AsyncClient(transport=PinnedTransport(AllowList())) as client:
            with pytest.raises(DestinationRefused):
                await client.post(f"http://localhost:{port}/", content=b"{}")


def write_certificates(directory: Path) -> tuple[Path, Path, ssl.SSLContext]:
    """A throwaway CA and a server certificate for the name `localhost` only (no IP address in it)."""
    now = datetime.now(UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
        )
        if subject == issuer:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("test ca", ca_key, "test ca", ca_key)
    server = certificate("localhost", server_key, "test ca", ca_key)
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    trust = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return cert_file, key_file, trust


async def test_tls_is_verified_against_the_host_name_not_the_pinned_address(tmp_path: Path) -> None:
    cert_file, key_file, trust = write_certificates(tmp_path)
    app = Starlette(routes=[Route("/", echo_host, methods=["POST"])])
    async with serve_asgi(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as base:
        port = httpx.URL(base).port
        transport = PinnedTransport(AllowList.parse(["localhost", "127.0.0.1"]), verify=trust)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.post(f"https://localhost:{port}/", content=b"{}")
            assert response.status_code == 200 and response.text == f"localhost:{port}"
            # The certificate names localhost only: reaching the address by itself must fail verification.
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.post(f"https://127.0.0.1:{port}/", content=b"{}")
