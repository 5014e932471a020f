"""The child-process API of Optexity's local inference server, served by a worker on 127.0.0.1.

`rebrowse inference --port 9000 --child_process_id 0` runs a worker together with this API. Tasks sent to
its `POST /inference` or `POST /allocate_task` are created by the control plane and pinned to this worker;
`POST /kill_task` cancels them there. Unlike Optexity, every endpoint but `GET /health` requires the worker's
key in `x-api-key`. Settings come from the env file named by ENV_PATH, with Optexity's names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast
from urllib.parse import quote

import httpx
import uvicorn
from fastapi import Body, Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rebrowse.errors import ConfigurationError
from rebrowse.hosting import CallerSignals
from rebrowse.queue.app import Queue, count_waiting
from rebrowse.settings import ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.process import WorkerOptions, run_worker, worker_queues
from rebrowse.worker.state import WorkerState

logger = logging.getLogger(__name__)

# Optexity's default is its hosted control plane; rebrowse's is the local one, so the key never leaves the host.
DEFAULT_SERVER_URL = "http://127.0.0.1:8000"
DEPLOYMENTS = ("dev", "prod")
# What an Optexity Task carries that the control plane's InferenceRequest accepts.
REQUEST_FIELDS = (
    "endpoint_name",
    "input_parameters",
    "secure_parameters",
    "unique_parameter_names",
    "max_timeout_in_minutes",
    "priority",
    "task_callback_url",
    "task_callback_api_key",
)


@dataclass(frozen=True)
class ChildSettings:
    """The child process's settings, with the names of Optexity's settings module."""

    api_key: str  # API_KEY (or OPTEXITY_API_KEY): the worker's key on the control plane, and for this API
    server_url: str = DEFAULT_SERVER_URL  # SERVER_URL: the control plane
    child_port_offset: int = 9000  # CHILD_PORT_OFFSET: this API listens on offset + child process id
    deployment: Literal["dev", "prod"] = "dev"  # DEPLOYMENT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ChildSettings:
        """From the env file named by ENV_PATH, overridden by the environment; ConfigurationError says what is
        wrong."""
        env = os.environ if environ is None else environ
        values = {**(read_env_file(Path(env["ENV_PATH"])) if env.get("ENV_PATH") else {}), **env}
        api_key = values.get("API_KEY") or values.get("OPTEXITY_API_KEY")
        if not api_key:
            raise ConfigurationError("API_KEY must be set (the worker's API key on the control plane)")
        deployment = values.get("DEPLOYMENT", "dev")
        if deployment not in DEPLOYMENTS:
            raise ConfigurationError("DEPLOYMENT must be dev or prod")
        try:
            offset = int(values.get("CHILD_PORT_OFFSET", "9000"))
        except ValueError:
            raise ConfigurationError("CHILD_PORT_OFFSET must be a port number") from None
        return cls(
            api_key=api_key,
            server_url=values.get("SERVER_URL", DEFAULT_SERVER_URL).rstrip("/"),
            child_port_offset=offset,
            deployment=cast(Literal["dev", "prod"], deployment),
        )


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines (optionally `export`ed, values optionally quoted); blank lines and # comments skipped."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"ENV_PATH {path} cannot be read: {exc.strerror}") from None
    return dict(env_lines(text))


def env_lines(text: str) -> Iterator[tuple[str, str]]:
    """The (name, value) pairs of an env file."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        yield name.strip(), value


def default_child_name(child_process_id: int) -> str:
    """A name that stays the same across restarts, so tasks pinned to this child wait for it."""
    return f"{socket.gethostname()}-child{child_process_id}"


class HumanInLoopCompleted(BaseModel):
    task_id: str


class ChildProcessId(BaseModel):
    new_child_process_id: str
    new_unique_child_arn: str


