"""The SDK's error tree: one root for API errors and an API it cannot reach; the signing secret as the API gives it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

import rebrowse
from rebrowse.callbacks.signing import signature_header
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.client.conftest import Api
from tests.waiting import free_port


@contextmanager
def silent_server() -> Iterator[str]:
    """A server on 127.0.0.1 that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"


def test_a_closed_port_is_an_api_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with rebrowse.Client(url, "rb_key") as client, pytest.raises(rebrowse.APIConnectionError) as caught:
        client.status("t-1")
    assert caught.value.url == f"{url}/api/v1/tasks/t-1"
    assert str(caught.value).startswith(f"cannot reach the API at {url}/api/v1/tasks/t-1: ")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert not isinstance(caught.value, rebrowse.APITimeoutError)


async def test_the_async_client_wraps_them_too() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with rebrowse.AsyncClient(url, "rb_key") as client:
        with pytest.raises(rebrowse.APIConnectionError) as caught:
            await client.submit("lookup", {"email": "ada@example.com"})
    assert caught.value.url == f"{url}/api/v1/inference"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_no_answer_in_time_is_an_api_timeout_error() -> None:
    with silent_server() as url, rebrowse.Client(url, "rb_key", timeout=0.3) as client:
        with pytest.raises(rebrowse.APITimeoutError) as caught:
            client.outputs("t-2")
    # The query (which may carry anything a caller passed to request()) is not repeated in the message.
    assert caught.value.url == f"{url}/api/v1/get_output_data" and "t-2" not in str(caught.value)
    assert isinstance(caught.value, rebrowse.APIConnectionError) and isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_the_root_catches_api_errors_and_transport_errors(api: Api) -> None:
    caught: list[rebrowse.RebrowseError] = []
    for url, key in ((api.url, api.key), (api.url, "rb_not-a-key"), (f"http://127.0.0.1:{free_port()}", api.key)):
        async with rebrowse.AsyncClient(url, key) as client:
            try:
                await client.status("00000000-0000-0000-0000-000000000000")
            except rebrowse.RebrowseError as exc:
                caught.append(exc)
    assert [type(e) for e in caught] == [
        rebrowse.NotFoundError,
        rebrowse.AuthenticationError,
        rebrowse.APIConnectionError,
    ]


def test_a_missing_key_is_a_rebrowse_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBROWSE_API_KEY", raising=False)
    with pytest.raises(rebrowse.RebrowseError, match="REBROWSE_API_KEY") as caught:
        rebrowse.Client("http://127.0.0.1:1")
    assert isinstance(caught.value, ValueError)


async def test_verify_signature_takes_the_secret_as_the_api_returns_it(api: Api, db: Database, sealer: Sealer) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers={"x-api-key": api.key}) as http:
        hex_secret = (await http.get("/api/v1/callbacks/signing_secret")).json()["signing_secret"]
    assert isinstance(hex_secret, str)
    async with db.connection() as conn:
        stored = await accounts.signing_secret(conn, sealer, api.account_id)
    body, now = b'{"task_id": "t-3", "status": "success"}', int(time.time())
    header = signature_header(stored, now, body)  # what the callback sender puts on a delivery
    assert rebrowse.verify_signature(hex_secret, body, str(now), header)
    assert rebrowse.verify_signature(bytes.fromhex(hex_secret), body, str(now), header)
    assert not rebrowse.verify_signature("00" * len(stored), body, str(now), header)
    assert not rebrowse.verify_signature(hex_secret, body + b" ", str(now), header)
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        assert await client.signing_secret() == bytes.fromhex(hex_secret)


def test_a_secret_that_is_not_hex_is_named() -> None:
    with pytest.raises(ValueError, match="secret: expected the hex string"):
        rebrowse.verify_signature("not hex", b"{}", "1700000000", "v1=00", now=1700000000)


async def test_the_async_client_times_out_with_its_own_error() -> None:
    with silent_server() as url:
        async with rebrowse.AsyncClient(url, "rb_key", timeout=0.3) as client:
            with pytest.raises(rebrowse.APITimeoutError) as caught:
                await client.cancel("t-4")
    assert caught.value.url == f"{url}/api/v1/tasks/t-4/cancel"
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
