"""GET /metrics on the real API app and the embedded PostgreSQL: who may scrape, and what the figures say."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from rebrowse import lifecycle
from rebrowse.api.app import create_app
from rebrowse.browser.display import LiveDisplay, live_view_available
from rebrowse.demo.site import SiteServer
from rebrowse.live import rfb, tokens
from rebrowse.live.vnc_auth import vnc_password
from rebrowse.observability.metrics import BROWSER_RESTARTS
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts, callbacks, tasks, worker_slots
from rebrowse.store.database import Connection, Database
from rebrowse.store.metrics import add_to_counter
from rebrowse.store.sealing import Sealer
from rebrowse.store.tasks import NewTask
from rebrowse.store.worker_slots import VncAddress
from tests.serving import serve_app
from tests.waiting import eventually
from tests.worker.conftest import Tenant, Workers, automation_json

BASE_URL = "http://rebrowse.test"
TOKEN = "metrics-token-for-tests"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def build_app(
    database_url: str, data_dir: Path, db: Database, queue: procrastinate.App, sealer: Sealer, **kw: Any
) -> FastAPI:
    settings = ServerSettings(database_url=database_url, data_dir=data_dir, public_url=BASE_URL, **kw)
    return create_app(settings, db, queue, sealer)


@pytest.fixture
def open_app(database_url: str, tmp_path: Path, db: Database, queue: procrastinate.App, sealer: Sealer) -> FastAPI:
    """The API without a metrics token: /metrics answers loopback clients only."""
    return build_app(database_url, tmp_path, db, queue, sealer)


@pytest.fixture
def token_app(database_url: str, tmp_path: Path, db: Database, queue: procrastinate.App, sealer: Sealer) -> FastAPI:
    return build_app(database_url, tmp_path, db, queue, sealer, metrics_token=TOKEN)


async def get_metrics(app: FastAPI, client_host: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return await client.get("/metrics", headers=headers)


def samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The one sample of that name with exactly these labels."""
    found = [s.value for s in samples(text) if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, found)
    return found[0]


async def add_task(conn: Connection, account_id: uuid.UUID, endpoint: str, **columns: Any) -> uuid.UUID:
    """A stored task, then given the status, timestamps and retry count of the case at hand."""
    new = NewTask(account_id, endpoint, 1, {}, None, [], None, 1.0, None, None)
    task = await tasks.create_task(conn, new)
    if not columns:
        return task.id
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    await conn.execute(f"UPDATE tasks SET {assignments} WHERE id = %(id)s", {**columns, "id": task.id})
    return task.id