class ControlPlane:
    """The calls this API makes to the control plane, with the worker's key."""

    def __init__(self, settings: ChildSettings, worker_name: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=settings.server_url, headers={"x-api-key": settings.api_key}, timeout=30.0
        )
        self._settings = settings
        self._worker_name = worker_name

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def create_task(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Create a task pinned to this worker: the status code and JSON answer of the control plane."""
        return await self._post(f"/api/v1/workers/{quote(self._worker_name, safe='')}/inference", request)

    async def resume_task(self, task_id: str) -> tuple[int, dict[str, Any]]:
        """End a task's wait for a person: the status code and JSON answer of the control plane."""
        return await self._post(f"/api/v1/tasks/{quote(task_id, safe='')}/resume", None)

    async def cancel_task(self, task_id: str) -> tuple[int, dict[str, Any]]:
        """Cancel a task: the status code and JSON answer of the control plane."""
        return await self._post(f"/api/v1/tasks/{quote(task_id, safe='')}/cancel", None)

    async def _post(self, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise HTTPException(
                502, f"the control plane at {self._settings.server_url} is unreachable: {exc}"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {"success": False, "error": f"the control plane answered {response.status_code} without JSON"}
        return response.status_code, answer


def inference_request_of(task: dict[str, Any]) -> dict[str, Any]:
    """The InferenceRequest that recreates an Optexity Task (its callback object becomes the task callback)."""
    request = {name: task[name] for name in REQUEST_FIELDS if task.get(name) is not None}
    callback = task.get("callback_url")
    if "task_callback_url" not in request and isinstance(callback, dict) and callback.get("url"):
        request["task_callback_url"] = callback["url"]
        if callback.get("api_key"):
            request["task_callback_api_key"] = callback["api_key"]
    return request


def error_response(status: int, message: str) -> JSONResponse:
    """The JSON error of this API."""
    return JSONResponse({"success": False, "error": message}, status_code=status)


def create_child_app(settings: ChildSettings, state: WorkerState, queue: Queue) -> FastAPI:
    """The child-process API of the worker whose state is `state` (the queue app must be open)."""
    control = ControlPlane(settings, state.name)
    # Tasks a person finished through /human_in_loop_completed, until /hitl_status reads them (read-and-clear).
    completed_by_person: set[str] = set()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await control.close()

    async def worker_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if x_api_key is None or not secrets.compare_digest(x_api_key.encode(), settings.api_key.encode()):
            raise HTTPException(401, "Invalid or missing x-api-key: send this worker's API key")

    # The schema lists what this worker can be made to do: only for its key. No /docs page: a browser could not
    # send the key when the page loads the schema.
    app = FastAPI(title="rebrowse worker", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    keyed = [Depends(worker_key)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=keyed)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error_response(400, f"Invalid request: {problems}")

    @app.get("/health", operation_id="health")
    async def health() -> JSONResponse:
        """Healthy with what it does, or 503 when a task has run past its limit (or the queue is unreachable)."""
        overdue = state.overdue()
        if overdue is not None:
            message = f"Task not finished within {overdue.limit_s / 60:g} minutes"
            return JSONResponse({"status": "unhealthy", "message": message}, status_code=503)
        try:
            waiting = await count_waiting(queue, worker_queues(state.name))
        except Exception as exc:  # whatever the database says, this worker cannot take tasks
            return JSONResponse({"status": "unhealthy", "message": f"the queue is unreachable: {exc}"}, status_code=503)
        return JSONResponse({"status": "healthy", "task_running": state.task_running, "queued_tasks": waiting})

    @app.get("/is_task_running", operation_id="is_task_running", dependencies=keyed)
    async def is_task_running() -> bool:
        """Whether this worker runs a task now."""
        return state.task_running

    @app.post("/inference", operation_id="inference", dependencies=keyed, status_code=202)
    async def inference(request: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        """Ask the control plane to create the task, pinned to this worker."""
        status, answer = await control.create_task(request)
        return JSONResponse(answer, status_code=status)

    @app.post("/allocate_task", operation_id="allocate_task", dependencies=keyed, status_code=202)
    async def allocate_task(batch: Annotated[list[dict[str, Any]], Body()]) -> JSONResponse:
        """Run these Optexity Tasks here: each is created through the control plane, pinned to this worker."""
        task_ids: list[str] = []
        for index, task in enumerate(batch):
            status, answer = await control.create_task(inference_request_of(task))
            if status != 202:
                error = f"task {index} was not allocated: {answer.get('error', answer)}"
                return JSONResponse({"success": False, "error": error, "task_ids": task_ids}, status_code=status)
            task_ids.append(str(answer["task_id"]))
        message = f"{len(task_ids)} task(s) allocated"
        return JSONResponse({"success": True, "message": message, "task_ids": task_ids}, status_code=202)

    @app.post("/kill_task", operation_id="kill_task", dependencies=keyed)
    async def kill_task(task_ids: Annotated[list[str], Body()]) -> JSONResponse:
        """Cancel these tasks: queued ones at once, running ones within seconds."""
        results = {task_id: kill_result(*await control.cancel_task(task_id)) for task_id in task_ids}
        failed = [task_id for task_id, result in results.items() if result.startswith("error")]
        message = f"Kill signal sent for {len(task_ids) - len(failed)} of {len(task_ids)} tasks"
        return JSONResponse({"success": not failed, "message": message, "results": results})

    @app.post("/human_in_loop_completed", operation_id="human_in_loop_completed", dependencies=keyed)
    async def human_in_loop_completed(body: HumanInLoopCompleted) -> JSONResponse:
        """A person is done: the task waiting for one goes on (through the control plane's resume)."""
        status, answer = await control.resume_task(body.task_id)
        if status != 200:
            return error_response(status, str(answer.get("error", answer)))
        completed_by_person.add(body.task_id)
        return JSONResponse({"success": True, "message": f"Task {body.task_id} resumed"})

    @app.get("/hitl_status", operation_id="hitl_status", dependencies=keyed)
    async def hitl_status(task_id: str) -> dict[str, bool]:
        """Whether a person finished the task's wait since the last question (read-and-clear, as in Optexity)."""
        completed = task_id in completed_by_person
        completed_by_person.discard(task_id)
        return {"completed": completed}

    @app.post("/set_child_process_id", operation_id="set_child_process_id", dependencies=keyed)
    async def set_child_process_id(body: ChildProcessId) -> dict[str, Any]:
        """Take the identity the control plane gives this child."""
        state.child_process_id = body.new_child_process_id
        state.unique_child_arn = body.new_unique_child_arn
        return {"success": True, "child_process_id": state.child_process_id, "unique_child_arn": state.unique_child_arn}

    return app


def kill_result(status: int, answer: dict[str, Any]) -> str:
    """What became of one task of /kill_task."""
    if status == 200:
        return "cancelled"
    if status == 409:
        return "already ended"
    if status == 404:
        return "not found"
    return f"error: {answer.get('error', status)}"


async def serve_child_api(
    settings: ChildSettings,
    state: WorkerState,
    queue: Queue,
    *,
    port: int,
    stop: asyncio.Event,
    host: str = "127.0.0.1",
) -> None:
    """Serve the child-process API until `stop` is set; OSError when the port cannot be listened on."""
    config = uvicorn.Config(create_child_app(settings, state, queue), log_level="warning", log_config=None)
    server = CallerSignals(config)
    # Bound here rather than by uvicorn, which would exit the whole process when the port is taken.
    with listening_socket(host, port) as sock:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        await serving
    if not stop.is_set():
        raise RuntimeError(f"the child-process API on {host}:{port} stopped on its own")


@contextlib.contextmanager
def listening_socket(host: str, port: int) -> Iterator[socket.socket]:
    """A TCP socket bound to host:port, closed afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        yield sock
    finally:
        sock.close()


async def run_child_process(
    settings: ServerSettings,
    child: ChildSettings,
    *,
    db: Database,
    queue: Queue,
    sealer: Sealer,
    child_process_id: int,
    stop: asyncio.Event,
    port: int | None = None,
    options: WorkerOptions | None = None,
    state: WorkerState | None = None,
) -> None:
    """`rebrowse inference`: a worker and its child-process API (port CHILD_PORT_OFFSET + id unless given)."""
    state = state or WorkerState(settings.worker_name or default_child_name(child_process_id), str(child_process_id))
    worker = run_worker(settings, db=db, queue=queue, stop=stop, sealer=sealer, state=state, options=options)
    api = serve_child_api(child, state, queue, port=port or child.child_port_offset + child_process_id, stop=stop)
    parts = [asyncio.create_task(worker), asyncio.create_task(api)]
    try:
        await asyncio.wait(parts, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()  # one part ending (or failing) ends the other
        results = await asyncio.gather(*parts, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
