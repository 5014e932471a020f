"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from rebrowse.api.cron import cron_expression, time_zone
from rebrowse.automation.parameters import SecureParameter
from rebrowse.automation.references import join_key
from rebrowse.messages.models import MAX_TEXT, Channel
from rebrowse.store.accounts import Role
from rebrowse.store.messages import SourceKind
from rebrowse.store.tasks import CallbackEventName, TaskKind, TaskStatus

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
MAX_TIMEOUT_MINUTES = 24 * 60
INT4 = 2**31  # priorities are stored as PostgreSQL integers
MAX_URL_LENGTH = 2048

# ---------------------------------------------------------------------------------------------------------
# Values PostgreSQL can store: no NUL characters, no lone surrogates, no NaN or infinity in JSON


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store this text, or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "is not valid Unicode"
    return None


def json_problems(value: object, path: str) -> Iterator[str]:
    """Every string or number inside decoded JSON that PostgreSQL's jsonb would refuse."""
    if isinstance(value, str):
        if problem := text_problem(value):
            yield f"{path or 'value'} {problem}"
    elif isinstance(value, float) and not math.isfinite(value):
        yield f"{path or 'value'} must be a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := text_problem(key):
                yield f"a key in {path or 'the object'} {problem}"
            yield from json_problems(item, join_key(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_problems(item, f"{path}[{index}]")


def storable_text(text: str) -> str:
    if problem := text_problem(text):
        raise ValueError(problem)
    return text


def storable_json(value: dict[str, Any]) -> dict[str, Any]:
    if problem := next(json_problems(value, ""), None):
        raise ValueError(problem)
    return value


def parameter_value(value: object) -> str | int | float | bool:
    """One input value: a string, a number or a boolean that can be stored."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError("must be a string, a number or a boolean")


def callback_url(url: str) -> str:
    """An absolute http(s) URL (which addresses it may reach is checked when it is called)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return url


Text = Annotated[str, AfterValidator(storable_text)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
ParameterValue = Annotated[
    str | int | float | bool, PlainValidator(parameter_value, json_schema_input_type=str | int | float | bool)
]
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]
CallbackUrl = Annotated[
    str, Field(max_length=MAX_URL_LENGTH), AfterValidator(storable_text), AfterValidator(callback_url)
]


class Body(BaseModel):
    """A request body: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------------------
# Errors


class FieldErrorBody(BaseModel):
    path: str
    message: str


class ErrorBody(BaseModel):
    success: Literal[False] = False
    error: str
    detail: str
    errors: list[FieldErrorBody] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": description}
    for code, description in [
        (400, "Invalid request"),
        (401, "Missing or invalid API key"),
        (404, "Not found in the caller's account"),
    ]
}

# ---------------------------------------------------------------------------------------------------------
# Automations


class AutomationSettings(Body):
    """An automation's settings on the server: the defaults of its tasks (a request's own values win)."""

    reuse_session: StrictBool = Field(
        default=False, description="Tasks start from the browser state their login's last successful run kept"
    )
    use_proxy: StrictBool = Field(default=False, description="Tasks go through an upstream proxy")
    proxy: Name | None = Field(
        default=None,
        description="The account's proxy (PUT /api/v1/proxies/{name}) tasks use; null: the account's 'default', else"
        " the server's REBROWSE_PROXY_URL",
    )
    callback_url: CallbackUrl | None = Field(
        default=None,
        description="Where the callback of a task goes when its request names no task_callback_url (Optexity's"
        " recording-level callback_url)",
    )
    callback_api_key: Annotated[Text, Field(max_length=4096)] | None = Field(
        default=None,
        description='Sent as x-api-key with those callbacks; stored sealed and shown as "[sealed]" (sending'
        ' "[sealed]" keeps the stored one)',
    )

    @model_validator(mode="after")
    def key_needs_url(self) -> AutomationSettings:
        if self.callback_api_key is not None and self.callback_url is None:
            raise ValueError("callback_api_key is given without callback_url")
        return self


class PutAutomationRequest(Body):
    automation: JsonObject = Field(description="The automation in the Optexity JSON format")
    description: Annotated[Text, Field(max_length=2000)] | None = None
    settings: AutomationSettings | None = Field(
        default=None, description="The automation's settings on the server; null keeps those of its newest version"
    )


class ParametersSummary(BaseModel):
    input_parameters: list[str]
    secure_parameters: list[str]
    generated_parameters: list[str]


class AutomationVersion(BaseModel):
    version: int
    description: str | None
    created_at: datetime


class AutomationInfo(AutomationVersion):
    endpoint_name: str


class AutomationSaved(AutomationInfo):
    parameters: ParametersSummary
    total_nodes: int
    settings: AutomationSettings


class AutomationAt(AutomationSaved):
    """One version with its automation JSON (keys in the order they were written; secure values read "[sealed]")."""

    automation: dict[str, Any]


class AutomationDetail(AutomationAt):
    versions: list[AutomationVersion]


class RollbackRequest(Body):
    version: int = Field(ge=1, lt=INT4, description="The version to store again as the newest")
    description: Annotated[Text, Field(max_length=2000)] | None = Field(
        default=None, description='The new version\'s description (default: "Rolled back to version N")'
    )


class Change(BaseModel):
    """A field that differs between two versions besides the automation JSON."""

    field: str = Field(description='"description" or "settings.<name>"')
    before: Any
    after: Any


class AutomationDiff(BaseModel):
    endpoint_name: str
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the two automations as pretty JSON in written order ('' if equal)")
    changes: list[Change] = Field(description="Description and settings that differ")
    secure_values_changed: bool = Field(description="Whether the sealed secure parameter values differ")


class DayRuns(BaseModel):
    day: date = Field(description="The UTC day the runs were submitted")
    total: int
    succeeded: int
    failed: int = Field(description="Failed or killed")
    cancelled: int
    median_duration_s: float | None = Field(description="From start to end, of runs that ended on their own")


class LastFailure(BaseModel):
    task_id: uuid.UUID
    failed_at: datetime
    version: int
    error: str = Field(description="The first line of its error")


class AutomationRuns(BaseModel):
    endpoint_name: str
    days: int
    total: int
    succeeded: int
    failed: int
    cancelled: int
    success_rate: float | None = Field(description="succeeded / (succeeded + failed); null without such runs")
    median_duration_s: float | None
    p95_duration_s: float | None
    per_day: list[DayRuns] = Field(description="Every day of the window, oldest first")
    last_failure: LastFailure | None = Field(description="Its newest failed or killed run, however old")


class AutomationList(BaseModel):
    automations: list[AutomationInfo]


# ---------------------------------------------------------------------------------------------------------
# Inference


def refuse_true(what: str) -> AfterValidator:
    def check(value: bool) -> bool:
        if value:
            raise ValueError(f"not supported: {what}")
        return value

    return AfterValidator(check)


class InferenceRequest(Body):
    """Optexity's InferenceRequest; fields rebrowse cannot honour are refused when set."""

    endpoint_name: Name
    input_parameters: dict[str, list[ParameterValue]] = Field(default_factory=dict)
    secure_parameters: dict[str, list[SecureParameter]] = Field(default_factory=dict)
    unique_parameter_names: list[str] = Field(default_factory=list)
    max_timeout_in_minutes: float = Field(default=10, gt=0, le=MAX_TIMEOUT_MINUTES, description="Per attempt")
    priority: int | None = Field(default=None, ge=-INT4, lt=INT4, description="Lower runs first; null runs last")
    task_callback_url: CallbackUrl | None = None
    task_callback_api_key: Annotated[Text, Field(max_length=4096)] | None = None
    callback_include_screenshot: StrictBool = Field(
        default=False,
        description="Send the final screenshot's bytes (base64) in the callback; by default only its URL",
    )
    healing: StrictBool | None = Field(
        default=None,
        description="Whether a step whose command fails may fall back to the model (self-healing); "
        "null: the server's setting (REBROWSE_HEALING, on by default)",
    )
    callback_events: list[CallbackEventName] = Field(
        default_factory=list,
        description='Extra callback events to receive before the final one, e.g. ["waiting_for_person"] (the task'
        " waits for a person at a human_in_loop_action or captcha_action step); the final callback is sent anyway",
    )
    use_proxy: StrictBool | None = Field(
        default=None,
        description="Run the task's browser and api_calls through an upstream proxy, chained behind the egress"
        " policy: the one the automation's settings name, else the account's 'default', else the server's"
        " (REBROWSE_PROXY_URL); null: the automation's setting",
    )
    proxy_session_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = Field(
        default=None,
        description="Replaces {session_id} in the proxy's user name (sticky sessions); null: the task's id",
    )
    reuse_session: StrictBool | None = Field(
        default=None,
        description="Start from the browser state (cookies, localStorage, sessionStorage, IndexedDB) the last"
        " successful run of the same endpoint and unique_parameter_names values kept, and keep this run's if it"
        " succeeds; null: the automation's setting",
    )
    is_dedicated: Annotated[bool, refuse_true("every task runs in a fresh browser context")] = False
    max_parallelism: int = Field(default=1, ge=1, description="Accepted for compatibility; dedicated mode only")
    per_login_parallelism: int = Field(default=1, ge=1, description="Accepted for compatibility; dedicated mode only")
    rdp_parameter: dict[str, Any] | None = Field(default=None, description="Must be null: no remote desktops")

    @field_validator("rdp_parameter")
    @classmethod
    def _no_rdp(cls, value: dict[str, Any] | None) -> None:
        if value is not None:
            raise ValueError("not supported: rebrowse does not drive remote desktops")


class InferenceAccepted(BaseModel):
    success: Literal[True] = True
    message: str
    task_id: uuid.UUID


# ---------------------------------------------------------------------------------------------------------
# Schedules


class PutScheduleRequest(InferenceRequest):
    """A schedule: when to run (a cron expression in a time zone) and the task to submit then, with the fields of
    POST /api/v1/inference."""

    cron: Annotated[str, Field(max_length=200), AfterValidator(cron_expression)] = Field(
        description="Five fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5'"
    )
    timezone: Annotated[str, Field(max_length=100), AfterValidator(time_zone)] = Field(
        default="UTC", description="The IANA time zone the cron expression is read in, e.g. Europe/Paris"
    )
    paused: StrictBool = Field(default=False, description="A paused schedule fires nothing")


class ScheduleInfo(BaseModel):
    """A schedule as shown (its secure parameters never are)."""

    name: str
    endpoint_name: str
    cron: str
    timezone: str
    paused: bool
    input_parameters: dict[str, list[Any]]
    unique_parameter_names: list[str]
    priority: int | None
    task_callback_url: str | None
    next_run_at: datetime | None = Field(description="The next tick it fires at (UTC); null while paused")
    last_run_at: datetime | None = Field(description="The last tick it fired at, successfully or not")
    last_task_id: uuid.UUID | None = Field(description="The last task it submitted")
    last_task_status: TaskStatus | None
    last_error: str | None = Field(description="Why the last tick could not submit its task; null when it did")
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    schedules: list[ScheduleInfo]


# ---------------------------------------------------------------------------------------------------------
# Tasks


class TaskIdRequest(Body):
    task_id: Annotated[Text, Field(max_length=100)]


class CallStatus(BaseModel):
    """The status in the shape of Optexity's `POST /api/v1/inference/call`."""

    success: Literal[True] = True
    task_id: uuid.UUID
    status: TaskStatus
    end_point: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    error: str | None
    result: list[dict[str, Any]] | None
    execution_time: str | None
    retry_count: int


class WaitingFor(BaseModel):
    """What a running task waits for: a person, who uses the live view and then presses Done (or calls resume), or
    a 2FA code from a message."""

    kind: Literal["person", "two_fa"]
    message: str = Field(
        description="For a person, what to do (the step's message); for a code, its channel and filter, e.g. "
        "'a 2FA code by sms from +15550100'"
    )
    node: str = Field(description="The waiting step's JSON path, e.g. nodes[3]")
    since: datetime
    deadline: datetime = Field(description="When the step fails if nothing came by then")


class TaskSummary(BaseModel):
    task_id: uuid.UUID
    endpoint_name: str = Field(description="The automation it runs ('' for a recording)")
    kind: TaskKind = Field(default="automation", description="recording: a person records an automation in it")
    status: TaskStatus
    waiting_for: WaitingFor | None = Field(
        default=None,
        description="Set while the running task waits for a person or a 2FA code (the status stays running)",
    )
    unique_parameters: dict[str, list[Any]] = Field(description="The values of unique_parameter_names (the login)")
    error: str | None
    retry_count: int
    priority: int | None
    created_at: datetime
    allocated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    schedule_name: str | None = Field(default=None, description="The schedule that submitted it; null: a caller did")


class DownloadLink(BaseModel):
    filename: str
    url: str
    size: int | None
    metadata: dict[str, Any] | None


class CallbackSummary(BaseModel):
    event_id: uuid.UUID
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class LlmUsageView(BaseModel):
    """A task's LLM calls in all, every attempt's: zeros when it asked no model."""

    calls: int
    failed_calls: int = Field(description="Calls that got no valid answer")
    input_tokens: int
    output_tokens: int
    requests: int = Field(description="Requests sent to the provider (retries and tool rounds included)")


class Healing(BaseModel):
    """A failed command the model replaced: the run went on, and says so."""

    failed_command: str = Field(description="The command that failed (secrets masked)")
    error: str = Field(description="Why it failed (the first line of the error)")
    command: str = Field(description="The command of the element the model picked instead")


class HealedStep(Healing):
    """A step the model healed."""

    path: str = Field(description="The node's JSON path in the automation, e.g. nodes[3]")


class TaskDetail(TaskSummary):
    automation_version: int
    input_parameters: dict[str, list[Any]]
    unique_parameter_names: list[str]
    max_timeout_in_minutes: float
    worker_name: str | None
    pinned_worker: str | None
    output_data: list[dict[str, Any]] | None
    for_loop_status: list[list[dict[str, Any]]] | None
    downloads: list[DownloadLink]
    final_screenshot: str | None = Field(description="URL of the final screenshot (PNG), when there is one")
    steps_count: int
    llm_usage: LlmUsageView | None = Field(description="What the task's LLM calls cost in all; null until it ends")
    healed: list[HealedStep] | None = Field(
        description="The steps whose failed command the model replaced; empty when none was; null until it ends"
    )
    cached_automation_url: str | None = Field(
        default=None,
        description="URL of the automation the run wrote with the model's steps made deterministic (the fixed"
        " version when it healed); null when it left none",
    )
    callback_events: list[str] = Field(default_factory=list, description="The extra callback events subscribed to")
    reuse_session: bool | None = Field(
        description="Whether the run starts from and keeps its login's browser state; null: the request left it to"
        " the automation's setting, recorded when the run starts"
    )
    session_reused: bool = Field(description="The run started from the state a successful run of its login kept")
    use_proxy: bool | None = Field(
        description="Whether the run goes through an upstream proxy; null: as for reuse_session"
    )
    proxy_session_id: str | None = Field(description="The sticky-session id the request gave the proxy")
    callbacks: list[CallbackSummary]


class SessionInfo(BaseModel):
    """A kept browser state (never its content): the login it belongs to and the run that kept it."""

    session_id: uuid.UUID
    endpoint_name: str
    unique_parameters: dict[str, list[Any]] = Field(description="The values of unique_parameter_names (the login)")
    task_id: uuid.UUID = Field(description="The successful run that kept it last")
    created_at: datetime
    updated_at: datetime = Field(description="When a run kept it last")
    expires_at: datetime = Field(description="When it is dropped unless a run keeps it again (REBROWSE_SESSION_TTL)")


class SessionList(BaseModel):
    sessions: list[SessionInfo]


class SessionsDeleted(BaseModel):
    deleted: int


class PutProxyRequest(Body):
    url: Annotated[Text, Field(max_length=MAX_URL_LENGTH)] = Field(
        description="http://USER:PASSWORD@HOST:PORT; {session_id} in USER becomes each task's sticky-session id"
    )
    bypass: list[Annotated[Text, Field(max_length=255)]] = Field(
        default_factory=list,
        max_length=100,
        description="Destinations reached without the proxy: host names (and subdomains), addresses, networks",
    )


class ProxyInfo(BaseModel):
    """A named proxy as shown: never its password."""

    name: str
    url: str = Field(description="The URL without its password")
    bypass: list[str]
    updated_at: datetime


class ProxyList(BaseModel):
    proxies: list[ProxyInfo]


class TaskPage(BaseModel):
    tasks: list[TaskSummary]
    next_cursor: str | None


class TaskOutput(BaseModel):
    success: Literal[True] = True
    task_id: uuid.UUID
    status: TaskStatus
    output_data: list[dict[str, Any]] | None
    for_loop_status: list[list[dict[str, Any]]] | None


class TaskDownloads(BaseModel):
    success: Literal[True] = True
    task_id: uuid.UUID
    status: TaskStatus
    downloads: list[DownloadLink]


class TaskScreenshot(BaseModel):
    success: Literal[True] = True
    task_id: uuid.UUID
    status: TaskStatus
    final_screenshot: str | None = Field(description="The final screenshot as base64 PNG")


class ResumeResult(BaseModel):
    success: Literal[True] = True
    task_id: uuid.UUID
    status: TaskStatus
    message: str


class CancelResult(BaseModel):
    success: Literal[True] = True
    task_id: uuid.UUID
    status: TaskStatus
    message: str


# ---------------------------------------------------------------------------------------------------------
# Keys and accounts


KeyName = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(storable_text)]


