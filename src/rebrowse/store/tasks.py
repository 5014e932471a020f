"""Tasks: one run of an automation with its inputs, through queued → allocated → running → a terminal state."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from rebrowse.llm.client import LlmUsage
from rebrowse.store import notifications
from rebrowse.store.database import Connection

TaskStatus = Literal["queued", "allocated", "running", "success", "failed", "killed", "cancelled"]
TERMINAL: tuple[TaskStatus, ...] = ("success", "failed", "killed", "cancelled")
ACTIVE: tuple[TaskStatus, ...] = ("queued", "allocated", "running")
CallbackEventName = Literal["waiting_for_person"]
CALLBACK_EVENTS: tuple[CallbackEventName, ...] = ("waiting_for_person",)
WAKE_CHANNEL = "rebrowse_task_wake"  # NOTIFY payload: the id of a task whose wait for a person (or recording) ended
TaskKind = Literal["automation", "recording"]


@dataclass
class Task:
    id: uuid.UUID
    account_id: uuid.UUID
    endpoint_name: str
    automation_version: int
    input_parameters: dict[str, list[Any]]
    unique_parameter_names: list[str]
    serialization_key: str | None
    priority: int | None
    max_timeout_in_minutes: float
    callback_url: str | None
    status: TaskStatus
    error: str | None
    retry_count: int
    job_id: int | None
    worker_name: str | None
    pinned_worker: str | None
    output_data: list[dict[str, Any]] | None
    for_loop_status: list[list[dict[str, Any]]] | None
    downloads: list[dict[str, Any]] | None
    final_screenshot: str | None
    steps_count: int
    llm_usage: dict[str, int] | None  # LlmUsage, once the task has ended
    healed: list[dict[str, str]] | None  # the steps the model healed (RunResult.healed), once the task has ended
    created_at: datetime
    allocated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    # Sealed columns stay sealed in the record; only the worker opens them, when it runs the task.
    secure_parameters: bytes | None = field(default=None, repr=False)
    callback_api_key: bytes | None = field(default=None, repr=False)
    callback_include_screenshot: bool = False
    healing: bool | None = None  # whether a failed command may fall back to the model; None: the server's setting
    cached_automation: str | None = None  # path of the automation the run wrote with the model's steps made fixed
    # While the running task waits for a person: {kind, message, node, since, deadline} (see Waiting); else None.
    waiting_for: dict[str, Any] | None = None
    callback_events: list[str] = field(default_factory=list)  # extra callback events subscribed to
    # Warm session and proxy: what the request asked (None: the automation's setting) until the worker records what
    # the run does; session_reused: the run started from a state a successful run of the same login kept.
    reuse_session: bool | None = None
    use_proxy: bool | None = None
    proxy_session_id: str | None = None
    session_reused: bool = False
    kind: TaskKind = "automation"  # "recording": the worker records a person's actions on start_url (no automation)
    start_url: str | None = None
    recording: dict[str, Any] | None = None  # a recording's {steps, draft, errors} so far (never a secret's value)
    stop_requested: bool = False  # a recording's owner asked for its draft
    inline_automation: dict[str, Any] | None = None  # the draft a "run once" runs (no saved automation then)
    schedule_name: str | None = None  # the schedule that submitted it (None: submitted by a caller)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_interactive(self) -> bool:
        """Whether its owner may drive its browser through the live view now: while it waits for a person, or
        while it records."""
        if self.status != "running":
            return False
        return self.kind == "recording" or (self.waiting_for is not None and self.waiting_for["kind"] == "person")

    @property
    def unique_parameters(self) -> dict[str, list[Any]]:
        return {name: self.input_parameters.get(name, []) for name in self.unique_parameter_names}


@dataclass(frozen=True)
class NewTask:
    """What a submission stores."""

    account_id: uuid.UUID
    endpoint_name: str
    automation_version: int
    input_parameters: dict[str, list[Any]]
    secure_parameters: bytes | None
    unique_parameter_names: list[str]
    priority: int | None
    max_timeout_in_minutes: float
    callback_url: str | None
    callback_api_key: bytes | None
    pinned_worker: str | None = None
    callback_include_screenshot: bool = False
    healing: bool | None = None
    callback_events: list[str] = field(default_factory=list)
    reuse_session: bool | None = None
    use_proxy: bool | None = None
    proxy_session_id: str | None = None
    kind: TaskKind = "automation"
    start_url: str | None = None
    inline_automation: dict[str, Any] | None = None
    schedule_name: str | None = None


@dataclass(frozen=True)
class Waiting:
    """What a running task waits for, until `deadline`: a person (`message` says what to do) or a 2FA code
    (`message` names the channel and filter)."""

    message: str
    node: str
    since: datetime
    deadline: datetime
    kind: Literal["person", "two_fa"] = "person"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "node": self.node,
            "since": self.since.isoformat(),
            "deadline": self.deadline.isoformat(),
        }


@dataclass(frozen=True)
class Outcome:
    """How a task ended and what it produced."""

    status: TaskStatus
    error: str | None = None
    output_data: list[dict[str, Any]] | None = None
    for_loop_status: list[list[dict[str, Any]]] | None = None
    downloads: list[dict[str, Any]] | None = None
    final_screenshot: str | None = None
    steps_count: int = 0
    # What the task's LLM calls cost (LlmUsage.to_json()); zeros when it asked no model.
    llm_usage: dict[str, int] = field(default_factory=lambda: LlmUsage().to_json())
    # The steps the model healed (RunResult.healed); empty when none was.
    healed: list[dict[str, str]] = field(default_factory=list)
    # The path of the cached automation the run wrote (RunResult.cached_automation); None when it wrote none.
    cached_automation: str | None = None


def serialization_key(account_id: uuid.UUID, unique: dict[str, list[Any]]) -> str | None:
    """The per-login mutex key: the account plus the sorted unique values (None: no serialization)."""
    if not unique:
        return None
    return f"{account_id}:{json.dumps(unique, sort_keys=True)}"


def task_of(row: dict[str, Any]) -> Task:
    return Task(**{name: row[name] for name in Task.__dataclass_fields__})


# The columns a submission fills, with their types (the queue's batch insert passes each as an array).
NEW_TASK_COLUMNS: dict[str, str] = {
    "id": "uuid",
    "account_id": "uuid",
    "endpoint_name": "text",
    "automation_version": "integer",
    "input_parameters": "jsonb",
    "secure_parameters": "bytea",
    "unique_parameter_names": "jsonb",
    "serialization_key": "text",
    "priority": "integer",
    "max_timeout_in_minutes": "double precision",
    "callback_url": "text",
    "callback_api_key": "bytea",
    "pinned_worker": "text",
    "callback_include_screenshot": "boolean",
    "healing": "boolean",
    "callback_events": "jsonb",
    "reuse_session": "boolean",
    "use_proxy": "boolean",
    "proxy_session_id": "text",
    "kind": "text",
    "start_url": "text",
    "inline_automation": "jsonb",
    "schedule_name": "text",
}


def new_task_values(task_id: uuid.UUID, new: NewTask) -> dict[str, Any]:
    """The values of NEW_TASK_COLUMNS for a new queued task."""
    unique = {name: new.input_parameters.get(name, []) for name in new.unique_parameter_names}
    return {
        "id": task_id,
        "account_id": new.account_id,
        "endpoint_name": new.endpoint_name,
        "automation_version": new.automation_version,
        "input_parameters": Jsonb(new.input_parameters),
        "secure_parameters": new.secure_parameters,
        "unique_parameter_names": Jsonb(new.unique_parameter_names),
        "serialization_key": serialization_key(new.account_id, unique),
        "priority": new.priority,
        "max_timeout_in_minutes": new.max_timeout_in_minutes,
        "callback_url": new.callback_url,
        "callback_api_key": new.callback_api_key,
        "pinned_worker": new.pinned_worker,
        "callback_include_screenshot": new.callback_include_screenshot,
        "healing": new.healing,
        "callback_events": Jsonb(new.callback_events),
        "reuse_session": new.reuse_session,
        "use_proxy": new.use_proxy,
        "proxy_session_id": new.proxy_session_id,
        "kind": new.kind,
        "start_url": new.start_url,
        "inline_automation": Jsonb(new.inline_automation) if new.inline_automation is not None else None,
        "schedule_name": new.schedule_name,
    }


INSERT_TASK = (
    f"INSERT INTO tasks ({', '.join(NEW_TASK_COLUMNS)})"
    f" VALUES ({', '.join(f'%({name})s' for name in NEW_TASK_COLUMNS)}) RETURNING *"
)


async def create_task(conn: Connection, new: NewTask) -> Task:
    """Store a queued task (without its job: rebrowse.queue.app.create_queued_tasks writes both)."""
    row = await (await conn.execute(INSERT_TASK, new_task_values(uuid.uuid4(), new))).fetchone()
    assert row is not None
    return task_of(row)


async def set_job_id(conn: AsyncConnection[Any], task_id: uuid.UUID, job_id: int) -> None:
    """Record the task's job (any row type: the queue writes it on its own connection)."""
    await conn.execute("UPDATE tasks SET job_id = %(job)s WHERE id = %(id)s", {"job": job_id, "id": task_id})


