"""GET /api/v1/schemas/automation.json: the automation format's JSON Schema, for any valid key."""

from __future__ import annotations

import httpx

from rebrowse.automation.json_schema import API_PATH, automation_json_schema
from tests.api.conftest import Account
from tests.api.test_auth import assert_error


async def test_the_schema_needs_a_key(anonymous: httpx.AsyncClient) -> None:
    assert_error(await anonymous.get(API_PATH), 401, "x-api-key")
    assert_error(await anonymous.get(API_PATH, headers={"x-api-key": "rb_not-a-key"}), 401, "Invalid API key")


async def test_any_key_reads_the_schema_generated_from_the_models(acme: Account) -> None:
    response = await acme.client.get(API_PATH)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/schema+json"
    assert response.json() == automation_json_schema()
    assert response.json()["properties"]["nodes"]["type"] == "array"
