"""Control-plane benchmark: the API's throughput, the platform's overhead, and dispatch with a deep queue.

Everything runs on 127.0.0.1 in a temporary data directory that is removed at the end: an embedded PostgreSQL
(owned by this process), `rebrowse api` in its own process, later `rebrowse worker --slots 2` with its browsers
launched before anything is measured, the fixture site (tests/site) and a callback receiver. Measured:

1. POST /api/v1/inference requests/s over 32 kept-alive connections, with no worker running (tasks stay queued).
   Baseline: the same client against GET /api/v1/health in the same run, which is the client's own ceiling.
2. submit → first browser action: from sending the POST to the fixture site receiving the request for the
   automation's start page, one task at a time on an idle worker.
3. submit → callback received, for a one-step automation, by a receiver on 127.0.0.1.
4. dispatch latency (as in 2) with 100, then 100,000 tasks already queued that the idle worker cannot take:
   pinned to a worker that is not running, or waiting for a serialization key that a running task holds.

The API is measured as deployed: one `rebrowse api` process (uvicorn with httptools, on the event loop the CLI
runs). On 2 cores that is the sensible deployment: PostgreSQL and the client need the other core, and two API
processes measured no faster (each one's batches of submissions are smaller, and they compete for the same
cores). The client is a minimal HTTP/1.1 client on asyncio streams, so that it costs the API's cores as
little as possible; the first row's baseline (the API answering its trivial route) bounds what it can drive.

A missed target is reported, not an error; the exit status is 1 when something failed (a process did not
start, a task did not run, a request was refused). The machine's other load shows in the figures.

Usage: python bench/api.py [--seconds S] [--samples N] [--queued N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from procrastinate.types import JSONDict
from psycopg.types.json import Jsonb
from rich.console import Console

from bench.report import Measure, ms, percentile, run_alone
from rebrowse.demo.site import SiteServer, SiteState
from rebrowse.queue.app import DEFAULT_QUEUE, JOB_NAME, job_priority, worker_queue
from rebrowse.server import Runtime, ensure_admin_key, runtime
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts, tasks
from rebrowse.store.accounts import new_key_value

REPO_ROOT = Path(__file__).resolve().parents[1]
SITE_ROOT = REPO_ROOT / "tests" / "site"
CLIENTS = 32
WORKER_SLOTS = 2  # one slot stays free while a task holds a serialization key in scenario 4b
WORKER_NAME = "bench"
WARMUP_TASKS_PER_SLOT = 3
ABSENT_WORKER = "parked"  # tasks pinned to this worker wait: no such worker runs
PARK_BATCH = 5_000
SHALLOW_QUEUE = 100  # the dispatch measure's baseline depth
API_DEPLOYMENT = "the API: one `rebrowse api` process, as the CLI runs it"
START_DEADLINE_S = 120.0
TASK_DEADLINE_S = 60.0
STOP_DEADLINE_S = 60.0
POLL_S = 0.01
IDLE_PAUSE_S = 1.0

TARGET_RPS = 1_500.0
TARGET_FIRST_ACTION_S = 0.100
TARGET_CALLBACK_S = 1.0
TARGET_DISPATCH_RATIO = 1.5


class BenchFailed(Exception):
    """Something the benchmark needs did not work."""


# --------------------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(method: str, path: str, *, key: str | None = None, body: Any = None) -> bytes:
    """The bytes of one request (sent as is, again and again, by the load loop)."""
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(payload)}"]
    if body is not None:
        lines.append("content-type: application/json")
    if key is not None:
        lines.append(f"x-api-key: {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One kept-alive connection to the API; one request at a time."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    @classmethod
    async def open(cls, port: int) -> Connection:
        conn = cls(port)
        conn._streams = await asyncio.open_connection("127.0.0.1", port)
        return conn

    async def send(self, request: bytes) -> Response:
        """Send one request; again on a new connection when the server had closed this one for being idle."""
        try:
            return await self._exchange(request)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
        except ConnectionError:
            pass
        await self.close()
        self._streams = await asyncio.open_connection("127.0.0.1", self._port)
        return await self._exchange(request)

    async def _exchange(self, request: bytes) -> Response:
        assert self._streams is not None
        reader, writer = self._streams
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise BenchFailed("the API answered with a chunked body, which this client does not read")
        return Response(status, await reader.readexactly(length))

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def connections(port: int, count: int) -> AsyncIterator[list[Connection]]:
    opened = [await Connection.open(port) for _ in range(count)]
    try:
        yield opened
    finally:
        await asyncio.gather(*(c.close() for c in opened))


# --------------------------------------------------------------------------------------------------------
# Processes, the fixture site and the callback receiver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A rebrowse process this benchmark started; stopped by its process id."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Service:
        log = log_dir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "rebrowse.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its browsers share its process group, which a forced stop ends
            )
        return cls(name, process, log)

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise BenchFailed(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to its process group when it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class ArrivalLog(SiteState):
    """The fixture site's state, also noting when each request for /api/job (the probes' start page) arrives."""

    loop: asyncio.AbstractEventLoop | None = None
    arrivals: asyncio.Queue[float] = field(default_factory=asyncio.Queue)

    def poll_job(self, job_id: str) -> str:
        arrived = time.perf_counter()
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.arrivals.put_nowait, arrived)
        return super().poll_job(job_id)


class CallbackReceiver:
    """A callback receiver on 127.0.0.1 noting when each task's callback arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.arrivals: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                arrived = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(HTTPStatus.NO_CONTENT)
                self.send_header("content-length", "0")
                self.end_headers()
                task_id = str(json.loads(body).get("task_id"))
                loop.call_soon_threadsafe(arrivals.put_nowait, (task_id, arrived))

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the benchmark prints its own table."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    @contextlib.contextmanager
    def running(self) -> Iterator[CallbackReceiver]:
        thread = threading.Thread(target=self._server.serve_forever, name="callback-receiver", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()


# --------------------------------------------------------------------------------------------------------
# The deployment under test


@dataclass
class Deployment:
    rt: Runtime
    env: dict[str, str]
    port: int
    key: str
    account_id: uuid.UUID
    site: SiteServer
    arrivals: ArrivalLog
    receiver: CallbackReceiver
    log_dir: Path
    services: list[Service] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Service:
        service = Service.start(name, list(args), self.env, self.log_dir)
        self.services.append(service)
        return service

    async def call(self, conn: Connection, method: str, path: str, body: Any = None) -> Response:
        return await conn.send(http_request(method, path, key=self.key, body=body))

    async def db_value(self, sql: str, *params: Any) -> Any:
        async with self.rt.db.connection() as conn:
            row = await (await conn.execute(sql, params)).fetchone()
        return None if row is None else next(iter(row.values()))

    async def wait_for(self, what: str, check: Callable[[], Awaitable[bool]], deadline_s: float) -> None:
        """Poll `check` until it holds; BenchFailed (with the processes' state) after the deadline."""
        deadline = time.monotonic() + deadline_s
        while not await check():
            for service in self.services:
                service.check_running()
            if time.monotonic() > deadline:
                raise BenchFailed(f"timed out waiting for {what}")
            await asyncio.sleep(POLL_S)

    async def task_status(self, task_id: str) -> str:
        return str(await self.db_value("SELECT status FROM tasks WHERE id = %s", uuid.UUID(task_id)))

    async def wait_terminal(self, task_id: str) -> str:
        async def ended() -> bool:
            return await self.task_status(task_id) in tasks.TERMINAL

        await self.wait_for(f"task {task_id} to end", ended, TASK_DEADLINE_S)
        return await self.task_status(task_id)

    async def drop_waiting(self) -> None:
        """Remove every waiting job and queued task, as if the queue had been drained."""
        async with self.rt.db.transaction() as conn:
            await conn.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")
            await conn.execute("DELETE FROM tasks WHERE status = 'queued'")
        await self.tidy("VACUUM ANALYZE")

    async def tidy(self, command: str) -> None:
        """What autovacuum does soon after a mass insert or delete, so that every measure starts from a database
        whose statistics and indexes match its contents (autovacuum would get there at its own pace)."""
        async with self.rt.db.connection() as conn:
            await conn.execute(f"{command} procrastinate_jobs, tasks")


def automations(site_url: str) -> dict[str, dict[str, Any]]:
    """The benchmark's automations, by endpoint name."""
    none: dict[str, Any] = {"input_parameters": {}}
    click = {"type": "action_node", "interaction_action": {"click_element": {"command": 'locator("#single")'}}}
    return {
        # Submitted under load (never run: no worker is up then).
        "load": {
            "url": f"{site_url}/buttons.html",
            "parameters": {"input_parameters": {"who": ["ada"]}},
            "nodes": [click],
        },
        # Its start page is the probe whose arrival the fixture site notes.
        "probe": {
            "url": f"{site_url}/api/job?id=probe",
            "parameters": none,
            "nodes": [],
            "take_final_screenshot": False,
        },
        # The one-step automation of the callback measure, with the format's defaults.
        "one_step": {"url": f"{site_url}/buttons.html", "parameters": none, "nodes": [click]},
        # Holds a serialization key for as long as the benchmark needs (it is cancelled afterwards).
        "holder": {
            "url": f"{site_url}/buttons.html",
            "parameters": {"input_parameters": {"login": ["someone"]}},
            "nodes": [{"type": "action_node", "sleep_action": {"sleep_time": 900}}],
            "take_final_screenshot": False,
        },
    }


async def push_automations(deployment: Deployment, conn: Connection) -> None:
    for name, definition in automations(deployment.site.url).items():
        response = await deployment.call(conn, "PUT", f"/api/v1/automations/{name}", {"automation": definition})
        if response.status != 200:
            raise BenchFailed(f"PUT automation {name}: {response.status} {response.body[:300]!r}")


async def wait_healthy(deployment: Deployment, service: Service) -> None:
    async def healthy() -> bool:
        try:
            conn = await Connection.open(deployment.port)
        except OSError:
            return False
        try:
            return (await conn.send(http_request("GET", "/api/v1/health"))).status == 200
        finally:
            await conn.close()

    await deployment.wait_for(f"{service.name} to answer", healthy, START_DEADLINE_S)


async def wait_worker_ready(deployment: Deployment) -> None:
    """procrastinate registers the worker once its slots' browsers are launched."""

    async def registered() -> bool:
        return int(await deployment.db_value("SELECT count(*) FROM procrastinate_workers")) > 0

    await deployment.wait_for("the worker to start", registered, START_DEADLINE_S)


# --------------------------------------------------------------------------------------------------------
# Measures


@dataclass(frozen=True)
class Throughput:
    requests_per_s: float
    answered: int


async def throughput(port: int, request: bytes, seconds: float, warmup_s: float) -> Throughput:
    """Requests per second over CLIENTS connections, each sending its next request when the last one answers."""
    counting = False
    stop = False
    ok = refused = 0  # answered with 2xx, and with anything else

    async def client(conn: Connection) -> None:
        nonlocal ok, refused
        while not stop:
            response = await conn.send(request)
            if counting:
                if 200 <= response.status < 300:
                    ok += 1
                else:
                    refused += 1

    async with connections(port, CLIENTS) as opened:
        loops = [asyncio.create_task(client(conn)) for conn in opened]
        await asyncio.sleep(warmup_s)
        counting, started = True, time.perf_counter()
        await asyncio.sleep(seconds)
        counting, elapsed = False, time.perf_counter() - started
        stop = True
        await asyncio.gather(*loops)
    if refused:
        raise BenchFailed(f"{refused} of {ok + refused} requests were refused during the throughput measure")
    return Throughput(ok / elapsed, ok)


async def submit(deployment: Deployment, conn: Connection, body: dict[str, Any]) -> tuple[str, float]:
    """POST /api/v1/inference; the task id and when the request was sent."""
    sent = time.perf_counter()
    response = await deployment.call(conn, "POST", "/api/v1/inference", body)
    if response.status != 202:
        raise BenchFailed(f"POST /api/v1/inference: {response.status} {response.body[:300]!r}")
    return str(response.json()["task_id"]), sent


async def first_action_latency(deployment: Deployment, conn: Connection) -> float:
    """One probe: seconds from the submission to the fixture site receiving the start page's request."""
    arrivals = deployment.arrivals.arrivals
    while not arrivals.empty():
        arrivals.get_nowait()
    task_id, sent = await submit(deployment, conn, {"endpoint_name": "probe"})
    arrived = await asyncio.wait_for(arrivals.get(), TASK_DEADLINE_S)
    status = await deployment.wait_terminal(task_id)
    if status != "success":
        raise BenchFailed(f"probe task {task_id} ended {status}")
    return arrived - sent


async def callback_latency(deployment: Deployment, conn: Connection) -> float:
    """One one-step task: seconds from the submission to its callback reaching the receiver."""
    body = {"endpoint_name": "one_step", "task_callback_url": deployment.receiver.url}
    task_id, sent = await submit(deployment, conn, body)
    while True:
        received, arrived = await asyncio.wait_for(deployment.receiver.arrivals.get(), TASK_DEADLINE_S)
        if received == task_id:
            break
    status = await deployment.wait_terminal(task_id)
    if status != "success":
        raise BenchFailed(f"one-step task {task_id} ended {status}")
    return arrived - sent


async def sample(measure: Callable[[], Awaitable[float]], count: int) -> list[float]:
    """`count` measures one after the other, each on an idle worker."""
    measured = []
    for _ in range(count):
        # After a task the worker closes its context and opens the next one; idle means it has done so.
        await asyncio.sleep(IDLE_PAUSE_S)
        measured.append(await measure())
    return measured


@dataclass(frozen=True)
class Parking:
    """Where tasks that must not run wait: their job's queue and lock, the task's pin and key."""

    queue: str
    lock: str | None
    pinned_worker: str | None
    unique: dict[str, list[Any]]


async def park(deployment: Deployment, parking: Parking, version: int, count: int) -> None:
    """Add `count` queued tasks with their jobs, as submissions store them, in batches (bulk SQL and
    procrastinate's batch defer: one submission at a time would take minutes)."""
    deferrer = deployment.rt.queue.configure_task(
        JOB_NAME, queue=parking.queue, lock=parking.lock, priority=job_priority(None)
    )
    for start in range(0, count, PARK_BATCH):
        ids = [uuid.uuid4() for _ in range(min(PARK_BATCH, count - start))]
        job_kwargs: list[JSONDict] = [{"task_id": str(i)} for i in ids]
        job_ids = await deferrer.batch_defer_async(*job_kwargs)
        async with deployment.rt.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO tasks (id, job_id, account_id, endpoint_name, automation_version, input_parameters,"
                " unique_parameter_names, serialization_key, max_timeout_in_minutes, pinned_worker)"
                " SELECT t.id, t.job_id, %s, 'probe', %s, %s, %s, %s, 10, %s FROM unnest(%s::uuid[], %s::bigint[])"
                " AS t(id, job_id)",
                (
                    deployment.account_id,
                    version,
                    Jsonb(parking.unique),
                    Jsonb(sorted(parking.unique)),
                    parking.lock,
                    parking.pinned_worker,
                    ids,
                    job_ids,
                ),
            )


@dataclass(frozen=True)
class DispatchResult:
    shallow: list[float]
    deep: list[float]


async def dispatch_at_depth(
    deployment: Deployment, conn: Connection, parking: Parking, deep: int, samples: int
) -> DispatchResult:
    """Probe latencies with SHALLOW_QUEUE, then `deep`, tasks parked; the parked tasks are removed afterwards."""
    version = int(await deployment.db_value("SELECT max(version) FROM automations WHERE endpoint_name = 'probe'"))
    try:
        await park(deployment, parking, version, SHALLOW_QUEUE)
        await deployment.tidy("ANALYZE")
        near = await sample(lambda: first_action_latency(deployment, conn), samples)
        await park(deployment, parking, version, deep - SHALLOW_QUEUE)
        await deployment.tidy("ANALYZE")
        far = await sample(lambda: first_action_latency(deployment, conn), samples)
    finally:
        await deployment.drop_waiting()
    return DispatchResult(near, far)


@contextlib.asynccontextmanager
async def key_held(deployment: Deployment, conn: Connection) -> AsyncIterator[str]:
    """A running task holding a serialization key; yields the key. The task is cancelled afterwards."""
    body = {
        "endpoint_name": "holder",
        "input_parameters": {"login": ["someone"]},
        "unique_parameter_names": ["login"],
        "max_timeout_in_minutes": 30,
    }
    task_id, _ = await submit(deployment, conn, body)

    async def running() -> bool:
        return await deployment.task_status(task_id) == "running"

    try:
        await deployment.wait_for("the key holder to run", running, TASK_DEADLINE_S)
        key = tasks.serialization_key(deployment.account_id, {"login": ["someone"]})
        assert key is not None
        yield key
    finally:
        await deployment.drop_waiting()  # first, or the tasks waiting for the key would run once it is free
        await deployment.call(conn, "POST", f"/api/v1/tasks/{task_id}/cancel")
        await deployment.wait_terminal(task_id)


# --------------------------------------------------------------------------------------------------------
# Report


@dataclass
class Results:
    health: Throughput | None = None
    inference: Throughput | None = None
    first_action: list[float] = field(default_factory=list)
    callbacks: list[float] = field(default_factory=list)
    pinned: DispatchResult | None = None
    held: DispatchResult | None = None


def measures(results: Results, queued: int) -> list[Measure]:
    """One row per measure: its figure against its target, and the baseline it is compared with."""
    rows = []
    if results.inference and results.health:
        rps, ceiling = results.inference.requests_per_s, results.health.requests_per_s
        rows.append(
            Measure(
                f"POST /api/v1/inference, {CLIENTS} clients",
                f"≥ {TARGET_RPS:,.0f}/s",
                f"{rps:,.0f}/s",
                f"GET /api/v1/health {ceiling:,.0f}/s",
                rps / ceiling,
                rps >= TARGET_RPS,
            )
        )
    for name, samples, target in (
        ("submit → first browser action, idle worker", results.first_action, TARGET_FIRST_ACTION_S),
        ("submit → callback received, one-step automation", results.callbacks, TARGET_CALLBACK_S),
    ):
        if samples:
            p50, p95 = percentile(samples, 50), percentile(samples, 95)
            rows.append(Measure(name, f"p50 ≤ {ms(target)}", f"p50 {ms(p50)}, p95 {ms(p95)}", met=p50 <= target))
    for label, result in (("pinned to an absent worker", results.pinned), ("behind a held key", results.held)):
        if result is None:
            continue
        deep, shallow = percentile(result.deep, 50), percentile(result.shallow, 50)
        rows.append(
            Measure(
                f"dispatch p50, {queued:,} queued {label}",
                f"ratio ≤ {TARGET_DISPATCH_RATIO:g}",
                ms(deep),
                f"{SHALLOW_QUEUE:,} queued: {ms(shallow)}",
                deep / shallow,
                deep / shallow <= TARGET_DISPATCH_RATIO,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------------------
# The run


@contextlib.asynccontextmanager
async def deployment(data_dir: Path) -> AsyncIterator[Deployment]:
    """The database, the fixture site and the callback receiver; the processes are started by the phases."""
    key = new_key_value()
    settings = ServerSettings(data_dir=data_dir, admin_api_key=key)
    loop = asyncio.get_running_loop()
    async with runtime(settings, migrate_schema=True) as rt:
        await ensure_admin_key(rt)
        async with rt.db.connection() as conn:
            caller = await accounts.authenticate(conn, key)
        assert caller is not None
        arrivals = ArrivalLog(loop=loop)
        site = SiteServer(SITE_ROOT)
        site.state = arrivals  # the server's handlers reach the state through it
        receiver = CallbackReceiver(loop)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": rt.db.url,
            "REBROWSE_DATA_DIR": str(data_dir),
            "REBROWSE_API_KEY": key,
            "REBROWSE_CALLBACK_ALLOW_HOSTS": "127.0.0.1",
            "REBROWSE_BROWSER_ALLOW_HOSTS": "127.0.0.1",  # the fixture site, denied by the egress policy otherwise
            "PYTHONUNBUFFERED": "1",
        }
        log_dir = data_dir / "logs"
        log_dir.mkdir()
        with site, receiver.running():
            bench = Deployment(rt, env, port, key, caller.account.id, site, arrivals, receiver, log_dir)
            try:
                yield bench
            finally:
                for service in reversed(bench.services):
                    service.stop()


async def run(args: argparse.Namespace, data_dir: Path, console: Console) -> Results:
    results = Results()
    async with deployment(data_dir) as bench:
        api = bench.start("api", "api", "--port", str(bench.port))
        await wait_healthy(bench, api)
        async with connections(bench.port, 1) as (conn,):
            await push_automations(bench, conn)
        console.print("measuring the API's throughput…", style="dim")
        health = http_request("GET", "/api/v1/health")
        load = {"endpoint_name": "load", "input_parameters": {"who": ["ada"]}}
        results.health = await throughput(bench.port, health, args.seconds, args.warmup)
        results.inference = await throughput(
            bench.port, http_request("POST", "/api/v1/inference", key=bench.key, body=load), args.seconds, args.warmup
        )
        await bench.drop_waiting()

        bench.start("worker", "worker", "--slots", str(WORKER_SLOTS), "--name", WORKER_NAME)
        await wait_worker_ready(bench)
        async with connections(bench.port, 1) as (conn,):
            # A slot's first tasks are slower (first contexts, cold caches, first plans): they are not counted.
            await sample(lambda: first_action_latency(bench, conn), WARMUP_TASKS_PER_SLOT * WORKER_SLOTS)
            console.print("measuring submit → first browser action…", style="dim")
            results.first_action = await sample(lambda: first_action_latency(bench, conn), args.samples)
            console.print("measuring submit → callback…", style="dim")
            results.callbacks = await sample(lambda: callback_latency(bench, conn), args.samples)
            console.print(f"measuring dispatch with {SHALLOW_QUEUE} and {args.queued:,} tasks queued…", style="dim")
            pinned = Parking(worker_queue(ABSENT_WORKER), None, ABSENT_WORKER, {})
            results.pinned = await dispatch_at_depth(bench, conn, pinned, args.queued, args.samples)
            async with key_held(bench, conn) as key:
                held = Parking(DEFAULT_QUEUE, key, None, {"login": ["someone"]})
                results.held = await dispatch_at_depth(bench, conn, held, args.queued, args.samples)
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per throughput run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each (2)")
    parser.add_argument("--samples", type=int, default=30, help="tasks per latency measure (30)")
    parser.add_argument("--queued", type=int, default=100_000, help="the deep queue of the dispatch measure")
    return parser.parse_args(argv)


def collect(argv: list[str], console: Console) -> list[Measure]:
    """Run the benchmark and return its measures; BenchFailed when something failed."""
    args = parse_args(argv)
    # The embedded server's helper library warns about a desktop-session variable servers never have.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    with scratch_dir("rebrowse-bench-api-") as data_dir:
        return measures(asyncio.run(run(args, data_dir, console)), args.queued)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory the embedded PostgreSQL can use, removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    data_dir.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
    try:
        yield data_dir
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Run the benchmark and print its table; 1 when something failed (a missed target is reported, not an error)."""
    return run_alone(
        f"Control-plane benchmark ({os.cpu_count()} cores; {API_DEPLOYMENT})", collect, argv, (BenchFailed,)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
