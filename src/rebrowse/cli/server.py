"""`rebrowse serve|api|worker|migrate|inference`: running the control plane and workers."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from rebrowse.cli.common import DataDir, fail, invalid_input_exits, out
from rebrowse.demo.automation import DEMO_SITE
from rebrowse.demo.site import SiteServer
from rebrowse.observability.logs import configure_logging
from rebrowse.queue.schema import QueueSchemaMismatch
from rebrowse.server import (
    Runtime,
    demo_key,
    ensure_admin_key,
    recovery_admin_key,
    register_demo,
    run_all,
    run_api,
    runtime,
    stop_on_signals,
)
from rebrowse.settings import LOG_FORMATS, LOG_LEVELS, LogFormat, LogLevel, ServerSettings
from rebrowse.store.database import migrate as apply_migrations
from rebrowse.store.embedded import embedded_running

Host = Annotated[str | None, typer.Option(metavar="ADDRESS", help="Address to listen on (default 127.0.0.1)")]
Port = Annotated[int | None, typer.Option(metavar="PORT", help="Port of the API (default 8000)")]
Slots = Annotated[
    int | None, typer.Option(metavar="COUNT", help="Tasks run at once, in one shared Chromium (default 1)")
]
logger = logging.getLogger("rebrowse.cli")
LogFormatOption = Annotated[
    LogFormat | None,
    typer.Option(
        metavar="|".join(LOG_FORMATS),
        help="Logs on stderr: one JSON object per line, or text (default: text on a terminal, else json)",
    ),
]
DEMO_PORT_FILE = "demo-portal-port"  # in the data directory: the demo portal keeps its address across restarts
LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option(metavar="|".join(LOG_LEVELS), help="Least severe of rebrowse's log records shown (default info)"),
]


def server_settings(**overrides: Any) -> ServerSettings:
    if overrides.get("log_format") is None and not os.environ.get("REBROWSE_LOG_FORMAT") and sys.stderr.isatty():
        overrides["log_format"] = "text"  # a person reads a terminal; collectors read JSON
    with invalid_input_exits("settings"):
        return ServerSettings.from_env(**overrides)


def require_free_port(settings: ServerSettings) -> None:
    """Say a busy port before anything starts (and before a key is printed for a server that will not run)."""
    with socket.socket() as probe:
        try:
            probe.bind((settings.host, settings.port))
        except OSError:
            raise fail(
                f"port {settings.port} on {settings.host} is in use (another rebrowse serve?): stop it, or choose"
                " another port with --port (make serve PORT=8001)",
                1,
            ) from None


def require_shared_database(settings: ServerSettings, command: str) -> None:
    """A worker must use the API's database: with one of its own, nobody would see, run or recover its tasks."""
    if settings.database_url is None and not embedded_running(settings.data_dir):
        raise fail(
            f"rebrowse {command} needs the database the API uses: set DATABASE_URL to the API's PostgreSQL, or start"
            f" it beside a running `rebrowse serve` with the same REBROWSE_DATA_DIR (none runs in {settings.data_dir})",
            2,
        )


def run_service(settings: ServerSettings, body: Callable[[Runtime, asyncio.Event], Awaitable[None]]) -> None:
    """Open the runtime, run `body` until SIGINT/SIGTERM, close everything; errors become one line and exit 1."""
    configure_logging(settings.log_format, settings.log_level)
    # The embedded server's helper library warns about a desktop-session variable servers never have.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with runtime(settings, migrate_schema=settings.database_url is None) as rt:
            settle_garbage_collector()
            await body(rt, stop)

    try:
        asyncio.run(main())
    except (OSError, QueueSchemaMismatch) as exc:
        raise fail(str(exc), 1) from None


YOUNG_GENERATION_THRESHOLD = 50_000  # Python's default, 700, runs a collection every few requests


