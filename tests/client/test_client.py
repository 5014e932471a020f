"""The SDK against the real API app on 127.0.0.1 (tasks are ended through the real lifecycle, as a worker does)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

import rebrowse
from rebrowse import lifecycle
from rebrowse.client import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    LlmUsage,
    NotFoundError,
    RebrowseAPIError,
    WaitTimeout,
)
from rebrowse.client._calls import as_lists, checked
from rebrowse.store import accounts, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.client.conftest import Api, new_key
from tests.waiting import eventually


async def end_task(api: Api, db: Database, sealer: Sealer, task_id: str) -> None:
    """End the task as a worker would: a download on disk, outputs, and the lifecycle's terminal transition."""
    downloads = api.settings.artifacts / task_id / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "report 1.csv").write_bytes(b"id,total\n1,42\n")
    outcome = tasks.Outcome(
        "success",
        output_data=[{"unique_identifier": "total", "json_data": {"total": 42}}],
        downloads=[{"filename": "report 1.csv", "size": 14, "metadata": {"rows": 1}}],
        llm_usage={"calls": 1, "failed_calls": 0, "input_tokens": 420, "output_tokens": 17, "requests": 1},
    )
    done = await lifecycle.complete_task(db, sealer, uuid.UUID(task_id), outcome, public_url=api.settings.base_url)
    assert done is not None


async def first_task_id(db: Database, account_id: uuid.UUID) -> str:
    found: list[tasks.Task] = []

    async def submitted() -> bool:
        async with db.connection() as conn:
            found[:] = (await tasks.list_tasks(conn, account_id))[0]
        return bool(found)

    await eventually(submitted, what="a submitted task")
    return str(found[0].id)


async def test_submit_then_status(api: Api, db: Database) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        task_id = await client.submit(
            "lookup",
            {"email": "ada@example.com", "query": ["a", "b"]},
            unique=["email"],
            priority=-3,
            callback_url="https://hooks.example.com/cb",
            callback_api_key="k",
            timeout_minutes=2,
            healing=False,
        )
        task = await client.status(task_id)
    async with db.connection() as conn:
        stored = await tasks.get_task(conn, uuid.UUID(task_id))
    assert stored is not None and stored.healing is False
    assert task.task_id == task_id and task.endpoint_name == "lookup" and task.status == "queued"
    assert task.input_parameters == {"email": ["ada@example.com"], "query": ["a", "b"]}
    assert task.unique_parameter_names == ["email"] and task.priority == -3
    assert not task.is_terminal and task.completed_at is None and task.llm_usage is None


async def test_run_waits_for_the_end_and_reads_outputs_and_files(api: Api, db: Database, sealer: Sealer) -> None:
    async def worker() -> None:
        await end_task(api, db, sealer, await first_task_id(db, api.account_id))

    async with rebrowse.AsyncClient(api.url, api.key) as client:
        ending = asyncio.create_task(worker())
        task = await client.run("lookup", {"email": "ada@example.com"}, unique=["email"], timeout=30)
        await ending
        assert task.succeeded and task.is_terminal and task.completed_at is not None
        assert task.output_data == [{"unique_identifier": "total", "json_data": {"total": 42}}]
        assert task.llm_usage == LlmUsage(calls=1, input_tokens=420, output_tokens=17, requests=1)
        assert await client.outputs(task.task_id) == task.output_data
        [listed] = await client.downloads(task.task_id)
        assert (listed.filename, listed.size, listed.metadata) == ("report 1.csv", 14, {"rows": 1})
        assert task.downloads == [listed]
        assert await client.download(task.task_id, "report 1.csv") == b"id,total\n1,42\n"
        with pytest.raises(NotFoundError):
            await client.download(task.task_id, "../secret.key")


async def test_run_without_waiting_and_wait_deadline(api: Api) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        task = await client.run("lookup", {"email": "ada@example.com"}, wait=False)
        assert task.status == "queued"
        with pytest.raises(WaitTimeout) as caught:
            await client.wait(task.task_id, timeout=0.2, poll_interval=0.05)
    assert isinstance(caught.value, TimeoutError) and caught.value.status == "queued"


