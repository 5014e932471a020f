"""What both clients share: building each request and reading each response (no IO here)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from rebrowse.client.errors import APIConnectionError, APITimeoutError, MissingAPIKey, error_for
from rebrowse.client.models import Cancellation, Download, Schedule, Task
from rebrowse.errors import FieldError
from rebrowse.version import __version__

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_WAIT_S = 600.0
DEFAULT_POLL_S = 0.5

Scalar = str | int | float | bool
Params = Mapping[str, Sequence[Scalar] | Scalar]


class SubmitOptions(TypedDict, total=False):
    """The optional arguments of `submit`, also taken by `run`."""

    secure: Mapping[str, Sequence[Mapping[str, Any]]] | None
    priority: int | None
    callback_url: str | None
    callback_api_key: str | None
    callback_include_screenshot: bool | None
    timeout_minutes: float | None
    healing: bool | None
    reuse_session: bool | None
    use_proxy: bool | None
    proxy_session_id: str | None


@dataclass(frozen=True)
class Call:
    """One HTTP request of the API."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None


def client_options(base_url: str | None, api_key: str | None, timeout: float) -> dict[str, Any]:
    """httpx client arguments; the URL and key default to REBROWSE_URL and REBROWSE_API_KEY."""
    key = api_key or os.environ.get("REBROWSE_API_KEY")
    if not key:
        raise MissingAPIKey("an API key is needed: pass api_key= or set REBROWSE_API_KEY")
    return {
        "base_url": base_url or os.environ.get("REBROWSE_URL") or DEFAULT_URL,
        "headers": {"x-api-key": key, "user-agent": f"rebrowse-python/{__version__}"},
        "timeout": timeout,
        "follow_redirects": False,
    }


def as_lists(params: Params) -> dict[str, list[Scalar]]:
    """Input parameters as the API takes them: a list of values per name (a single value becomes a list)."""
    return {
        name: [value] if isinstance(value, str | int | float | bool) else list(value) for name, value in params.items()
    }


def task_path(task_id: str, *rest: str) -> str:
    return "/".join(["/api/v1/tasks", quote(str(task_id), safe=""), *(quote(part, safe="") for part in rest)])