def settle_garbage_collector() -> None:
    """Set the collector up for a long-running server: what startup built (modules, the app, its schemas) lives
    as long as the process, so collections skip it; young objects are collected less often. Measured with
    `python -m bench.api`: about a fifth more requests per second."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])


def announce(rt: Runtime, key: str | None, endpoint: str | None) -> None:
    """Print where the API is, the key (only when just made) and a request to paste."""
    url = rt.settings.base_url
    if key is not None and key == rt.settings.admin_api_key:
        key = None  # the operator chose it; it is not echoed into terminals and logs
    out.print(f"[bold]rebrowse[/] API on {escape(url)}  (OpenAPI: {escape(url)}/docs)", highlight=False)
    out.print(f"database: {'embedded PostgreSQL in ' + str(rt.settings.data_dir) if rt.embedded else 'DATABASE_URL'}")
    if key:
        out.print(f"[bold]API key[/] (shown once, only its hash is stored): {escape(key)}", highlight=False)
    out.print(
        f"for the CLI: export REBROWSE_URL={url} REBROWSE_API_KEY={key or '<your key>'}", highlight=False, markup=False
    )
    if endpoint:
        body = f'{{"endpoint_name": "{endpoint}", "input_parameters": {{"query": ["invoice"]}}}}'
        shown_key = key or "$REBROWSE_API_KEY"
        out.print("\ntry it:", highlight=False)
        out.print(
            f"  curl -s -X POST {url}/api/v1/inference -H 'x-api-key: {shown_key}' "
            f"-H 'content-type: application/json' -d '{body}'",
            highlight=False,
            markup=False,
        )
        out.print(f"  curl -s {url}/api/v1/tasks -H 'x-api-key: {shown_key}'", highlight=False, markup=False)
    out.print("stop with Ctrl-C", style="dim")


def serve(
    host: Host = None,
    port: Port = None,
    data_dir: DataDir = None,
    slots: Slots = None,
    demo: Annotated[bool, typer.Option(help="Also serve the demo portal and register its automation")] = False,
    log_format: LogFormatOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """The all-in-one server: API, worker and callback sender (embedded PostgreSQL unless DATABASE_URL is set)."""
    settings = server_settings(
        host=host, port=port, data_dir=data_dir, slots=slots, log_format=log_format, log_level=log_level
    )
    require_free_port(settings)
    if not demo:
        run_service(settings, serve_body(None))
        return
    with demo_portal(settings.data_dir) as site:
        # The egress policy denies tasks this machine's addresses: the demo portal is allowed, nothing else of it.
        portal = urlsplit(site.url).netloc
        run_service(
            settings.model_copy(update={"browser_allow_hosts": (*settings.browser_allow_hosts, portal)}),
            serve_body(site.url),
        )


@contextmanager
def demo_portal(data_dir: Path) -> Iterator[SiteServer]:
    """The demo portal, on the port it had last time when that is free: automations written against it keep
    working after a restart."""
    remembered = data_dir / DEMO_PORT_FILE
    try:
        port = int(remembered.read_text())
    except (OSError, ValueError):
        port = 0
    site = SiteServer(DEMO_SITE, port=port)
    try:
        site.start()
    except OSError:
        site = SiteServer(DEMO_SITE)
        site.start()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        remembered.write_text(str(urlsplit(site.url).port))
        yield site
    finally:
        site.stop()


def serve_body(demo_site: str | None) -> Callable[[Runtime, asyncio.Event], Awaitable[None]]:
    """What `rebrowse serve` runs: the admin key, the demo automation aimed at `demo_site` if given, everything."""

    async def body(rt: Runtime, stop: asyncio.Event) -> None:
        key = await ensure_admin_key(rt)
        if demo_site is None:
            announce(rt, key, None)
        else:
            endpoint = await register_demo(rt, demo_site)
            announce(rt, key or await demo_key(rt), endpoint)
            out.print(f"demo portal on {demo_site}/login.html", style="dim", highlight=False)
        await run_all(rt, stop)

    return body


def api(
    host: Host = None,
    port: Port = None,
    data_dir: DataDir = None,
    log_format: LogFormatOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """The HTTP API, the callback sender and the scheduler (run any number of them against one DATABASE_URL)."""
    settings = server_settings(host=host, port=port, data_dir=data_dir, log_format=log_format, log_level=log_level)
    require_free_port(settings)

    async def body(rt: Runtime, stop: asyncio.Event) -> None:
        announce(rt, await ensure_admin_key(rt), None)
        await run_api(rt, stop)

    run_service(settings, body)


def worker(
    slots: Slots = None,
    data_dir: DataDir = None,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Worker name (default: host-pid)")] = None,
    log_format: LogFormatOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """A worker: takes tasks from the queue and replays them (run any number of them, on any machine)."""
    from rebrowse.worker.process import run_worker

    settings = server_settings(
        slots=slots, data_dir=data_dir, worker_name=name, log_format=log_format, log_level=log_level
    )
    require_shared_database(settings, "worker")

    async def body(rt: Runtime, stop: asyncio.Event) -> None:
        logger.info("worker started", extra={"slots": settings.slots})
        await run_worker(rt.settings, db=rt.db, queue=rt.queue, stop=stop, sealer=rt.sealer)

    run_service(settings, body)


def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""
    settings = server_settings(data_dir=data_dir)

    async def body(rt: Runtime, stop: asyncio.Event) -> None:
        applied = await apply_migrations(rt.db)
        out.print("applied: " + ", ".join(applied) if applied else "the schema is up to date")

    run_service(settings, body)


def create_admin_key(name: str, data_dir: Path | None) -> None:
    """Print a new admin key, made in the database itself (DATABASE_URL, or the embedded one in the data
    directory): it recovers an installation left without any."""
    settings = server_settings(data_dir=data_dir)

    async def body(rt: Runtime, stop: asyncio.Event) -> None:
        value = await recovery_admin_key(rt, name)
        out.print(f"admin key ({escape(name)}): {escape(value)}", highlight=False)
        out.print("store it now: it is not shown again", style="dim")

    run_service(settings, body)


def inference(
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Port of the child-process API (default CHILD_PORT_OFFSET + id)")
    ] = None,
    child_process_id: Annotated[
        int,
        typer.Option("--child_process_id", "--child-process-id", metavar="NUMBER", help="Which child process this is"),
    ] = 0,
    slots: Slots = None,
    log_format: LogFormatOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """A worker with Optexity's child-process API (settings from the env file named by ENV_PATH)."""
    from rebrowse.worker.child_api import ChildSettings, run_child_process

    settings = server_settings(slots=slots, log_format=log_format, log_level=log_level)
    require_shared_database(settings, "inference")
    with invalid_input_exits("settings"):
        child = ChildSettings.from_env()

    async def body(rt: Runtime, stop: asyncio.Event) -> None:
        await run_child_process(
            rt.settings,
            child,
            db=rt.db,
            queue=rt.queue,
            sealer=rt.sealer,
            child_process_id=child_process_id,
            stop=stop,
            port=port,
        )

    run_service(settings, body)
