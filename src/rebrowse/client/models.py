"""What the SDK returns: tasks, downloads, cancellations. Fields the API adds later are ignored, not refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["queued", "allocated", "running", "success", "failed", "killed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"success", "failed", "killed", "cancelled"})


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Download(Model):
    """A file the task downloaded; `url` is served by the API with your API key."""

    filename: str
    url: str
    size: int | None = None
    metadata: dict[str, Any] | None = None


class LlmUsage(Model):
    """A task's LLM calls in all, every attempt's (zeros when it asked no model)."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


class Task(Model):
    """A task: where it is in its lifecycle and, once it has ended, what it produced."""

    task_id: str
    endpoint_name: str
    status: Status
    error: str | None = None
    retry_count: int = 0
    priority: int | None = None
    created_at: datetime
    allocated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    input_parameters: dict[str, list[Any]] = Field(default_factory=dict)
    unique_parameter_names: list[str] = Field(default_factory=list)
    output_data: list[dict[str, Any]] | None = None
    for_loop_status: list[list[dict[str, Any]]] | None = None
    downloads: list[Download] = Field(default_factory=list)
    final_screenshot: str | None = Field(default=None, description="URL of the final screenshot (PNG)")
    llm_usage: LlmUsage | None = Field(default=None, description="What the task's LLM calls cost, once it has ended")
    cached_automation_url: str | None = Field(
        default=None, description="URL of the automation its run wrote with the model's steps made deterministic"
    )
    schedule_name: str | None = Field(default=None, description="The schedule that submitted it (None: a caller)")

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == "success"


class Cancellation(Model):
    task_id: str
    status: Status
    message: str


class Schedule(Model):
    """A scheduled run: a cron expression in a time zone, and the task it submits at each tick."""

    name: str
    endpoint_name: str
    cron: str
    timezone: str
    paused: bool
    input_parameters: dict[str, list[Any]] = Field(default_factory=dict)
    unique_parameter_names: list[str] = Field(default_factory=list)
    priority: int | None = None
    task_callback_url: str | None = None
    next_run_at: datetime | None = Field(default=None, description="None while paused")
    last_run_at: datetime | None = None
    last_task_id: str | None = None
    last_task_status: Status | None = None
    last_error: str | None = Field(default=None, description="Why the last tick could not submit its task")
    created_at: datetime
    updated_at: datetime