async def get_task(conn: Connection, task_id: uuid.UUID, account_id: uuid.UUID | None = None) -> Task | None:
    """A task; with account_id, only when that account owns it (others' tasks look like missing ones)."""
    row = await (
        await conn.execute(
            "SELECT * FROM tasks WHERE id = %(id)s AND (%(account)s::uuid IS NULL OR account_id = %(account)s)",
            {"id": task_id, "account": account_id},
        )
    ).fetchone()
    return task_of(row) if row else None


def encode_cursor(task: Task) -> str:
    raw = f"{task.created_at.isoformat()}|{task.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) position a cursor stands for; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, task_id = raw.split("|")
        return datetime.fromisoformat(created), uuid.UUID(task_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not valid") from exc


async def list_tasks(
    conn: Connection,
    account_id: uuid.UUID,
    *,
    status: TaskStatus | None = None,
    endpoint_name: str | None = None,
    endpoint_contains: str | None = None,
    task_id_prefix: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Task], str | None]:
    """The account's tasks, newest first, one page at a time (keyset pagination: flat cost at any depth).
    `endpoint_contains` matches part of the endpoint's name whatever its case; `task_id_prefix` the start of the id
    (what a person pastes from a log or a shortened column)."""
    after = decode_cursor(cursor) if cursor else None
    rows = await (
        await conn.execute(
            "SELECT * FROM tasks WHERE account_id = %(account_id)s"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(endpoint_name)s::text IS NULL OR endpoint_name = %(endpoint_name)s)"
            " AND (%(contains)s::text IS NULL OR strpos(lower(endpoint_name), lower(%(contains)s)) > 0)"
            " AND (%(prefix)s::text IS NULL OR starts_with(id::text, lower(%(prefix)s)))"
            " AND (%(after_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_at)s, %(after_id)s))"
            " ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
            {
                "account_id": account_id,
                "status": status,
                "endpoint_name": endpoint_name,
                "contains": endpoint_contains,
                "prefix": task_id_prefix,
                "after_at": after and after[0],
                "after_id": after and after[1],
                "limit": limit + 1,
            },
        )
    ).fetchall()
    found = [task_of(row) for row in rows[:limit]]
    return found, encode_cursor(found[-1]) if len(rows) > limit else None