class CreateKeyRequest(Body):
    name: KeyName = "default"
    role: Role | None = Field(
        default=None, description="member (the default), owner or admin: at most the role of the key creating it"
    )


class KeyInfo(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role = Field(description="admin: runs the installation; owner: manages the account's keys; member")
    is_admin: bool = Field(description="role is admin")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKey(KeyInfo):
    api_key: str = Field(description="The key itself: shown once, never stored")


class KeyList(BaseModel):
    keys: list[KeyInfo]


class CreateAccountRequest(Body):
    name: KeyName
    key_name: KeyName = "default"


class AccountCreated(BaseModel):
    account_id: uuid.UUID
    name: str
    key: NewKey


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str
    database: Literal["ok", "unavailable"]


# ---------------------------------------------------------------------------------------------------------
# Inbound messages (two_fa_action reads codes from them) and the account's message sources

Address = Annotated[str, StringConstraints(max_length=320), AfterValidator(storable_text)]


class PostMessageRequest(Body):
    """A message an SMS gateway, a mail forwarder or a script delivers to the account's inbox."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channel: Channel = Field(description="email, sms or slack: the two_fa_action source it answers")
    sender: Address = Field(alias="from", description="who sent it: an email address, a phone number, a Slack name")
    receiver: Address = Field(alias="to", description="who it was sent to (for Slack: the channel's name)")
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(storable_text)]
    received_at: datetime | None = Field(
        default=None, description="when it arrived (ISO 8601 with a time zone); default: now"
    )

    @field_validator("received_at")
    @classmethod
    def _with_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must have a time zone (e.g. 2026-01-31T12:00:00Z)")
        return value


class MessageAccepted(BaseModel):
    id: uuid.UUID
    channel: Channel
    received_at: datetime


Host = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(storable_text)]


class MailboxRequest(Body):
    """The IMAP mailbox two_fa_action reads emails from; the password is sealed and never shown again."""

    host: Host
    port: int = Field(default=993, ge=1, le=65535)
    username: Annotated[str, StringConstraints(min_length=1, max_length=320), AfterValidator(storable_text)]
    password: Secret
    security: Literal["tls", "starttls", "none"] = Field(
        default="tls", description="tls (IMAPS, port 993), starttls, or none (a server on a trusted network only)"
    )
    folder: Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)] = "INBOX"


class SlackRequest(Body):
    """A Slack bot token (channels:history, channels:read, users:read) for Slack 2FA codes; sealed."""

    token: Secret


class TwilioRequest(Body):
    """The Twilio auth token that signs the account's SMS webhook calls; sealed."""

    auth_token: Secret


class MessageSourceInfo(BaseModel):
    kind: SourceKind
    detail: str = Field(description="what it reads (never a password or token)")
    updated_at: datetime


class MessageSourceList(BaseModel):
    sources: list[MessageSourceInfo]
    twilio_webhook: str = Field(description="the URL to give Twilio as the SMS webhook of this account")


# ---------------------------------------------------------------------------------------------------------
# Recordings


class StartRecordingRequest(Body):
    url: Annotated[str, Field(max_length=MAX_URL_LENGTH, description="The http(s) page the recording opens on")]
    max_timeout_in_minutes: float = Field(default=30, gt=0, le=240, description="How long the recording may last")


class RecordingStarted(BaseModel):
    recording_id: uuid.UUID = Field(description="The recording's task id: watch it with GET /api/v1/tasks/{id}/stream")
    status: TaskStatus


class RecordedStep(BaseModel):
    kind: str = Field(description="The recorder's action: click, fill, press, select, navigate, ...")
    description: str = Field(description="What the step does, for a person (never a secret's value)")
    locator: str | None
    semantic: bool | None = Field(description="Its locator is role/label/text based (no CSS)")
    secret: bool | None = Field(description="A typed field: true for a password field, whose text is not kept")
    matches: int | None = Field(description="How many elements its locator matched on the page when recorded")
    ambiguous: bool = Field(description="Its locator did not match exactly one element when recorded: check it")
    problem: str | None = Field(description="Why the step cannot be replayed")


class RecordingDetail(BaseModel):
    recording_id: uuid.UUID
    status: TaskStatus
    start_url: str
    error: str | None
    stop_requested: bool
    steps: list[RecordedStep] = Field(description="The steps recorded so far, in order")
    draft: dict[str, Any] | None = Field(
        description="The automation written when the recording stopped (with the edits made since); null before"
    )
    errors: list[str] = Field(description="Why no draft could be written (steps that cannot be replayed)")


class RenameParameter(Body):
    op: Literal["rename"]
    parameter: str
    to: str


class MakeSecret(Body):
    op: Literal["secret"]
    parameter: str


class DeleteNode(Body):
    op: Literal["delete"]
    node: int = Field(description="The node's index in draft.nodes")


class MoveNode(Body):
    op: Literal["move"]
    node: int
    to: int = Field(description="Its new index")


DraftEdit = Annotated[RenameParameter | MakeSecret | DeleteNode | MoveNode, Field(discriminator="op")]


class EditDraftRequest(Body):
    edits: list[DraftEdit] = Field(min_length=1, max_length=200, description="Applied in order, all or none")


class SaveRecordingRequest(Body):
    endpoint_name: Annotated[str, Field(pattern=NAME_PATTERN, description="The automation to add a version to")]
    description: Annotated[Text, Field(max_length=2000)] | None = None


class RunDraftRequest(Body):
    input_parameters: dict[str, list[ParameterValue]] | None = Field(
        default=None, description="The values to run with; null: the values recorded"
    )
    secure_parameters: dict[str, list[SecureParameter]] = Field(
        default_factory=dict, description="Where each secure parameter's value comes from (none is recorded)"
    )
    max_timeout_in_minutes: float = Field(default=10, gt=0, le=MAX_TIMEOUT_MINUTES, description="Per attempt")


class DraftRunAccepted(BaseModel):
    task_id: uuid.UUID = Field(description="The task running the draft as it is now (follow it like any task)")
    status: TaskStatus