def submit(
    endpoint: str,
    params: Params,
    *,
    secure: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    unique: Sequence[str] | None = None,
    priority: int | None = None,
    callback_url: str | None = None,
    callback_api_key: str | None = None,
    callback_include_screenshot: bool | None = None,
    timeout_minutes: float | None = None,
    healing: bool | None = None,
    reuse_session: bool | None = None,
    use_proxy: bool | None = None,
    proxy_session_id: str | None = None,
) -> Call:
    body: dict[str, Any] = {"endpoint_name": endpoint, "input_parameters": as_lists(params)}
    optional = {
        "secure_parameters": {name: [dict(v) for v in values] for name, values in secure.items()} if secure else None,
        "unique_parameter_names": list(unique) if unique else None,
        "priority": priority,
        "task_callback_url": callback_url,
        "task_callback_api_key": callback_api_key,
        "callback_include_screenshot": callback_include_screenshot,
        "max_timeout_in_minutes": timeout_minutes,
        "healing": healing,
        "reuse_session": reuse_session,
        "use_proxy": use_proxy,
        "proxy_session_id": proxy_session_id,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return Call("POST", "/api/v1/inference", json=body)


def schedule_path(name: str, *rest: str) -> str:
    return "/".join(["/api/v1/schedules", quote(name, safe=""), *rest])


def put_schedule(
    name: str,
    endpoint: str,
    params: Params,
    *,
    cron: str,
    timezone: str | None = None,
    paused: bool | None = None,
    unique: Sequence[str] | None = None,
    **options: Unpack[SubmitOptions],
) -> Call:
    """A schedule's body: the fields of a submission, with when to run."""
    body = submit(endpoint, params, unique=unique, **options).json
    optional = {"timezone": timezone, "paused": paused}
    body.update({"cron": cron, **{field: value for field, value in optional.items() if value is not None}})
    return Call("PUT", schedule_path(name), json=body)


def list_schedules() -> Call:
    return Call("GET", "/api/v1/schedules")


def get_schedule(name: str) -> Call:
    return Call("GET", schedule_path(name))


def pause_schedule(name: str) -> Call:
    return Call("POST", schedule_path(name, "pause"))


def resume_schedule(name: str) -> Call:
    return Call("POST", schedule_path(name, "resume"))


def delete_schedule(name: str) -> Call:
    return Call("DELETE", schedule_path(name))


def status(task_id: str) -> Call:
    return Call("GET", task_path(task_id))


def cancel(task_id: str) -> Call:
    return Call("POST", task_path(task_id, "cancel"))


def outputs(task_id: str) -> Call:
    return Call("GET", "/api/v1/get_output_data", params={"task_id": str(task_id)})


def downloads(task_id: str) -> Call:
    return Call("GET", "/api/v1/get_downloads", params={"task_id": str(task_id)})


def download(task_id: str, filename: str) -> Call:
    return Call("GET", task_path(task_id, "downloads", filename))


def trace(task_id: str) -> Call:
    return Call("GET", task_path(task_id, "trace"))


def cached_automation(task_id: str) -> Call:
    return Call("GET", task_path(task_id, "cached_automation"))


def save_cached_automation(task_id: str) -> Call:
    return Call("POST", task_path(task_id, "cached_automation", "save"))


def automation_path(name: str, *rest: str) -> str:
    return "/".join(["/api/v1/automations", quote(name, safe=""), *rest])


def automation_version(name: str, version: int) -> Call:
    return Call("GET", automation_path(name, "versions", str(version)))


def diff_automation(name: str, from_version: int, to_version: int) -> Call:
    params = {"from_version": str(from_version), "to_version": str(to_version)}
    return Call("GET", automation_path(name, "diff"), params=params)


def rollback_automation(name: str, version: int, description: str | None) -> Call:
    body: dict[str, Any] = {"version": version}
    if description is not None:
        body["description"] = description
    return Call("POST", automation_path(name, "rollback"), json=body)


def automation_runs(name: str, days: int) -> Call:
    return Call("GET", automation_path(name, "runs"), params={"days": str(days)})


def signing_secret() -> Call:
    return Call("GET", "/api/v1/callbacks/signing_secret")


@contextmanager
def reaching(request: httpx.Request) -> Iterator[None]:
    """httpx's transport errors (refused, reset, DNS, timeouts, ...) as the SDK's own, naming the URL."""
    url = str(request.url.copy_with(query=None))
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(url, f"no answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(url, str(exc) or type(exc).__name__) from exc


def checked(response: httpx.Response) -> httpx.Response:
    """The response, or the typed error its status stands for."""
    if response.is_success:
        return response
    message, errors = error_details(response)
    raise error_for(response.status_code, message, errors)


def error_details(response: httpx.Response) -> tuple[str, list[FieldError]]:
    """The message and field errors of an error body (the API's JSON shape, or any other body)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase, []
    if not isinstance(body, dict):
        return str(body)[:500], []
    message = body.get("error") or body.get("detail") or response.reason_phrase
    errors = [FieldError(str(e.get("path", "")), str(e.get("message", ""))) for e in body.get("errors") or []]
    return str(message), errors


def task_id_of(response: httpx.Response) -> str:
    return str(response.json()["task_id"])


def task_of(response: httpx.Response) -> Task:
    return Task.model_validate(response.json())


def schedule_of(response: httpx.Response) -> Schedule:
    return Schedule.model_validate(response.json())


def schedules_of(response: httpx.Response) -> list[Schedule]:
    return [Schedule.model_validate(item) for item in response.json()["schedules"]]


def cancellation_of(response: httpx.Response) -> Cancellation:
    return Cancellation.model_validate(response.json())


def outputs_of(response: httpx.Response) -> list[dict[str, Any]]:
    return list(response.json().get("output_data") or [])


def downloads_of(response: httpx.Response) -> list[Download]:
    return [Download.model_validate(item) for item in response.json().get("downloads") or []]


def definition_of(response: httpx.Response) -> dict[str, Any]:
    found: dict[str, Any] = response.json()
    return found


def version_of(response: httpx.Response) -> int:
    return int(response.json()["version"])


def secret_of(response: httpx.Response) -> bytes:
    return bytes.fromhex(response.json()["signing_secret"])


def json_of(response: httpx.Response) -> Any:
    return response.json() if response.content else None
