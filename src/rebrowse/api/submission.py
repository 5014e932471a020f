"""Submitting a task (checked against its automation, secrets sealed, stored, then queued) and cancelling one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping

from rebrowse import lifecycle
from rebrowse.api.auth import Submitter
from rebrowse.api.deps import Runnable, Services, runnable_automation
from rebrowse.api.errors import BadRequest, Conflict
from rebrowse.api.schemas import InferenceRequest
from rebrowse.automation.loading import check_run_parameters
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.schema import Automation
from rebrowse.errors import AutomationInvalid, FieldError
from rebrowse.queue.app import abort
from rebrowse.store import proxies, tasks

CANCELLED_BY_USER = "Task cancelled by user"


def request_problems(automation: Automation, request: InferenceRequest) -> list[FieldError]:
    """Everything wrong with the request's parameters for this automation."""
    problems = [*unique_name_problems(request), *callback_problems(request)]
    try:
        check_run_parameters(automation, request.input_parameters, request.secure_parameters)
    except AutomationInvalid as exc:
        problems = exc.errors + problems
    return problems


def unique_name_problems(request: InferenceRequest) -> Iterator[FieldError]:
    for index, name in enumerate(request.unique_parameter_names):
        if name not in request.input_parameters:
            where = (
                " (it is a secure parameter: secure values cannot make the serialization key)"
                if name in request.secure_parameters
                else ""
            )
            yield FieldError(f"unique_parameter_names[{index}]", f"{name!r} is not a key of input_parameters{where}")


def callback_problems(request: InferenceRequest) -> Iterator[FieldError]:
    if request.task_callback_api_key is not None and request.task_callback_url is None:
        yield FieldError("task_callback_api_key", "is given without task_callback_url")


async def proxy_configured(services: Services, account_id: uuid.UUID) -> bool:
    """Whether a task of the account could go through a proxy: the server's, or one of the account's."""
    if services.settings.proxy is not None:
        return True
    async with services.db.connection() as conn:
        return bool(await proxies.list_proxies(conn, account_id))


def callback_of(services: Services, request: InferenceRequest, runnable: Runnable) -> tuple[str | None, bytes | None]:
    """Where the task's callback goes and its sealed key: the request's, else the automation's default (its key is
    stored sealed with the same key)."""
    if request.task_callback_url is not None:
        key = request.task_callback_api_key
        return request.task_callback_url, services.sealer.seal_json(key) if key is not None else None
    sealed_key = runnable.settings.get("callback_api_key")
    return runnable.settings.get("callback_url"), sealed_key.encode() if sealed_key else None


def new_task(
    services: Services, account_id: uuid.UUID, request: InferenceRequest, runnable: Runnable, pinned: str | None
) -> tasks.NewTask:
    """The task to store, its secrets sealed."""
    callback_url, callback_key = callback_of(services, request, runnable)
    return tasks.NewTask(
        account_id=account_id,
        endpoint_name=request.endpoint_name,
        automation_version=runnable.version,
        input_parameters={name: list(values) for name, values in request.input_parameters.items()},
        secure_parameters=sealed_secure(services, request.secure_parameters),
        unique_parameter_names=list(dict.fromkeys(request.unique_parameter_names)),
        priority=request.priority,
        max_timeout_in_minutes=request.max_timeout_in_minutes,
        callback_url=callback_url,
        callback_api_key=callback_key,
        pinned_worker=pinned,
        callback_include_screenshot=request.callback_include_screenshot,
        healing=request.healing,
        callback_events=list(dict.fromkeys(request.callback_events)),
        reuse_session=request.reuse_session,
        use_proxy=request.use_proxy,
        proxy_session_id=request.proxy_session_id,
    )


def sealed_secure(services: Services, secure_parameters: Mapping[str, list[SecureParameter]]) -> bytes | None:
    """A run's secure parameters (where each value comes from), sealed for the task record; None when none."""
    secure = {name: [p.model_dump(exclude_none=True) for p in values] for name, values in secure_parameters.items()}
    return services.sealer.seal_json(secure) if secure else None


async def checked_task(
    services: Services,
    account_id: uuid.UUID,
    request: InferenceRequest,
    *,
    latest: int | None = None,
    pinned_worker: str | None = None,
) -> tasks.NewTask:
    """The task a request makes with the newest version of its automation (`latest` when already looked up):
    NotFound without that automation, BadRequest naming every field the automation refuses."""
    runnable = await runnable_automation(services, account_id, request.endpoint_name, latest)
    problems = request_problems(runnable.automation, request)
    if request.use_proxy and not await proxy_configured(services, account_id):
        problems.append(FieldError("use_proxy", proxies.NO_PROXY))
    if problems:
        raise BadRequest.of_fields(problems)
    return new_task(services, account_id, request, runnable, pinned_worker)


async def submit(
    services: Services, submitter: Submitter, request: InferenceRequest, *, pinned_worker: str | None = None
) -> tasks.Task:
    """Check the request against the newest version of its automation, store the task and queue its job."""
    latest = submitter.version_of(request.endpoint_name)
    new = await checked_task(services, submitter.caller.account.id, request, latest=latest, pinned_worker=pinned_worker)
    # The task and its job are written together: a 202 means both exist, an error means neither does.
    return await services.task_writer.create(new)


async def cancel(services: Services, task: tasks.Task) -> tasks.Task:
    """A waiting task is cancelled at once; a running one is asked to stop (its worker completes it)."""
    if task.is_terminal:
        raise Conflict(f"Task {task.id} has already ended: {task.status}")
    if task.status == "queued" or task.job_id is None:
        outcome = tasks.Outcome("cancelled", error=CANCELLED_BY_USER)
        finished = await lifecycle.complete_task(
            services.db, services.sealer, task.id, outcome, public_url=services.settings.base_url
        )
        if finished is None:
            raise Conflict(f"Task {task.id} has already ended")
        task = finished
    if task.job_id is not None:
        # Also for a task just cancelled while queued: its job leaves the queue, or stops if a worker took it.
        await abort(services.queue, task)
    return task
