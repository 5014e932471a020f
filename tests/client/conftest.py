"""The real API app on the test's database, served by uvicorn on 127.0.0.1, and an account to call it with."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI

from rebrowse.api.app import create_app
from rebrowse.api.routes import callbacks as callback_routes
from rebrowse.queue.app import make_queue
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.callbacks.conftest import Receiver, serve_asgi, serving_receiver

LOOKUP: dict[str, Any] = {
    "url": "http://127.0.0.1:1/index.html",
    "parameters": {"input_parameters": {"email": ["ada@example.com"], "query": ["invoice"]}},
    "nodes": [
        {
            "type": "action_node",
            "interaction_action": {"input_text": {"command": 'get_by_label("Email")', "input_text": "{email[0]}"}},
        }
    ],
}


def mount_callback_routes(app: FastAPI) -> FastAPI:
    """The callbacks router, unless create_app already includes it (the lead wires it into app.py)."""
    if not any(getattr(route, "path", None) == "/api/v1/tasks/{task_id}/callbacks" for route in app.routes):
        app.include_router(callback_routes.router)
    return app


@dataclass
class Api:
    """A served API with one account, its key, and the automation `lookup` pushed."""

    app: FastAPI
    url: str
    key: str
    account_id: uuid.UUID
    settings: ServerSettings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ServerSettings:
    # The worker of the example test replays the demo site on 127.0.0.1, which the egress policy denies otherwise.
    return ServerSettings(
        database_url=database_url,
        data_dir=tmp_path,
        public_url="http://rebrowse.test",
        browser_allow_hosts=("127.0.0.1",),
    )


@pytest.fixture
async def queue(database_url: str) -> AsyncIterator[procrastinate.App]:
    app = make_queue(database_url, max_connections=2)
    async with app.open_async():
        yield app


async def new_key(db: Database, sealer: Sealer, name: str) -> tuple[uuid.UUID, str]:
    async with db.connection() as conn:
        account = await accounts.create_account(conn, sealer, name)
        _, value = await accounts.create_key(conn, account.id, "sdk-test")
    return account.id, value


@pytest.fixture
async def api(settings: ServerSettings, db: Database, queue: procrastinate.App, sealer: Sealer) -> AsyncIterator[Api]:
    app = mount_callback_routes(create_app(settings, db, queue, sealer))
    account_id, key = await new_key(db, sealer, "acme")
    async with serve_asgi(app) as url:
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}) as http:
            pushed = await http.put("/api/v1/automations/lookup", json={"automation": LOOKUP})
            assert pushed.status_code == 200, pushed.text
        yield Api(app, url, key, account_id, settings)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as hook:
        yield hook
