"""API keys, accounts, health, the error shape and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rebrowse.api.app import create_app
from rebrowse.settings import ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import BASE_URL, Account


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The response is our JSON error with this status, and its message contains every word."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["error"] == body["detail"]
    for word in words:
        assert word in body["error"], body
    return body


async def test_health_needs_no_key(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/automations"),
        ("PUT", "/api/v1/automations/login"),
        ("POST", "/api/v1/inference"),
        ("POST", "/api/v1/inference/call"),
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/task_status?task_id=x"),
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/accounts"),
        ("POST", "/api/v1/recordings"),
        ("GET", "/api/v1/recordings/x"),
        ("POST", "/api/v1/recordings/x/stop"),
        ("POST", "/api/v1/recordings/x/edits"),
        ("POST", "/api/v1/recordings/x/run"),
        ("POST", "/api/v1/recordings/x/save"),
    ],
)
async def test_every_route_but_health_needs_a_key(anonymous: httpx.AsyncClient, method: str, path: str) -> None:
    assert_error(await anonymous.request(method, path, json={}), 401, "x-api-key")
    wrong = await anonymous.request(method, path, json={}, headers={"x-api-key": "rb_not-a-key"})
    assert_error(wrong, 401, "Invalid API key")


async def test_keys_are_created_listed_and_revoked(acme: Account, anonymous: httpx.AsyncClient) -> None:
    created = await acme.client.post("/api/v1/keys", json={"name": "ci"})
    assert created.status_code == 201
    new_key = created.json()
    assert new_key["api_key"].startswith(new_key["prefix"]) and not new_key["is_admin"]

    as_new = {"x-api-key": new_key["api_key"]}
    listed = (await acme.client.get("/api/v1/keys")).json()["keys"]
    assert {key["name"] for key in listed} == {"test", "ci"}
    assert all("api_key" not in key for key in listed)
    assert (await anonymous.get("/api/v1/keys", headers=as_new)).status_code == 200

    assert (await acme.client.delete(f"/api/v1/keys/{new_key['id']}")).status_code == 204
    assert_error(await anonymous.get("/api/v1/keys", headers=as_new), 401, "Invalid API key")
    revoked = [key for key in (await acme.client.get("/api/v1/keys")).json()["keys"] if key["id"] == new_key["id"]]
    assert revoked[0]["revoked_at"] is not None


async def test_keys_of_another_account_cannot_be_revoked(acme: Account, other: Account) -> None:
    theirs = (await other.client.get("/api/v1/keys")).json()["keys"][0]
    assert_error(await acme.client.delete(f"/api/v1/keys/{theirs['id']}"), 404, "Key not found")
    assert_error(await acme.client.delete("/api/v1/keys/not-a-uuid"), 404, "Key not found")
    assert (await other.client.get("/api/v1/keys")).status_code == 200


async def test_key_names_are_checked(acme: Account) -> None:
    assert_error(await acme.client.post("/api/v1/keys", json={"name": ""}), 400, "name")
    assert_error(await acme.client.post("/api/v1/keys", json={"name": "a\u0000b"}), 400, "name", "NUL")


async def test_only_admin_keys_create_accounts(admin: Account, acme: Account, anonymous: httpx.AsyncClient) -> None:
    assert_error(await acme.client.post("/api/v1/accounts", json={"name": "x"}), 403, "admin")
    created = await admin.client.post("/api/v1/accounts", json={"name": "globex", "key_name": "first"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "globex" and body["key"]["name"] == "first" and not body["key"]["is_admin"]
    assert body["key"]["role"] == "owner"
    keys = await anonymous.get("/api/v1/keys", headers={"x-api-key": body["key"]["api_key"]})
    assert [key["id"] for key in keys.json()["keys"]] == [body["key"]["id"]]


async def new_key_of(account: Account, role: str | None = None) -> dict[str, Any]:
    created = await account.client.post("/api/v1/keys", json={"name": f"made-{role}", "role": role})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    assert body["role"] == (role or "member") and body["is_admin"] == (role == "admin")
    return body


async def test_a_member_key_sees_and_revokes_only_itself_and_creates_no_keys(
    acme: Account, anonymous: httpx.AsyncClient
) -> None:
    member = await new_key_of(acme)
    owner_id = (await acme.client.get("/api/v1/keys")).json()["keys"][0]["id"]
    as_member = {"x-api-key": member["api_key"]}
    listed = (await anonymous.get("/api/v1/keys", headers=as_member)).json()["keys"]
    assert [key["id"] for key in listed] == [member["id"]]
    assert_error(await anonymous.delete(f"/api/v1/keys/{owner_id}", headers=as_member), 404, "Key not found")
    for role in (None, "member", "owner"):
        refused = await anonymous.post("/api/v1/keys", json={"name": "x", "role": role}, headers=as_member)
        assert_error(refused, 403, "member key")
    assert (await acme.client.get("/api/v1/keys")).status_code == 200
    assert (await anonymous.delete(f"/api/v1/keys/{member['id']}", headers=as_member)).status_code == 204
    assert_error(await anonymous.get("/api/v1/keys", headers=as_member), 401, "Invalid API key")


async def test_a_key_creates_keys_of_at_most_its_own_role(acme: Account, admin: Account) -> None:
    assert_error(await acme.client.post("/api/v1/keys", json={"role": "admin"}), 400, "role", "above", "owner")
    assert_error(await acme.client.post("/api/v1/keys", json={"role": "root"}), 400, "role")
    assert_error(await acme.client.post("/api/v1/accounts", json={"name": "mine"}), 403, "admin")
    second_owner = await new_key_of(acme, "owner")
    assert (await acme.client.delete(f"/api/v1/keys/{second_owner['id']}")).status_code == 204
    for role in ("member", "owner", "admin"):
        await new_key_of(admin, role)


async def test_the_admin_key_cannot_be_revoked_by_a_non_admin_key(admin: Account, anonymous: httpx.AsyncClient) -> None:
    admin_id = (await admin.client.get("/api/v1/keys")).json()["keys"][0]["id"]
    for role in ("member", "owner"):
        other = {"x-api-key": (await new_key_of(admin, role))["api_key"]}
        refused = await anonymous.delete(f"/api/v1/keys/{admin_id}", headers=other)
        assert refused.status_code in (403, 404), refused.text
    # Still an admin key: it creates accounts.
    assert (await admin.client.post("/api/v1/accounts", json={"name": "globex"})).status_code == 201


async def test_the_last_active_admin_key_cannot_be_revoked(admin: Account, anonymous: httpx.AsyncClient) -> None:
    first = (await admin.client.get("/api/v1/keys")).json()["keys"][0]["id"]
    assert_error(await admin.client.delete(f"/api/v1/keys/{first}"), 409, "last active admin key")
    second = await new_key_of(admin, "admin")
    assert (await admin.client.delete(f"/api/v1/keys/{first}")).status_code == 204
    as_second = {"x-api-key": second["api_key"]}
    refused = await anonymous.delete(f"/api/v1/keys/{second['id']}", headers=as_second)
    assert_error(refused, 409, "last active admin key")
    assert (await anonymous.post("/api/v1/accounts", json={"name": "x"}, headers=as_second)).status_code == 201


async def test_unknown_routes_and_methods_answer_in_the_error_shape(acme: Account) -> None:
    assert_error(await acme.client.get("/api/v1/nothing-here"), 404)
    assert_error(await acme.client.patch("/api/v1/keys"), 405)


async def test_an_unexpected_failure_is_a_plain_500(
    settings: ServerSettings, database_url: str, sealer: Sealer, caplog: pytest.LogCaptureFixture
) -> None:
    closed = Database(database_url)  # never opened: every query fails inside the route
    app: FastAPI = create_app(settings, closed, queue=None, sealer=sealer)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        with caplog.at_level(logging.ERROR, logger="rebrowse.api"):
            response = await client.get("/api/v1/keys", headers={"x-api-key": "rb_anything"})
    body = assert_error(response, 500, "internal server error")
    assert "Traceback" not in response.text and "errors" not in body
    assert any(record.exc_info for record in caplog.records), "the failure is logged with its traceback"


async def test_health_reports_an_unreachable_database(
    settings: ServerSettings, database_url: str, sealer: Sealer
) -> None:
    closed = Database(database_url)
    app: FastAPI = create_app(settings, closed, queue=None, sealer=sealer)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        response = await client.get("/api/v1/health")
    assert response.status_code == 503 and response.json()["database"] == "unavailable"


async def test_openapi_has_a_stable_operation_id_on_every_route(anonymous: httpx.AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    operations = {
        operation["operationId"]
        for methods in schema["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict)
    }
    expected = {
        "health",
        "put_automation",
        "list_automations",
        "get_automation",
        "delete_automation",
        "get_automation_version",
        "diff_automation",
        "rollback_automation",
        "automation_runs",
        "submit_inference",
        "submit_worker_inference",
        "call_status",
        "get_task_status",
        "list_tasks",
        "get_task",
        "get_output_data",
        "get_downloads",
        "get_download_file",
        "get_final_screenshot",
        "get_screenshot_file",
        "cancel_task",
        "get_cached_automation",
        "save_cached_automation",
        "create_key",
        "list_keys",
        "revoke_key",
        "create_account",
        "start_recording",
        "get_recording",
        "stop_recording",
        "edit_recording",
        "run_recording_draft",
        "save_recording",
    }
    assert expected <= operations
    assert all(not op.endswith(("_get", "_post", "_put", "_delete")) for op in operations), operations
    answers = {
        operation["operationId"]: operation["responses"]
        for methods in schema["paths"].values()
        for operation in methods.values()
    }
    # Only the routes that store or run an automation given to them validate one.
    assert [op for op, responses in answers.items() if "422" in responses] == [
        "put_automation",
        "rollback_automation",
        "save_cached_automation",
        "save_recording",
        "run_recording_draft",
    ]
    assert all("400" in responses for op, responses in answers.items() if op != "health")
    assert "HTTPValidationError" not in str(schema)
    assert (await anonymous.get("/docs")).status_code == 200
