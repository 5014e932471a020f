"""Response bodies built from the store's records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from rebrowse.api import artifacts
from rebrowse.api.cron import next_run
from rebrowse.api.schemas import (
    AutomationDiff,
    AutomationInfo,
    AutomationRuns,
    AutomationSaved,
    AutomationSettings,
    CallbackSummary,
    CallStatus,
    Change,
    DayRuns,
    HealedStep,
    KeyInfo,
    LastFailure,
    LlmUsageView,
    NewKey,
    ParametersSummary,
    ScheduleInfo,
    TaskDetail,
    TaskSummary,
    WaitingFor,
)
from rebrowse.automation.diff import unified_diff
from rebrowse.automation.loading import summarize
from rebrowse.automation.schema import Automation
from rebrowse.automation.sealed import SEALED
from rebrowse.settings import ServerSettings
from rebrowse.store.accounts import ApiKey
from rebrowse.store.automations import StoredAutomation, stored_secrets
from rebrowse.store.runs import RunsOverTime
from rebrowse.store.schedules import Schedule
from rebrowse.store.sealing import Sealer
from rebrowse.store.tasks import Task

FAILED = ("failed", "killed")


def automation_info(stored: StoredAutomation) -> AutomationInfo:
    return AutomationInfo(
        endpoint_name=stored.endpoint_name,
        version=stored.version,
        description=stored.description,
        created_at=stored.created_at,
    )


def automation_saved(stored: StoredAutomation, automation: Automation) -> AutomationSaved:
    summary = summarize(automation)
    return AutomationSaved(
        **automation_info(stored).model_dump(),
        parameters=ParametersSummary(
            input_parameters=list(summary.input_parameters),
            secure_parameters=list(summary.secure_parameters),
            generated_parameters=list(summary.generated_parameters),
        ),
        total_nodes=summary.total_nodes,
        settings=shown_settings(stored.settings),
    )


def shown_settings(settings: dict[str, Any]) -> AutomationSettings:
    """The automation's settings as they are shown: its callback key, if any, reads "[sealed]"."""
    if settings.get("callback_api_key") is not None:
        settings = {**settings, "callback_api_key": SEALED}
    return AutomationSettings.model_validate(settings)


def automation_diff(before: StoredAutomation, after: StoredAutomation, sealer: Sealer) -> AutomationDiff:
    """What differs from one version to another: the JSON as shown, description, settings as shown, and whether
    the sealed values differ (only that: they are never shown)."""
    name = before.endpoint_name
    return AutomationDiff(
        endpoint_name=name,
        from_version=before.version,
        to_version=after.version,
        diff=unified_diff(before.definition, after.definition, f"{name} v{before.version}", f"{name} v{after.version}"),
        changes=changes(before, after),
        secure_values_changed=stored_secrets(before, sealer) != stored_secrets(after, sealer),
    )


def changes(before: StoredAutomation, after: StoredAutomation) -> list[Change]:
    """The description and each setting (as shown) that differ."""
    found = []
    if before.description != after.description:
        found.append(Change(field="description", before=before.description, after=after.description))
    shown_before = shown_settings(before.settings).model_dump()
    shown_after = shown_settings(after.settings).model_dump()
    for key, value in shown_before.items():
        if shown_after[key] != value:
            found.append(Change(field=f"settings.{key}", before=value, after=shown_after[key]))
    return found


def automation_runs(endpoint_name: str, days: int, runs: RunsOverTime) -> AutomationRuns:
    overall = runs.overall
    ended = overall.succeeded + overall.failed
    failure = runs.last_failure
    return AutomationRuns(
        endpoint_name=endpoint_name,
        days=days,
        total=overall.total,
        succeeded=overall.succeeded,
        failed=overall.failed,
        cancelled=overall.cancelled,
        success_rate=overall.succeeded / ended if ended else None,
        median_duration_s=overall.median_duration_s,
        p95_duration_s=overall.p95_duration_s,
        per_day=[
            DayRuns(
                day=day.day,
                total=day.total,
                succeeded=day.succeeded,
                failed=day.failed,
                cancelled=day.cancelled,
                median_duration_s=day.median_duration_s,
            )
            for day in runs.per_day
        ],
        last_failure=None if failure is None else LastFailure(**asdict(failure)),
    )