async def mark_allocated(conn: Connection, task_id: uuid.UUID, worker_name: str) -> Task | None:
    """queued → allocated for this worker; None when the task is no longer waiting (e.g. cancelled)."""
    row = await (
        await conn.execute(
            "UPDATE tasks SET status = 'allocated', allocated_at = now(), worker_name = %(worker)s, error = NULL"
            " WHERE id = %(id)s AND status IN ('queued', 'allocated', 'running') RETURNING *",
            {"worker": worker_name, "id": task_id},
        )
    ).fetchone()
    return task_of(row) if row else None


async def mark_running(conn: Connection, task_id: uuid.UUID, retry_count: int) -> None:
    """allocated → running (the started_at of the first attempt is kept)."""
    await conn.execute(
        "UPDATE tasks SET status = 'running', started_at = coalesce(started_at, now()), retry_count = %(retries)s"
        " WHERE id = %(id)s AND status IN ('allocated', 'running')",
        {"retries": retry_count, "id": task_id},
    )


async def record_login(
    conn: Connection, task_id: uuid.UUID, reuse_session: bool, use_proxy: bool, session_reused: bool
) -> None:
    """What the run does about its login: keeps its session, goes through a proxy, starts from a kept state."""
    await conn.execute(
        "UPDATE tasks SET reuse_session = %(reuse_session)s, use_proxy = %(use_proxy)s,"
        " session_reused = %(session_reused)s WHERE id = %(id)s",
        {"reuse_session": reuse_session, "use_proxy": use_proxy, "session_reused": session_reused, "id": task_id},
    )


