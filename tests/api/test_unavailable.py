"""The database unreachable: every request is answered 503 with Retry-After, never 500."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import procrastinate
import psycopg
import pytest
from procrastinate.exceptions import ConnectorException
from psycopg_pool import PoolClosed

from rebrowse.api.app import create_app
from rebrowse.api.errors import database_down
from rebrowse.settings import ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import BASE_URL


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def unreachable() -> AsyncIterator[Database]:
    """A pool whose PostgreSQL does not answer: no connection ever opens."""
    db = Database(f"postgresql://rebrowse@127.0.0.1:{closed_port()}/rebrowse", connection_wait_s=0.5)
    await db.pool.open(wait=False)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def client(
    settings: ServerSettings, unreachable: Database, queue: procrastinate.App, sealer: Sealer
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, unreachable, queue, sealer)
    headers = {"x-api-key": "rb_0123456789abcdefghijklmnopqrstuv"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers=headers) as c:
        yield c


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/inference", {"endpoint_name": "login"}),
        ("GET", "/api/v1/tasks", None),
        ("GET", "/api/v1/automations", None),
    ],
)
async def test_requests_get_503_with_retry_after(
    client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["success"] is False
    assert "database is unavailable" in response.json()["error"]


async def test_health_reports_the_database_down(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_only_connection_failures_count_as_down() -> None:
    lost = psycopg.OperationalError("connection lost")
    wrapped = ConnectorException()
    wrapped.__cause__ = lost
    other = ConnectorException()
    other.__cause__ = psycopg.errors.UniqueViolation("duplicate")
    assert database_down(lost)
    assert database_down(wrapped)
    assert not database_down(other)
    assert not database_down(psycopg.errors.UniqueViolation("duplicate"))
    assert not database_down(PoolClosed("the pool is closed"))