async def test_cancel_then_conflict(api: Api) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        task_id = await client.submit("lookup", {})
        cancelled = await client.cancel(task_id)
        assert (cancelled.task_id, cancelled.status) == (task_id, "cancelled")
        assert (await client.status(task_id)).error == "Task cancelled by user"
        with pytest.raises(ConflictError) as caught:
            await client.cancel(task_id)
    assert caught.value.status_code == 409 and "already ended" in caught.value.message


async def test_errors_are_typed(api: Api) -> None:
    async with rebrowse.AsyncClient(api.url, "rb_not-a-key") as stranger:
        with pytest.raises(AuthenticationError) as unauthorized:
            await stranger.submit("lookup", {})
    assert unauthorized.value.status_code == 401 and unauthorized.value.message == "Invalid API key"
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        with pytest.raises(NotFoundError, match="nope"):
            await client.submit("nope", {})
        with pytest.raises(NotFoundError):
            await client.status(str(uuid.uuid4()))
        with pytest.raises(InvalidRequestError) as invalid:
            await client.submit("lookup", {"email": "x"}, unique=["query"])
    assert invalid.value.status_code == 400
    assert [e.path for e in invalid.value.errors] == ["unique_parameter_names[0]"]
    assert isinstance(invalid.value, RebrowseAPIError) and isinstance(invalid.value, rebrowse.errors.RebrowseError)


async def test_other_accounts_tasks_are_not_found(api: Api, db: Database, sealer: Sealer) -> None:
    _, other_key = await new_key(db, sealer, "other")
    async with rebrowse.AsyncClient(api.url, api.key) as client, rebrowse.AsyncClient(api.url, other_key) as other:
        task_id = await client.submit("lookup", {})
        with pytest.raises(NotFoundError):
            await other.status(task_id)
        with pytest.raises(NotFoundError):
            await other.cancel(task_id)


async def test_async_client_over_the_asgi_transport(api: Api, db: Database, sealer: Sealer) -> None:
    transport = httpx.ASGITransport(app=api.app)
    async with rebrowse.AsyncClient("http://rebrowse.test", api.key, transport=transport) as client:
        task_id = await client.submit("lookup", {"email": ["b@example.com"]})
        assert (await client.status(task_id)).input_parameters == {"email": ["b@example.com"]}
        async with db.connection() as conn:
            assert await client.signing_secret() == await accounts.signing_secret(conn, sealer, api.account_id)


def sync_session(api: Api) -> tuple[str, str, int]:
    with rebrowse.Client(api.url, api.key, timeout=10) as client:
        task_id = client.submit("lookup", {"email": "c@example.com"})
        status = client.status(task_id).status
        client.cancel(task_id)
        try:
            client.cancel(task_id)
        except RebrowseAPIError as exc:
            return task_id, status, exc.status_code
    raise AssertionError("the second cancel did not fail")


async def test_sync_client(api: Api) -> None:
    task_id, status, second_cancel = await asyncio.to_thread(sync_session, api)
    assert status == "queued" and second_cancel == 409
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        assert (await client.status(task_id)).status == "cancelled"


def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REBROWSE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="REBROWSE_API_KEY"):
        rebrowse.Client("http://127.0.0.1:1")
    monkeypatch.setenv("REBROWSE_API_KEY", "rb_from_env")
    monkeypatch.setenv("REBROWSE_URL", "http://127.0.0.1:9/")
    with rebrowse.Client() as client:
        assert client._http.headers["x-api-key"] == "rb_from_env"
        assert str(client._http.base_url) == "http://127.0.0.1:9/"


def test_params_become_lists() -> None:
    assert as_lists({"a": "x", "b": 3, "c": ["y", "z"], "d": (True,)}) == {
        "a": ["x"],
        "b": [3],
        "c": ["y", "z"],
        "d": [True],
    }


def test_error_bodies_that_are_not_the_apis() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    with pytest.raises(RebrowseAPIError) as gateway:
        checked(httpx.Response(502, text="upstream down", request=request))
    assert type(gateway.value) is RebrowseAPIError and gateway.value.message == "upstream down"
    with pytest.raises(InvalidRequestError) as invalid:
        checked(httpx.Response(422, json={"detail": "bad", "errors": [{"path": "nodes[0]", "message": "m"}]}))
    assert invalid.value.message == "bad" and str(invalid.value.errors[0]) == "nodes[0]: m"
