"""The API app on the test's own database and a real procrastinate app, driven in-process over ASGI."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI

from rebrowse.api.app import create_app
from rebrowse.queue.app import make_queue
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer

BASE_URL = "http://rebrowse.test"

AUTOMATION: dict[str, Any] = {
    "url": "http://127.0.0.1:1/login.html",
    "parameters": {
        "input_parameters": {"username": ["ada"], "query": ["invoice"]},
        "secure_parameters": {
            "password": [{"totp": {"totp_secret": "JBSWY3DPEHPK3PXP"}}],
        },
    },
    "nodes": [
        {
            "type": "action_node",
            "interaction_action": {
                "input_text": {"command": 'get_by_label("Username")', "input_text": "{username[0]}"}
            },
        },
        {
            "type": "action_node",
            "interaction_action": {"click_element": {"command": 'get_by_role("button", name="Sign in")'}},
        },
    ],
}


def automation(**changes: Any) -> dict[str, Any]:
    """A copy of the test automation with top-level fields changed."""
    return {**copy.deepcopy(AUTOMATION), **changes}


@dataclass
class Account:
    """An account and an API key of it, with a client that sends the key."""

    id: Any
    key: str
    client: httpx.AsyncClient
    key_id: Any = None


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ServerSettings:
    return ServerSettings(database_url=database_url, data_dir=tmp_path, public_url=BASE_URL)


@pytest.fixture
async def queue(database_url: str) -> AsyncIterator[procrastinate.App]:
    app = make_queue(database_url, max_connections=2)
    async with app.open_async():
        yield app


@pytest.fixture
def app(settings: ServerSettings, db: Database, queue: procrastinate.App, sealer: Sealer) -> FastAPI:
    return create_app(settings, db, queue, sealer)


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no API key."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        yield client


async def new_account(
    app: FastAPI, db: Database, sealer: Sealer, name: str, *, role: accounts.Role = "owner"
) -> Account:
    """An account with its first key, of this role (an owner, as POST /accounts makes)."""
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, name)
        key, value = await accounts.create_key(conn, account.id, "test", role=role)
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers={"x-api-key": value})
    return Account(account.id, value, client, key.id)


@pytest.fixture
async def acme(app: FastAPI, db: Database, sealer: Sealer) -> AsyncIterator[Account]:
    account = await new_account(app, db, sealer, "acme")
    async with account.client:
        yield account


@pytest.fixture
async def other(app: FastAPI, db: Database, sealer: Sealer) -> AsyncIterator[Account]:
    account = await new_account(app, db, sealer, "other")
    async with account.client:
        yield account


@pytest.fixture
async def admin(app: FastAPI, db: Database, sealer: Sealer) -> AsyncIterator[Account]:
    account = await new_account(app, db, sealer, "admin", role="admin")
    async with account.client:
        yield account


@pytest.fixture
async def login(acme: Account) -> str:
    """The test automation pushed to acme as `login`; returns its name."""
    response = await acme.client.put("/api/v1/automations/login", json={"automation": AUTOMATION})
    assert response.status_code == 200, response.text
    return "login"


async def submit(account: Account, **body: Any) -> httpx.Response:
    """POST /api/v1/inference for the `login` automation with the given fields."""
    return await account.client.post("/api/v1/inference", json={"endpoint_name": "login", **body})


async def submit_ok(account: Account, **body: Any) -> str:
    response = await submit(account, **body)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id