def at(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


async def seed(db: Database, sealer: Sealer) -> None:
    """Tasks in every state, callback attempts of each outcome, and a worker's browser restarts."""
    async with db.transaction() as conn:
        account = (await accounts.create_account(conn, sealer, "acme")).id
        for _ in range(3):
            await add_task(conn, account, "login")  # queued
        await add_task(conn, account, "login", status="allocated", created_at=at(0), allocated_at=at(1))
        await add_task(conn, account, "search", status="running", created_at=at(0), started_at=at(0.3))
        done = await add_task(
            conn, account, "login", status="success", created_at=at(0), started_at=at(2), completed_at=at(6)
        )
        # On the bounds: 0.05 s of wait and 60 s of run count in the buckets of those bounds (le).
        await add_task(
            conn,
            account,
            "login",
            status="failed",
            created_at=at(0),
            started_at=at(0.05),
            completed_at=at(60.05),
            retry_count=2,
        )
        await add_task(conn, account, "search", status="cancelled", created_at=at(0), completed_at=at(1))
        await seed_callbacks(conn, account, done)
        await add_to_counter(conn, BROWSER_RESTARTS, 2)
        await add_to_counter(conn, BROWSER_RESTARTS, 1)


async def seed_callbacks(conn: Connection, account: uuid.UUID, task_id: uuid.UUID) -> None:
    """One event delivered at its third attempt (a 500, a connection error, then 200); one given up on."""
    delivered, abandoned = uuid.uuid4(), uuid.uuid4()
    for event_id in (delivered, abandoned):
        await callbacks.insert_event(
            conn,
            event_id=event_id,
            task_id=task_id,
            account_id=account,
            url="http://127.0.0.1:9/hook",
            api_key=None,
            payload={},
            created_at=EPOCH,
        )
    for status_code, error in ((500, "HTTP 500"), (None, "connection refused"), (200, None)):
        await callbacks.record_attempt(conn, delivered, status_code=status_code, error=error, duration_ms=1.0)
    await callbacks.mark_delivered(conn, delivered)
    await callbacks.record_attempt(conn, abandoned, status_code=None, error="refused", duration_ms=0.0)
    await callbacks.mark_failed(conn, abandoned)


async def test_the_figures_match_the_tasks_callbacks_and_counters(open_app: FastAPI, db: Database, sealer: Sealer):
    await seed(db, sealer)

    response = await get_metrics(open_app, "127.0.0.1")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# HELP rebrowse_queue_depth" in text and "# TYPE rebrowse_task_wait_seconds histogram" in text
    assert value(text, "rebrowse_queue_depth", status="queued") == 3
    assert value(text, "rebrowse_queue_depth", status="allocated") == 1
    assert value(text, "rebrowse_queue_depth", status="running") == 1

    # Waits of the three started tasks: 0.05 s, 0.3 s and 2 s.
    assert value(text, "rebrowse_task_wait_seconds_count") == 3
    assert value(text, "rebrowse_task_wait_seconds_sum") == pytest.approx(2.35)
    assert value(text, "rebrowse_task_wait_seconds_bucket", le="0.05") == 1
    assert value(text, "rebrowse_task_wait_seconds_bucket", le="0.25") == 1
    assert value(text, "rebrowse_task_wait_seconds_bucket", le="0.5") == 2
    assert value(text, "rebrowse_task_wait_seconds_bucket", le="2.5") == 3
    assert value(text, "rebrowse_task_wait_seconds_bucket", le="+Inf") == 3

    ok = {"endpoint": "login", "status": "success"}
    assert value(text, "rebrowse_task_run_seconds_count", **ok) == 1
    assert value(text, "rebrowse_task_run_seconds_sum", **ok) == pytest.approx(4.0)
    assert value(text, "rebrowse_task_run_seconds_bucket", le="2.5", **ok) == 0
    assert value(text, "rebrowse_task_run_seconds_bucket", le="5.0", **ok) == 1
    failed = {"endpoint": "login", "status": "failed"}
    assert value(text, "rebrowse_task_run_seconds_bucket", le="30.0", **failed) == 0
    assert value(text, "rebrowse_task_run_seconds_bucket", le="60.0", **failed) == 1
    # Neither the running task nor the one cancelled before it started has a run time.
    run_labels = {tuple(sorted(s.labels.items())) for s in samples(text) if s.name == "rebrowse_task_run_seconds_count"}
    assert run_labels == {tuple(sorted(ok.items())), tuple(sorted(failed.items()))}

    # Attempts of the finished tasks that started: 1 and 3.
    assert value(text, "rebrowse_task_attempts_count") == 2
    assert value(text, "rebrowse_task_attempts_sum") == 4
    assert value(text, "rebrowse_task_attempts_bucket", le="1.0") == 1
    assert value(text, "rebrowse_task_attempts_bucket", le="3.0") == 2

    assert value(text, "rebrowse_browser_restarts_total") == 3
    assert value(text, "rebrowse_callback_deliveries_total", outcome="delivered") == 1
    assert value(text, "rebrowse_callback_deliveries_total", outcome="failed_attempt") == 3
    assert value(text, "rebrowse_callback_deliveries_total", outcome="gave_up") == 1
    assert value(text, "rebrowse_live_view_open_connections") == 0
    assert value(text, "rebrowse_live_view_connections_total") == 0


async def test_an_empty_database_gives_zeroes(open_app: FastAPI):
    response = await get_metrics(open_app, "::1")

    assert response.status_code == 200, response.text
    assert value(response.text, "rebrowse_queue_depth", status="queued") == 0
    assert value(response.text, "rebrowse_task_wait_seconds_count") == 0
    assert value(response.text, "rebrowse_browser_restarts_total") == 0
    assert not [s for s in samples(response.text) if s.name.startswith("rebrowse_llm_")]


async def test_llm_calls_and_tokens_of_finished_tasks_are_counted_per_endpoint(
    open_app: FastAPI, db: Database, sealer: Sealer
):
    usages = [
        ("extract", {"calls": 2, "failed_calls": 0, "input_tokens": 700, "output_tokens": 40, "requests": 2}),
        ("extract", {"calls": 1, "failed_calls": 1, "input_tokens": 300, "output_tokens": 0, "requests": 3}),
        ("login", None),  # a run that asked no model
    ]
    async with db.transaction() as conn:
        account = (await accounts.create_account(conn, sealer, "acme")).id
        started = [(await add_task(conn, account, endpoint), usage) for endpoint, usage in usages]
        running = await add_task(conn, account, "search")
        assert await tasks.mark_allocated(conn, running, "w1") is not None
    for task_id, usage in started:
        outcome = tasks.Outcome("success") if usage is None else tasks.Outcome("success", llm_usage=usage)
        assert await lifecycle.complete_task(db, sealer, task_id, outcome, public_url=BASE_URL) is not None

    text = (await get_metrics(open_app, "127.0.0.1")).text

    assert value(text, "rebrowse_llm_calls_total", endpoint="extract") == 3
    assert value(text, "rebrowse_llm_failed_calls_total", endpoint="extract") == 1
    assert value(text, "rebrowse_llm_input_tokens_total", endpoint="extract") == 1000
    assert value(text, "rebrowse_llm_output_tokens_total", endpoint="extract") == 40
    # Only endpoints whose tasks asked a model have series: the others would only add zeros.
    llm_labels = {s.labels["endpoint"] for s in samples(text) if s.name.startswith("rebrowse_llm_")}
    assert llm_labels == {"extract"}


async def test_without_a_token_only_loopback_clients_may_scrape(open_app: FastAPI):
    assert (await get_metrics(open_app, "127.0.0.1")).status_code == 200
    assert (await get_metrics(open_app, "::ffff:127.0.0.1")).status_code == 200
    refused = await get_metrics(open_app, "10.1.2.3")
    assert refused.status_code == 403
    assert "rebrowse_" not in refused.text
    assert (await get_metrics(open_app, "192.168.0.7", {"authorization": f"Bearer {TOKEN}"})).status_code == 403


async def test_with_a_token_it_is_required_from_everywhere(token_app: FastAPI):
    good = {"authorization": f"Bearer {TOKEN}"}
    assert (await get_metrics(token_app, "10.1.2.3", good)).status_code == 200
    assert (await get_metrics(token_app, "127.0.0.1")).status_code == 401
    assert (await get_metrics(token_app, "10.1.2.3", {"authorization": "Bearer wrong"})).status_code == 401
    assert (await get_metrics(token_app, "10.1.2.3", {"authorization": TOKEN})).status_code == 401
    assert (await get_metrics(token_app, "10.1.2.3", {"x-api-key": TOKEN})).status_code == 401


async def test_metrics_are_not_in_the_openapi_document(open_app: FastAPI):
    transport = httpx.ASGITransport(app=open_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        document = (await client.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]


async def test_browser_restarts_in_a_worker_reach_the_metrics(
    open_app: FastAPI, tenant: Tenant, workers: Workers, site: SiteServer
):
    # Any Chromium is over a 1 MB limit, so the slot restarts its browser after every task.
    await workers.start("w1", max_browser_memory_mb=1)
    await tenant.put("detail", automation_json(site))
    for _ in range(2):
        task = await tenant.submit("detail")
        assert (await tenant.wait_terminal(task.id)).status == "success"

    async def restarts() -> float:
        response = await get_metrics(open_app, "127.0.0.1")
        return value(response.text, "rebrowse_browser_restarts_total")

    async def both_counted() -> bool:
        return await restarts() == 2

    await eventually(both_counted, timeout_s=30, what="two browser restarts in /metrics")


@pytest.fixture
async def served(open_app: FastAPI) -> AsyncIterator[str]:
    async with serve_app(open_app) as base:
        yield base


live_view = pytest.mark.skipif(live_view_available() is not None, reason="Xvfb or x11vnc is not installed")


@live_view
async def test_live_view_bridges_are_counted_while_open(open_app: FastAPI, served: str, db: Database, sealer: Sealer):
    async def live_view() -> tuple[float, float]:
        text = (await get_metrics(open_app, "127.0.0.1")).text
        return value(text, "rebrowse_live_view_open_connections"), value(text, "rebrowse_live_view_connections_total")

    def password(port: int) -> str:
        return vnc_password(sealer, VncAddress("127.0.0.1", port))

    async with LiveDisplay(640, 480, password=password) as display:
        async with db.transaction() as conn:
            account = (await accounts.create_account(conn, sealer, "acme")).id
            key, _ = await accounts.create_key(conn, account, "viewer")
            task_id = await add_task(conn, account, "login")
            assert await tasks.mark_allocated(conn, task_id, "w1") is not None
            await tasks.mark_running(conn, task_id, 0)
            await worker_slots.publish(conn, "w1", 0, task_id, VncAddress("127.0.0.1", display.vnc_ports[0]))
        url = f"{served}/api/v1/tasks/{task_id}/websockify?token={tokens.issue(sealer, task_id, account, key.id)}"

        async with connect(url, subprotocols=[Subprotocol("binary")]) as viewer:
            framebuffer = await rfb.handshake(rfb.WebSocketStream(viewer))  # the bridge is up
            assert (framebuffer.width, framebuffer.height) == (640, 480)
            assert await live_view() == (1, 1)

        async def closed() -> bool:
            return await live_view() == (0, 1)

        await eventually(closed, what="the bridge to close")
