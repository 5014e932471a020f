"""What routes depend on: the app's services, and the caller's automations and tasks looked up by name or id."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from rebrowse.api.batching import TaskWriter
from rebrowse.api.errors import ApiError, NotFound
from rebrowse.artifacts.store import ArtifactStore, artifact_store
from rebrowse.automation.loading import load_automation
from rebrowse.automation.schema import Automation
from rebrowse.errors import FieldError
from rebrowse.queue.app import Queue
from rebrowse.settings import ServerSettings
from rebrowse.store import automations, tasks
from rebrowse.store.database import Connection, Database
from rebrowse.store.sealing import Sealer

CACHED_AUTOMATIONS = 512
CacheKey = tuple[uuid.UUID, str, int]


@dataclass(frozen=True)
class Runnable:
    """A version of an automation, loaded, with its settings on the server (the defaults of its tasks)."""

    automation: Automation
    version: int
    settings: dict[str, Any]


class AutomationCache:
    """Loaded automations by (account, name, version); a version never changes, so an entry never goes stale."""

    def __init__(
        self, *, allow_python_scripts: bool, captcha_by_person: bool = False, size: int = CACHED_AUTOMATIONS
    ) -> None:
        self.allow_python_scripts = allow_python_scripts
        self.captcha_by_person = captcha_by_person
        self.size = size
        self._entries: OrderedDict[CacheKey, Runnable] = OrderedDict()

    def get(self, key: CacheKey) -> Runnable | None:
        automation = self._entries.get(key)
        if automation is not None:
            self._entries.move_to_end(key)
        return automation

    def check(self, definition: dict[str, Any]) -> Automation:
        """A definition loaded with this deployment's rules (AutomationInvalid naming each problem's path)."""
        return load_automation(
            definition, allow_python_scripts=self.allow_python_scripts, captcha_by_person=self.captcha_by_person
        )

    def load(self, account_id: uuid.UUID, stored: automations.StoredAutomation) -> Runnable:
        """The stored automation, validated for this deployment (AutomationInvalid when it no longer is)."""
        key = (account_id, stored.endpoint_name, stored.version)
        runnable = self.get(key)
        if runnable is None:
            runnable = Runnable(self.check(stored.definition), stored.version, stored.settings)
            self._entries[key] = runnable
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return runnable


@dataclass
class Services:
    """Everything a request may use; built once by create_app."""

    settings: ServerSettings
    db: Database
    queue: Queue
    sealer: Sealer
    automations: AutomationCache = field(init=False)
    task_writer: TaskWriter = field(init=False)
    artifacts: ArtifactStore = field(init=False)

    def __post_init__(self) -> None:
        self.artifacts = artifact_store(self.settings)
        engine = self.settings.engine
        self.automations = AutomationCache(
            allow_python_scripts=engine.allow_python_scripts, captcha_by_person=engine.captcha_by_person
        )
        self.task_writer = TaskWriter(self.db)


async def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def automation_not_found(endpoint_name: str) -> NotFound:
    return NotFound(f"Endpoint '{endpoint_name}' not found")


async def find_automation(conn: Connection, account_id: uuid.UUID, endpoint_name: str) -> automations.StoredAutomation:
    """The newest version of the account's automation; NotFound otherwise."""
    stored = await automations.get_automation(conn, account_id, endpoint_name)
    if stored is None:
        raise automation_not_found(endpoint_name)
    return stored


async def find_version(
    conn: Connection,
    account_id: uuid.UUID,
    endpoint_name: str,
    version: int,
    *,
    field: str = "version",
    error: type[ApiError] = NotFound,
) -> automations.StoredAutomation:
    """That version of the account's live automation; `error` naming `field` when it has no such version (and
    NotFound when there is no such automation)."""
    stored = await automations.get_live_version(conn, account_id, endpoint_name, version)
    if stored is None:
        await find_automation(conn, account_id, endpoint_name)
        raise error.of_fields([FieldError(field, f"'{endpoint_name}' has no version {version}")])
    return stored


async def runnable_automation(
    services: Services, account_id: uuid.UUID, endpoint_name: str, latest: int | None = None
) -> Runnable:
    """The newest version of the account's automation (`latest` when the caller has already looked it up), loaded
    once per version."""
    if latest is not None and (cached := services.automations.get((account_id, endpoint_name, latest))):
        return cached
    async with services.db.connection() as conn:
        version = latest or await automations.latest_version(conn, account_id, endpoint_name)
        if version is None:
            raise automation_not_found(endpoint_name)
        cached = services.automations.get((account_id, endpoint_name, version))
        if cached is not None:
            return cached
        stored = await automations.get_automation(conn, account_id, endpoint_name, version)
    if stored is None:  # versions are never purged, but the store's signature allows it
        raise automation_not_found(endpoint_name)
    return services.automations.load(account_id, stored)


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def find_task(services: Services, account_id: uuid.UUID, task_id: str) -> tasks.Task:
    """The account's task; NotFound for a malformed id, an unknown one and another account's task alike."""
    parsed = parse_uuid(task_id)
    found = None
    if parsed is not None:
        async with services.db.connection() as conn:
            found = await tasks.get_task(conn, parsed, account_id)
    if found is None:
        raise NotFound(f"Task not found with ID: {task_id[:100]}")
    return found
