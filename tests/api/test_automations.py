"""Named automations over the API: versions, validation with JSON paths, deletion, tenancy."""

from __future__ import annotations

import pytest

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
