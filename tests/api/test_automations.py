"""Named automations over the API: versions, validation with JSON paths, deletion, tenancy."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rebrowse.store import automations, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import AUTOMATION, Account, automation
from tests.api.test_auth import assert_error


async def test_each_put_is_a_new_version(acme: Account) -> None:
    first = await acme.client.put("/api/v1/automations/login", json={"automation": AUTOMATION, "description": "v1"})
    assert first.status_code == 200
    assert first.json()["version"] == 1
    assert first.json()["parameters"] == {
        "input_parameters": ["username", "query"],
        "secure_parameters": ["password"],
        "generated_parameters": [],
    }
    changed = automation(url="http://127.0.0.1:1/other.html")
    second = await acme.client.put("/api/v1/automations/login", json={"automation": changed})
    assert second.json()["version"] == 2 and second.json()["total_nodes"] == 2

    detail = (await acme.client.get("/api/v1/automations/login")).json()
    assert detail["version"] == 2 and detail["automation"]["url"] == "http://127.0.0.1:1/other.html"
    assert [(v["version"], v["description"]) for v in detail["versions"]] == [(2, None), (1, "v1")]

    listed = (await acme.client.get("/api/v1/automations")).json()["automations"]
    assert [(a["endpoint_name"], a["version"]) for a in listed] == [("login", 2)]


async def test_delete_removes_every_version(acme: Account, login: str) -> None:
    assert (await acme.client.delete(f"/api/v1/automations/{login}")).status_code == 204
    assert_error(await acme.client.get(f"/api/v1/automations/{login}"), 404, "'login' not found")
    assert_error(await acme.client.delete(f"/api/v1/automations/{login}"), 404, "'login' not found")
    assert (await acme.client.get("/api/v1/automations")).json()["automations"] == []
    again = await acme.client.put(f"/api/v1/automations/{login}", json={"automation": AUTOMATION})
    assert again.status_code == 200
    assert [v["version"] for v in (await acme.client.get(f"/api/v1/automations/{login}")).json()["versions"]] == [
        again.json()["version"]
    ]


async def test_invalid_automations_are_422_with_json_paths(acme: Account) -> None:
    broken = automation(
        nodes=[
            AUTOMATION["nodes"][0],
            {"type": "action_node", "interaction_action": {"click_element": {"command": 1}}},
        ]
    )
    del broken["url"]
    body = assert_error(await acme.client.put("/api/v1/automations/bad", json={"automation": broken}), 422)
    paths = {error["path"] for error in body["errors"]}
    assert {"url", "nodes[1].interaction_action.click_element.command"} <= paths
    assert_error(await acme.client.get("/api/v1/automations/bad"), 404)


async def test_python_scripts_are_refused_unless_the_deployment_allows_them(acme: Account) -> None:
    script = {"type": "action_node", "python_script_action": {"execution_code": "print(1)"}}
    response = await acme.client.put("/api/v1/automations/s", json={"automation": automation(nodes=[script])})
    body = assert_error(response, 422, "REBROWSE_ALLOW_PYTHON_SCRIPTS")
    assert body["errors"][0]["path"] == "nodes[0].python_script_action"


@pytest.mark.parametrize("name", ["a" * 101, "with space", "semi;colon", "nul%00"])
async def test_endpoint_names_are_checked(acme: Account, name: str) -> None:
    response = await acme.client.put(f"/api/v1/automations/{name}", json={"automation": AUTOMATION})
    assert_error(response, 400, "endpoint_name")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["automation: field required"]),
        ({"automation": AUTOMATION, "extra": 1}, ["extra: unknown field"]),
        ({"automation": [1]}, ["automation"]),
        ({"automation": AUTOMATION, "description": 5}, ["description"]),
        ({"automation": automation(url="http://x/\u0000")}, ["automation", "url", "NUL"]),
    ],
)
async def test_malformed_put_bodies_are_400(acme: Account, body: dict[str, object], words: list[str]) -> None:
    assert_error(await acme.client.put("/api/v1/automations/x", json=body), 400, *words)


async def test_another_accounts_automation_is_not_found(acme: Account, other: Account, login: str) -> None:
    assert_error(await other.client.get(f"/api/v1/automations/{login}"), 404)
    assert_error(await other.client.delete(f"/api/v1/automations/{login}"), 404)
    assert (await other.client.get("/api/v1/automations")).json()["automations"] == []
    assert (await acme.client.get(f"/api/v1/automations/{login}")).status_code == 200


SEED = "GEZDGNBVGY3TQOJQ"  # the automation's own TOTP seed: stored sealed, never shown


def with_own_secret(**secure: Any) -> dict[str, Any]:
    parameters = {"input_parameters": {"username": ["ada"]}, "secure_parameters": secure}
    return automation(parameters=parameters)


async def test_an_automations_own_secure_values_are_sealed_at_rest_and_never_shown(
    acme: Account, db: Database, sealer: Sealer
) -> None:
    value = [{"totp": {"totp_secret": SEED, "digits": 8}}]
    saved = await acme.client.put("/api/v1/automations/login", json={"automation": with_own_secret(password=value)})
    assert saved.status_code == 200, saved.text
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT definition::text AS clear, secure_parameters FROM automations WHERE account_id = %s",
                (acme.id,),
            )
        ).fetchone()
    assert row is not None
    for form in (SEED, SEED.lower(), SEED[:8]):
        assert form not in row["clear"] and form.encode() not in bytes(row["secure_parameters"])
    shown = [
        await acme.client.get("/api/v1/automations/login"),
        await acme.client.get("/api/v1/automations"),
        saved,
    ]
    assert all(response.status_code == 200 and SEED not in response.text for response in shown)
    definition = shown[0].json()["automation"]
    assert definition["parameters"]["secure_parameters"] == {
        "password": [{"totp": {"totp_secret": "[sealed]", "digits": 8}}]
    }

    # Saving what is shown (as a client that edits the JSON it fetched does) keeps the sealed value.
    assert (await acme.client.put("/api/v1/automations/login", json={"automation": definition})).status_code == 200
    async with db.connection() as conn:
        stored = await automations.get_automation(conn, acme.id, "login")
    assert stored is not None and stored.version == 2
    assert automations.stored_secrets(stored, sealer) == {"password": value}


async def test_the_sealed_marker_must_stand_for_a_value_stored_before(acme: Account) -> None:
    sealed = [{"totp": {"totp_secret": "[sealed]"}}]
    response = await acme.client.put("/api/v1/automations/login", json={"automation": with_own_secret(otp=sealed)})
    assert_error(response, 422, "secure_parameters.otp", "[sealed]")
    assert (await acme.client.get("/api/v1/automations")).json()["automations"] == []


async def test_an_automations_callback_is_the_default_of_its_tasks_and_its_key_is_sealed(
    acme: Account, db: Database, sealer: Sealer
) -> None:
    settings = {"callback_url": "https://hooks.example.com/portal", "callback_api_key": "hook-key-4417"}
    body = {"automation": AUTOMATION, "settings": settings}
    saved = await acme.client.put("/api/v1/automations/login", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["settings"]["callback_api_key"] == "[sealed]"
    shown = await acme.client.get("/api/v1/automations/login")
    assert shown.json()["settings"]["callback_url"] == settings["callback_url"] and "hook-key-4417" not in shown.text
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT settings::text AS clear FROM automations")).fetchone()
    assert row is not None and "hook-key-4417" not in row["clear"]

    # Saving what is shown keeps the stored key.
    kept = {**body, "settings": shown.json()["settings"]}
    assert (await acme.client.put("/api/v1/automations/login", json=kept)).status_code == 200

    async def submitted(**fields: Any) -> tasks.Task:
        request = {"endpoint_name": "login", **fields}
        response = await acme.client.post("/api/v1/inference", json=request)
        assert response.status_code == 202, response.text
        async with db.connection() as conn:
            task = await tasks.get_task(conn, uuid.UUID(response.json()["task_id"]))
        assert task is not None
        return task

    default = await submitted()
    assert default.callback_url == settings["callback_url"]
    assert default.callback_api_key is not None and sealer.open_json(default.callback_api_key) == "hook-key-4417"
    own = await submitted(task_callback_url="https://hooks.example.com/mine")
    assert own.callback_url == "https://hooks.example.com/mine" and own.callback_api_key is None


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"callback_api_key": "k"}, ["callback_api_key is given without callback_url"]),
        ({"callback_url": "ftp://hooks.example.com"}, ["settings.callback_url"]),
        (
            {"callback_url": "https://hooks.example.com", "callback_api_key": "[sealed]"},
            ["settings.callback_api_key", "no stored key"],
        ),
    ],
)
async def test_bad_callback_settings_are_400_naming_the_field(
    acme: Account, given: dict[str, Any], words: list[str]
) -> None:
    response = await acme.client.put("/api/v1/automations/login", json={"automation": AUTOMATION, "settings": given})
    assert_error(response, 400, *words)
