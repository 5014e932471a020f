"""The synchronous client (the same methods as AsyncClient, blocking)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Unpack

import httpx

from rebrowse.client import _calls
from rebrowse.client._calls import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, DEFAULT_WAIT_S, Call, Params, SubmitOptions
from rebrowse.client.errors import WaitTimeout
from rebrowse.client.models import Cancellation, Download, Schedule, Task


class Client:
    """The rebrowse API from blocking code.

    Usage:

        with rebrowse.Client("http://127.0.0.1:8000", api_key) as client:
            task = client.run("lookup", {"email": "ada@example.com"}, unique=["email"])
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(**_calls.client_options(base_url, api_key, timeout), transport=transport)

    @property
    def base_url(self) -> str:
        """The API this client talks to."""
        return str(self._http.base_url).rstrip("/")

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call) -> httpx.Response:
        request = self._http.build_request(call.method, call.path, json=call.json, params=call.params)
        with _calls.reaching(request):
            response = self._http.send(request)
        return _calls.checked(response)

    def submit(
        self,
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
    ) -> str:
        """Queue a run of the automation `endpoint`; returns its task id. `healing`: whether a step whose command
        fails may fall back to the model (None: the server's REBROWSE_HEALING). `reuse_session`: start from the
        state the login's last success kept, and keep this run's; `use_proxy`: through the upstream proxy, with
        `proxy_session_id` for sticky sessions (None: the automation's settings)."""
        call = _calls.submit(
            endpoint,
            params,
            secure=secure,
            unique=unique,
            priority=priority,
            callback_url=callback_url,
            callback_api_key=callback_api_key,
            callback_include_screenshot=callback_include_screenshot,
            timeout_minutes=timeout_minutes,
            healing=healing,
            reuse_session=reuse_session,
            use_proxy=use_proxy,
            proxy_session_id=proxy_session_id,
        )
        return _calls.task_id_of(self._send(call))

    def status(self, task_id: str) -> Task:
        """The task as it is now."""
        return _calls.task_of(self._send(_calls.status(task_id)))

    def wait(self, task_id: str, *, timeout: float = DEFAULT_WAIT_S, poll_interval: float = DEFAULT_POLL_S) -> Task:
        """The task once it has ended; WaitTimeout when it is still going after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not (task := self.status(task_id)).is_terminal:
            if time.monotonic() >= deadline:
                raise WaitTimeout(task_id, task.status)
            time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))
        return task

    def run(
        self,
        endpoint: str,
        params: Params,
        *,
        unique: Sequence[str] | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT_S,
        **options: Unpack[SubmitOptions],
    ) -> Task:
        """Submit a run and, with `wait`, return it once it has ended (else as it is just after submission)."""
        task_id = self.submit(endpoint, params, unique=unique, **options)
        return self.wait(task_id, timeout=timeout) if wait else self.status(task_id)

    def cancel(self, task_id: str) -> Cancellation:
        """Cancel the task: a waiting one at once, a running one within seconds (ConflictError once ended)."""
        return _calls.cancellation_of(self._send(_calls.cancel(task_id)))

    def outputs(self, task_id: str) -> list[dict[str, Any]]:
        """The data the task extracted."""
        return _calls.outputs_of(self._send(_calls.outputs(task_id)))

    def downloads(self, task_id: str) -> list[Download]:
        """The files the task downloaded."""
        return _calls.downloads_of(self._send(_calls.downloads(task_id)))

    def download(self, task_id: str, filename: str) -> bytes:
        """The content of one file the task downloaded."""
        return (self._send(_calls.download(task_id, filename))).content

    def trace(self, task_id: str) -> bytes:
        """The task's Playwright trace (a zip for `playwright show-trace`); NotFoundError when its run kept none."""
        return (self._send(_calls.trace(task_id))).content

    def cached_automation(self, task_id: str) -> dict[str, Any]:
        """The automation the task's run wrote with the model's steps made deterministic (NotFoundError when it
        left none: it used no model, or it failed)."""
        return _calls.definition_of(self._send(_calls.cached_automation(task_id)))

    def save_cached_automation(self, task_id: str) -> int:
        """Store the task's cached automation as the next version of its automation; returns the version
        (ConflictError when the automation changed since the task ran)."""
        return _calls.version_of(self._send(_calls.save_cached_automation(task_id)))

    def get_automation_version(self, name: str, version: int) -> dict[str, Any]:
        """That version of the automation `name`: its automation JSON (keys as written, secure values "[sealed]"),
        parameters, settings (NotFoundError when it has no such version)."""
        return _calls.definition_of(self._send(_calls.automation_version(name, version)))

    def diff_automation(self, name: str, from_version: int, to_version: int) -> dict[str, Any]:
        """What changed between two versions: `diff` (a unified diff of their JSON), `changes` (description and
        settings) and `secure_values_changed`."""
        return _calls.definition_of(self._send(_calls.diff_automation(name, from_version, to_version)))

    def rollback_automation(self, name: str, version: int, description: str | None = None) -> dict[str, Any]:
        """Store that old version again as a new one (its JSON, secure values and settings); returns the new version
        as saving does."""
        return _calls.definition_of(self._send(_calls.rollback_automation(name, version, description)))

    def automation_runs(self, name: str, days: int = 30) -> dict[str, Any]:
        """Its runs in the last `days` UTC days: `per_day` counts and median durations, `success_rate`,
        `median_duration_s`, `p95_duration_s`, and `last_failure`."""
        return _calls.definition_of(self._send(_calls.automation_runs(name, days)))

    def put_schedule(
        self,
        name: str,
        endpoint: str,
        params: Params,
        *,
        cron: str,
        timezone: str | None = None,
        paused: bool | None = None,
        unique: Sequence[str] | None = None,
        **options: Unpack[SubmitOptions],
    ) -> Schedule:
        """Create or replace the schedule `name`: a run of `endpoint` with these parameters (and `submit`'s options)
        at every minute the five-field `cron` expression matches in `timezone` (an IANA name; None: UTC)."""
        call = _calls.put_schedule(
            name, endpoint, params, cron=cron, timezone=timezone, paused=paused, unique=unique, **options
        )
        return _calls.schedule_of(self._send(call))

    def list_schedules(self) -> list[Schedule]:
        """Your schedules, with their next and last runs."""
        return _calls.schedules_of(self._send(_calls.list_schedules()))

    def get_schedule(self, name: str) -> Schedule:
        return _calls.schedule_of(self._send(_calls.get_schedule(name)))

    def pause_schedule(self, name: str) -> Schedule:
        """Stop firing the schedule (ticks until it is resumed are skipped)."""
        return _calls.schedule_of(self._send(_calls.pause_schedule(name)))

    def resume_schedule(self, name: str) -> Schedule:
        return _calls.schedule_of(self._send(_calls.resume_schedule(name)))

    def delete_schedule(self, name: str) -> None:
        """Delete the schedule (the tasks it submitted stay)."""
        self._send(_calls.delete_schedule(name))

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None) -> Any:
        """Any API call (see /docs); returns the decoded JSON body, or None for an empty one."""
        return _calls.json_of(self._send(Call(method, path, json=json, params=params)))

    def signing_secret(self) -> bytes:
        """Your account's secret that signs callbacks (for rebrowse.verify_signature)."""
        return _calls.secret_of(self._send(_calls.signing_secret()))