def schedule_info(schedule: Schedule, now: datetime) -> ScheduleInfo:
    """A schedule as shown (never its sealed secrets), with its next run after `now` unless paused."""
    request = schedule.request
    return ScheduleInfo(
        name=schedule.name,
        endpoint_name=schedule.endpoint_name,
        cron=schedule.cron,
        timezone=schedule.timezone,
        paused=schedule.paused,
        input_parameters=request.get("input_parameters", {}),
        unique_parameter_names=request.get("unique_parameter_names", []),
        priority=request.get("priority"),
        task_callback_url=request.get("task_callback_url"),
        next_run_at=None if schedule.paused else next_run(schedule.cron, schedule.timezone, now),
        last_run_at=schedule.last_run_at,
        last_task_id=schedule.last_task_id,
        last_task_status=schedule.last_task_status,
        last_error=schedule.last_error,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def call_status(task: Task) -> CallStatus:
    """Optexity's status shape: `end_point` is the endpoint name, `result` the output data."""
    execution_time = None
    if task.started_at is not None and task.completed_at is not None:
        execution_time = f"{(task.completed_at - task.started_at).total_seconds():.2f} seconds"
    return CallStatus(
        task_id=task.id,
        status=task.status,
        end_point=task.endpoint_name,
        created_at=task.created_at,
        started_at=task.started_at,
        completed_at=task.completed_at,
        failed_at=task.completed_at if task.status in FAILED else None,
        error=task.error,
        result=task.output_data,
        execution_time=execution_time,
        retry_count=task.retry_count,
    )


def task_summary(task: Task) -> TaskSummary:
    return TaskSummary(
        task_id=task.id,
        endpoint_name=task.endpoint_name,
        kind=task.kind,
        status=task.status,
        waiting_for=WaitingFor.model_validate(task.waiting_for) if task.waiting_for is not None else None,
        unique_parameters=task.unique_parameters,
        error=task.error,
        retry_count=task.retry_count,
        priority=task.priority,
        created_at=task.created_at,
        allocated_at=task.allocated_at,
        started_at=task.started_at,
        completed_at=task.completed_at,
        schedule_name=task.schedule_name,
    )


def task_detail(settings: ServerSettings, task: Task, callbacks: list[CallbackSummary]) -> TaskDetail:
    return TaskDetail(
        **task_summary(task).model_dump(),
        automation_version=task.automation_version,
        input_parameters=task.input_parameters,
        unique_parameter_names=task.unique_parameter_names,
        max_timeout_in_minutes=task.max_timeout_in_minutes,
        worker_name=task.worker_name,
        pinned_worker=task.pinned_worker,
        output_data=task.output_data,
        for_loop_status=task.for_loop_status,
        downloads=artifacts.download_links(settings, task),
        final_screenshot=artifacts.screenshot_url(settings, task),
        steps_count=task.steps_count,
        llm_usage=LlmUsageView.model_validate(task.llm_usage) if task.llm_usage is not None else None,
        healed=[HealedStep.model_validate(step) for step in task.healed] if task.healed is not None else None,
        cached_automation_url=artifacts.cached_automation_link(settings, task),
        callback_events=task.callback_events,
        reuse_session=task.reuse_session,
        session_reused=task.session_reused,
        use_proxy=task.use_proxy,
        proxy_session_id=task.proxy_session_id,
        callbacks=callbacks,
    )


def key_info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=key.role,
        is_admin=key.is_admin,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def new_key(key: ApiKey, value: str) -> NewKey:
    return NewKey(**key_info(key).model_dump(), api_key=value)
