"""Starting the control plane: database (embedded or given), secret key, first admin key, API, workers, sender."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn

from rebrowse.automation.sealed import redacted
from rebrowse.hosting import CallerSignals, secret_key
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts
from rebrowse.store.database import Connection, Database, migrate
from rebrowse.store.embedded import EmbeddedPostgres, start_embedded
from rebrowse.store.sealing import Sealer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rebrowse.queue.app import Queue


@dataclass
class Runtime:
    """What every rebrowse process shares: the settings, the database, the sealer and the queue."""

    settings: ServerSettings
    db: Database
    sealer: Sealer
    queue: Queue
    embedded: EmbeddedPostgres | None = None


def database_url(settings: ServerSettings) -> tuple[str, EmbeddedPostgres | None]:
    """DATABASE_URL, or the embedded PostgreSQL in the data directory (started on demand)."""
    if settings.database_url:
        return settings.database_url, None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # PostgreSQL runs as its own user when we are root; it must be able to reach its directory.
    settings.data_dir.chmod(0o755)
    server = start_embedded(settings.data_dir.resolve())
    return server.get_uri(), server


@asynccontextmanager
async def runtime(settings: ServerSettings, *, migrate_schema: bool = False) -> AsyncIterator[Runtime]:
    """Open the database (and the embedded server), the queue and the sealer; close them all afterwards."""
    from rebrowse.queue.app import make_queue

    url, embedded = database_url(settings)
    db = Database(url)
    try:
        await db.open()
        if migrate_schema:
            await migrate(db)
        queue = make_queue(url)
        async with queue.open_async():
            yield Runtime(settings, db, Sealer(secret_key(settings)), queue, embedded)
    finally:
        await db.close()
        if embedded is not None:
            embedded.cleanup()


async def ensure_admin_key(rt: Runtime) -> str | None:
    """When no admin key is active (first start), create one (REBROWSE_API_KEY's value when set and never used);
    returns the new key."""
    async with rt.db.transaction() as conn:
        await accounts.lock_admin_keys(conn)
        if await accounts.active_admin_keys(conn):
            return None
        chosen = rt.settings.admin_api_key
        if chosen and await accounts.key_known(conn, chosen):
            chosen = None  # that key was revoked: it stays so
        return await new_admin_key(conn, rt.sealer, "admin", chosen)


async def new_admin_key(conn: Connection, sealer: Sealer, name: str, value: str | None = None) -> str:
    """A new admin key in the admin account (created when there is none); the caller holds lock_admin_keys."""
    account_id = await accounts.find_admin_account(conn)
    if account_id is None:
        account_id = (await accounts.create_account(conn, sealer, "admin")).id
    _, value = await accounts.create_key(conn, account_id, name, role="admin", value=value)
    return value


async def recovery_admin_key(rt: Runtime, name: str) -> str:
    """`rebrowse keys create --admin`: a new admin key, even when every other one was revoked."""
    async with rt.db.transaction() as conn:
        await accounts.lock_admin_keys(conn)
        return await new_admin_key(conn, rt.sealer, name)


def api_server(rt: Runtime, app: FastAPI) -> uvicorn.Server:
    """The uvicorn server of the API app."""
    # No access log: at level "warning" uvicorn drops its lines anyway, but only after formatting each one. No
    # log_config: uvicorn's records go to the root handler, so they come out in rebrowse's log format too.
    config = uvicorn.Config(
        app, host=rt.settings.host, port=rt.settings.port, log_level="warning", access_log=False, log_config=None
    )
    return CallerSignals(config)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`, so every component shuts down cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_until_stopped(stop: asyncio.Event, parts: list[Coroutine[Any, Any, None]]) -> None:
    """Run the parts until `stop` is set or one of them ends; then stop them all and raise the first error."""
    tasks = [asyncio.create_task(part) for part in parts]
    try:
        await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def serve_api(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """Serve HTTP until `stop` is set."""
    serving = asyncio.create_task(server.serve())
    await asyncio.wait([serving, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    if not server.started:
        raise OSError(f"the API could not listen on {server.config.host}:{server.config.port}")


def control_plane(rt: Runtime, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
    """What every API process runs: the API, the callback sender and the scheduler of scheduled runs."""
    from rebrowse.api.app import create_app, services_of
    from rebrowse.api.scheduling import run_scheduler
    from rebrowse.callbacks.sender import run_sender

    app = create_app(rt.settings, rt.db, rt.queue, rt.sealer)
    return [
        serve_api(api_server(rt, app), stop),
        run_sender(rt.db, rt.sealer, rt.settings, stop),
        run_scheduler(services_of(app), stop),
    ]


async def run_api(rt: Runtime, stop: asyncio.Event) -> None:
    """The API, the callback sender and the scheduler."""
    await run_until_stopped(stop, control_plane(rt, stop))


async def run_all(rt: Runtime, stop: asyncio.Event) -> None:
    """`rebrowse serve`: the API, the callback sender, the scheduler and a worker in one process."""
    from rebrowse.worker.process import run_worker

    await run_until_stopped(
        stop,
        [
            *control_plane(rt, stop),
            run_worker(rt.settings, db=rt.db, queue=rt.queue, stop=stop, sealer=rt.sealer),
        ],
    )


DEMO_KEY_NAME = "make-serve"


async def demo_key(rt: Runtime) -> str:
    """A fresh admin key for `make serve` to print; the one printed by the previous start is revoked."""
    async with rt.db.transaction() as conn:
        admin = await accounts.admin_account_id(conn)
        await accounts.revoke_keys_named(conn, DEMO_KEY_NAME)
        _, value = await accounts.create_key(conn, admin, DEMO_KEY_NAME, role="admin")
    return value


async def register_demo(rt: Runtime, site_url: str) -> str:
    """Store the demo automation, aimed at the demo site, in the admin account; returns its endpoint name."""
    from rebrowse.demo.automation import DEMO_AUTOMATION, RECORDED_ORIGIN, rebase_urls
    from rebrowse.store import automations

    definition = rebase_urls(json.loads(DEMO_AUTOMATION.read_text()), RECORDED_ORIGIN, site_url)
    name = str(definition.get("automation_endpoint") or "demo")
    async with rt.db.transaction() as conn:
        admin = await accounts.admin_account_id(conn)
        current = await automations.get_automation(conn, admin, name)
        if current is None or current.definition != redacted(definition):
            await automations.put_automation(conn, rt.sealer, admin, name, definition, "the bundled demo")
    return name