async def requeue(conn: Connection, task_id: uuid.UUID, error: str, retry_count: int) -> None:
    """Back to queued after a lost attempt (worker gone), keeping the reason."""
    await conn.execute(
        "UPDATE tasks SET status = 'queued', error = %(error)s, retry_count = %(retries)s, worker_name = NULL"
        " WHERE id = %(id)s AND status IN ('allocated', 'running')",
        {"error": error, "retries": retry_count, "id": task_id},
    )


async def finish_task(conn: Connection, task_id: uuid.UUID, outcome: Outcome) -> Task | None:
    """Set a terminal status once; None when the task had already ended (the first ending wins)."""
    row = await (
        await conn.execute(
            "UPDATE tasks SET status = %(status)s, error = %(error)s, output_data = %(output_data)s,"
            " for_loop_status = %(for_loop_status)s, downloads = %(downloads)s,"
            " final_screenshot = %(final_screenshot)s, steps_count = %(steps_count)s, llm_usage = %(llm_usage)s,"
            " healed = %(healed)s, cached_automation = %(cached_automation)s, waiting_for = NULL, completed_at = now()"
            " WHERE id = %(id)s AND status IN ('queued', 'allocated', 'running') RETURNING *",
            {
                "status": outcome.status,
                "error": outcome.error,
                "output_data": Jsonb(outcome.output_data) if outcome.output_data is not None else None,
                "for_loop_status": Jsonb(outcome.for_loop_status) if outcome.for_loop_status is not None else None,
                "downloads": Jsonb(outcome.downloads) if outcome.downloads is not None else None,
                "final_screenshot": outcome.final_screenshot,
                "steps_count": outcome.steps_count,
                "llm_usage": Jsonb(outcome.llm_usage),
                "healed": Jsonb(outcome.healed),
                "cached_automation": outcome.cached_automation,
                "id": task_id,
            },
        )
    ).fetchone()
    return task_of(row) if row else None


async def begin_wait(conn: Connection, task_id: uuid.UUID, waiting: Waiting) -> Task | None:
    """Record that the running task waits for a person; None when it no longer runs."""
    row = await (
        await conn.execute(
            "UPDATE tasks SET waiting_for = %(waiting)s WHERE id = %(id)s AND status = 'running' RETURNING *",
            {"waiting": Jsonb(waiting.to_json()), "id": task_id},
        )
    ).fetchone()
    return task_of(row) if row else None


async def end_wait(conn: Connection, task_id: uuid.UUID, account_id: uuid.UUID | None = None) -> bool:
    """The person is done: clear the wait and wake its worker (any host) through WAKE_CHANNEL when the transaction
    commits; False when the task (of that account, when given) was not waiting."""
    return await update_and_wake(
        conn,
        task_id,
        "UPDATE tasks SET waiting_for = NULL WHERE id = %(id)s AND waiting_for->>'kind' = 'person'"
        " AND (%(account)s::uuid IS NULL OR account_id = %(account)s)",
        account_id,
    )


