"""Submitting tasks: what is stored, the job deferred for it, and every way a request is refused."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rebrowse.queue.app import job_priority
from rebrowse.store import tasks, workers
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import Account, automation, submit, submit_ok
from tests.api.test_auth import assert_error

SECRET = "JBSWY3DPEHPK3PXPSECRETSEED"


async def job_of(db: Database, task_id: str) -> dict[str, Any]:
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT j.* FROM procrastinate_jobs j JOIN tasks t ON t.job_id = j.id WHERE t.id = %s", (task_id,)
            )
        ).fetchone()
    assert row is not None, "the task has a deferred job"
    return row


async def stored_task(db: Database, task_id: str) -> tasks.Task:
    async with db.connection() as conn:
        task = await tasks.get_task(conn, uuid.UUID(task_id))
    assert task is not None
    return task


async def test_a_submission_is_stored_and_deferred_with_its_lock_and_priority(
    acme: Account, login: str, db: Database
) -> None:
    response = await submit(
        acme,
        input_parameters={"username": ["bob"], "query": [1, 2.5, True]},
        unique_parameter_names=["username"],
        priority=3,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["message"]
    task = await stored_task(db, body["task_id"])
    assert task.status == "queued" and task.account_id == acme.id and task.automation_version == 1
    assert task.input_parameters == {"username": ["bob"], "query": [1, 2.5, True]}
    assert task.max_timeout_in_minutes == 10 and task.callback_url is None and task.secure_parameters is None

    job = await job_of(db, body["task_id"])
    assert job["task_name"] == "rebrowse.run_task" and job["status"] == "todo"
    assert job["args"] == {"task_id": body["task_id"]}
    assert job["lock"] == task.serialization_key and job["lock"] is not None
    assert job["priority"] == job_priority(3) and job["queue_name"] == "default"


async def test_a_submission_asking_for_screenshot_bytes_in_its_callback_is_stored_so(
    acme: Account, login: str, db: Database
) -> None:
    asked = await submit_ok(acme, task_callback_url="https://hooks.example.com/x", callback_include_screenshot=True)
    default = await submit_ok(acme, task_callback_url="https://hooks.example.com/x")
    assert (await stored_task(db, asked)).callback_include_screenshot is True
    assert (await stored_task(db, default)).callback_include_screenshot is False


async def test_a_submission_turning_healing_off_is_stored_so(acme: Account, login: str, db: Database) -> None:
    off = await submit_ok(acme, healing=False)
    on = await submit_ok(acme, healing=True)
    default = await submit_ok(acme)
    # None leaves it to the server's REBROWSE_HEALING.
    assert [(await stored_task(db, t)).healing for t in (off, on, default)] == [False, True, None]


async def test_without_unique_names_there_is_no_lock(acme: Account, login: str, db: Database) -> None:
    job = await job_of(db, await submit_ok(acme))
    assert job["lock"] is None and job["priority"] == job_priority(None)


async def test_secrets_are_sealed_at_rest(acme: Account, login: str, db: Database, sealer: Sealer) -> None:
    task_id = await submit_ok(
        acme,
        secure_parameters={"password": [{"totp": {"totp_secret": SECRET, "digits": 8}}]},
        task_callback_url="https://hooks.example/done",
        task_callback_api_key="cb-key-value",
    )
    task = await stored_task(db, task_id)
    assert task.secure_parameters is not None and task.callback_api_key is not None
    assert SECRET.encode() not in bytes(task.secure_parameters)
    assert b"cb-key-value" not in bytes(task.callback_api_key)
    assert sealer.open_json(bytes(task.secure_parameters)) == {
        "password": [{"totp": {"totp_secret": SECRET, "digits": 8}}]
    }
    assert sealer.open_json(bytes(task.callback_api_key)) == "cb-key-value"
    assert task.callback_url == "https://hooks.example/done"
    detail = (await acme.client.get(f"/api/v1/tasks/{task_id}")).text
    assert SECRET not in detail and "cb-key-value" not in detail


async def test_a_worker_route_pins_the_task_to_that_worker(acme: Account, login: str, db: Database) -> None:
    async with db.connection() as conn:
        await workers.beat(conn, "box-1")  # as the running worker box-1 does
    response = await acme.client.post(
        "/api/v1/workers/box-1/inference", json={"endpoint_name": "login", "max_timeout_in_minutes": 0.5}
    )
    assert response.status_code == 202
    task = await stored_task(db, response.json()["task_id"])
    assert task.pinned_worker == "box-1" and task.max_timeout_in_minutes == 0.5
    assert (await job_of(db, str(task.id)))["queue_name"] == "worker.box-1"


async def test_a_worker_route_refuses_a_worker_that_is_not_running(acme: Account, login: str, db: Database) -> None:
    async with db.connection() as conn:
        await workers.beat(conn, "box-2")
        await workers.leave(conn, "box-2")  # it stopped
    for name in ("no-such-worker", "box-2"):
        response = await acme.client.post(f"/api/v1/workers/{name}/inference", json={"endpoint_name": "login"})
        assert response.status_code == 404, response.text
        assert f"no worker named '{name}' is running" in response.json()["detail"]
    assert (await acme.client.get("/api/v1/tasks")).json()["tasks"] == []


async def test_tasks_run_the_newest_version(acme: Account, login: str, db: Database) -> None:
    without_query = automation()
    del without_query["parameters"]["input_parameters"]["query"]
    await acme.client.put("/api/v1/automations/login", json={"automation": without_query})
    task = await stored_task(db, await submit_ok(acme))
    assert task.automation_version == 2
    # The new version declares no `query`, so it can no longer be given.
    assert_error(await submit(acme, input_parameters={"query": ["x"]}), 400, "input_parameters.query")


async def test_unknown_endpoint_is_404(acme: Account, login: str, other: Account) -> None:
    assert_error(await acme.client.post("/api/v1/inference", json={"endpoint_name": "nope"}), 404, "'nope' not found")
    assert_error(await submit(other), 404, "'login' not found")


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({"unique_parameter_names": ["account"]}, "unique_parameter_names[0]", ["not a key of input_parameters"]),
        (
            {
                "unique_parameter_names": ["password"],
                "secure_parameters": {"password": [{"totp": {"totp_secret": "AB"}}]},
            },
            "unique_parameter_names[0]",
            ["secure parameter"],
        ),
        ({"input_parameters": {"username": "bob"}}, "input_parameters.username", ["list"]),
        ({"input_parameters": {"username": [{"a": 1}]}}, "input_parameters.username[0]", ["string, a number"]),
        ({"input_parameters": {"username": [None]}}, "input_parameters.username[0]", ["string, a number"]),
        ({"input_parameters": {"user": ["x"]}}, "input_parameters.user", ["not declared"]),
        ({"input_parameters": {"password": ["x"]}}, "input_parameters.password", ["secure parameter"]),
        ({"secure_parameters": {"password": [{"totp": {}}]}}, "secure_parameters.password[0].totp.totp_secret", []),
        ({"secure_parameters": {"password": [{}]}}, "secure_parameters.password[0]", ["exactly one"]),
        ({"secure_parameters": {"username": []}}, "secure_parameters.username", ["input parameter"]),
        ({"max_timeout_in_minutes": 0}, "max_timeout_in_minutes", ["greater than 0"]),
        ({"max_timeout_in_minutes": 1441}, "max_timeout_in_minutes", ["1440"]),
        ({"priority": 2**40}, "priority", []),
        ({"priority": "high"}, "priority", []),
        ({"task_callback_url": "ftp://x/y"}, "task_callback_url", ["http"]),
        ({"task_callback_url": "/relative"}, "task_callback_url", ["http"]),
        ({"task_callback_api_key": "k"}, "task_callback_api_key", ["task_callback_url"]),
        ({"callback_include_screenshot": "yes"}, "callback_include_screenshot", ["boolean"]),
        ({"callback_include_screenshot": 1}, "callback_include_screenshot", ["boolean"]),
        ({"healing": "no"}, "healing", ["boolean"]),
        ({"use_proxy": True}, "use_proxy", ["no proxy is configured", "REBROWSE_PROXY_URL"]),
        ({"use_proxy": "yes"}, "use_proxy", ["boolean"]),
        ({"reuse_session": 1}, "reuse_session", ["boolean"]),
        ({"proxy_session_id": "has space"}, "proxy_session_id", []),
        ({"is_dedicated": True}, "is_dedicated", ["not supported"]),
        ({"rdp_parameter": {"host": "h"}}, "rdp_parameter", ["not supported"]),
        ({"max_parallelism": 0}, "max_parallelism", []),
        (
            {"unique_parameter_name": ["username"]},
            "unique_parameter_name",
            ["unknown field", "did you mean `unique_parameter_names`?"],
        ),
        ({"endpoint_name": "bad name"}, "endpoint_name", []),
        ({"endpoint_name": None}, "endpoint_name", []),
    ],
)
async def test_invalid_requests_are_400_naming_the_field(
    acme: Account, login: str, body: dict[str, Any], path: str, words: list[str]
) -> None:
    error = assert_error(await submit(acme, **body), 400, path, *words)
    assert path in {e["path"] for e in error["errors"]}


async def test_a_mistyped_key_is_refused_with_the_field_it_looks_like(acme: Account, login: str) -> None:
    body = {"endpoint_nme": "login", "secure_parameters": {"password": [{"onepasword": {"item": "x"}}]}}
    response = await acme.client.post("/api/v1/inference", json=body)

    errors = {e["path"]: e["message"] for e in assert_error(response, 400)["errors"]}
    assert errors["endpoint_nme"] == "unknown field (did you mean `endpoint_name`?)"
    assert errors["secure_parameters.password[0].onepasword"].endswith("(did you mean `onepassword`?)")
    assert errors["endpoint_name"] == "field required"


async def test_an_undeclared_input_suggests_the_declared_one(acme: Account, login: str) -> None:
    error = assert_error(await submit(acme, input_parameters={"usrname": ["x"]}), 400)

    assert {e["path"]: e["message"] for e in error["errors"]} == {
        "input_parameters.usrname": "not declared by the automation (did you mean `username`?)"
    }


async def test_every_problem_is_reported_at_once(acme: Account, login: str) -> None:
    body = {"input_parameters": {"user": ["x"]}, "unique_parameter_names": ["nobody"], "task_callback_api_key": "k"}
    error = assert_error(await submit(acme, **body), 400)
    assert {e["path"] for e in error["errors"]} == {
        "input_parameters.user",
        "unique_parameter_names[0]",
        "task_callback_api_key",
    }


async def test_optexity_fields_rebrowse_ignores_are_accepted_at_their_defaults(acme: Account, login: str) -> None:
    await submit_ok(
        acme, use_proxy=False, is_dedicated=False, max_parallelism=4, per_login_parallelism=2, rdp_parameter=None
    )


async def test_error_messages_never_echo_secret_values(acme: Account, login: str) -> None:
    body = {"secure_parameters": {"password": [{"totp": {"totp_secret": SECRET, "digits": "six"}}]}}
    response = await submit(acme, **body)
    assert_error(response, 400, "secure_parameters.password[0].totp.digits")
    assert SECRET not in response.text


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{", {"content-type": "application/json"}),
        (b"", {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"null", {"content-type": "application/json"}),
        (b'"just a string"', {"content-type": "application/json"}),
        (b'{"endpoint_name": "login"}', {"content-type": "text/plain"}),
        (b'{"endpoint_name": "login"}', {}),
        (b"\xff\xfe\x00garbage", {"content-type": "application/json"}),
        (b'{"endpoint_name": "login", "input_parameters": {"username": [NaN]}}', {"content-type": "application/json"}),
        (
            b'{"endpoint_name": "login", "input_parameters": {"username": ["\\u0000"]}}',
            {"content-type": "application/json"},
        ),
        (
            b'{"endpoint_name": "login", "input_parameters": {"username": ["\\ud800"]}}',
            {"content-type": "application/json"},
        ),
        (b'{"endpoint_name": "login", "priority": 1e400}', {"content-type": "application/json"}),
        (
            b'{"endpoint_name": "login", "input_parameters": {"username": [' + b"9" * 5000 + b"]}}",
            {"content-type": "application/json"},
        ),
    ],
)
async def test_junk_bodies_are_400_never_500(
    acme: Account, login: str, content: bytes, headers: dict[str, str]
) -> None:
    response = await acme.client.post("/api/v1/inference", content=content, headers=headers)
    assert_error(response, 400)


async def test_junk_in_a_stored_automation_is_400(acme: Account) -> None:
    junk = b'{"automation": {"url": "x", "parameters": {}, "nodes": [], "max_retries": NaN}}'
    response = await acme.client.put(
        "/api/v1/automations/j", content=junk, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "automation", "finite")
    surrogate = b'{"automation": {"url": "x", "parameters": {}, "nodes": []}, "description": "\\udc00"}'
    response = await acme.client.put(
        "/api/v1/automations/j", content=surrogate, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "description", "Unicode")


async def test_an_oversized_body_is_refused_without_an_error_logged(
    acme: Account, caplog: pytest.LogCaptureFixture
) -> None:
    huge = b'{"automation": {"url": "' + b"x" * (17 * 1024 * 1024) + b'"}}'
    headers = {"content-type": "application/json"}
    with caplog.at_level(logging.ERROR, logger="rebrowse.api"):
        response = await acme.client.put("/api/v1/automations/big", content=huge, headers=headers)
    assert_error(response, 413, "at most 16 MiB")
    assert not caplog.records


async def test_an_oversized_body_sent_in_chunks_is_refused_too(acme: Account) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the body is counted as it arrives
        yield b'{"automation": {"url": "'
        for _ in range(17):
            yield b"x" * 2**20
        yield b'"}}'

    headers = {"content-type": "application/json"}
    response = await acme.client.put("/api/v1/automations/big", content=chunks(), headers=headers)
    assert_error(response, 413, "at most 16 MiB")
    assert (await acme.client.get("/api/v1/automations/big")).status_code == 404