async def update_and_wake(conn: Connection, task_id: uuid.UUID, update: str, account_id: uuid.UUID | None) -> bool:
    """Run `update` on the task (`%(id)s`, `%(account)s`) and, when it changed it, wake the task's worker (any host)
    through WAKE_CHANNEL once the transaction commits."""
    cursor = await conn.execute(update, {"id": task_id, "account": account_id})
    if cursor.rowcount != 1:
        return False
    await notifications.notify(conn, WAKE_CHANNEL, str(task_id))
    return True


async def is_waiting(conn: Connection, task_id: uuid.UUID) -> bool:
    """Whether the task still waits for a person."""
    row = await (
        await conn.execute(
            "SELECT waiting_for->>'kind' = 'person' AS waiting FROM tasks WHERE id = %(id)s", {"id": task_id}
        )
    ).fetchone()
    return bool(row and row["waiting"])


async def count_by_status(conn: Connection, account_id: uuid.UUID | None = None) -> dict[str, int]:
    rows = await (
        await conn.execute(
            "SELECT status, count(*) AS n FROM tasks"
            " WHERE %(account)s::uuid IS NULL OR account_id = %(account)s GROUP BY status",
            {"account": account_id},
        )
    ).fetchall()
    return {row["status"]: row["n"] for row in rows}


async def get_task_by_job(conn: Connection, job_id: int) -> Task | None:
    """The task a job of the queue runs."""
    row = await (await conn.execute("SELECT * FROM tasks WHERE job_id = %(job)s", {"job": job_id})).fetchone()
    return task_of(row) if row else None


async def ended_before(conn: Connection, task_ids: Sequence[uuid.UUID], older_than_s: float) -> list[uuid.UUID]:
    """Those of `task_ids` whose task ended more than `older_than_s` ago (the artifact collector's to delete)."""
    rows = await (
        await conn.execute(
            "SELECT id FROM tasks WHERE id = ANY(%(ids)s) AND completed_at < now() - make_interval(secs => %(older)s)",
            {"ids": list(task_ids), "older": older_than_s},
        )
    ).fetchall()
    return [row["id"] for row in rows]


async def set_waiting_for(conn: Connection, task_id: uuid.UUID, waiting: Waiting | None) -> None:
    """Note what the running task waits for other than a person (a 2FA code; None: nothing), for its page."""
    value = Jsonb(waiting.to_json()) if waiting is not None else None
    await conn.execute(
        "UPDATE tasks SET waiting_for = %(waiting)s WHERE id = %(id)s", {"waiting": value, "id": task_id}
    )


async def save_recording(conn: Connection, task_id: uuid.UUID, recording: dict[str, Any]) -> None:
    """Record what the recording task has recorded so far (its steps, then its draft)."""
    await conn.execute(
        "UPDATE tasks SET recording = %(recording)s WHERE id = %(id)s AND kind = 'recording'",
        {"recording": Jsonb(recording), "id": task_id},
    )


async def request_stop(conn: Connection, task_id: uuid.UUID, account_id: uuid.UUID) -> bool:
    """Ask the account's running recording to stop, waking its worker (any host) through WAKE_CHANNEL when the
    transaction commits; False when it is not a recording of that account that runs."""
    return await update_and_wake(
        conn,
        task_id,
        "UPDATE tasks SET stop_requested = true WHERE id = %(id)s AND account_id = %(account)s"
        " AND kind = 'recording' AND status IN ('queued', 'allocated', 'running')",
        account_id,
    )


async def stop_requested(conn: Connection, task_id: uuid.UUID) -> bool:
    row = await (await conn.execute("SELECT stop_requested FROM tasks WHERE id = %(id)s", {"id": task_id})).fetchone()
    return bool(row and row["stop_requested"])
