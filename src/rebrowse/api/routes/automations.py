"""Named automations: every PUT stores a new version; tasks run the newest one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import Services, ServicesDep, automation_not_found, find_automation, find_version
from rebrowse.api.errors import BadRequest
from rebrowse.api.saving import roll_back, save_version
from rebrowse.api.schemas import (
    ERRORS,
    INT4,
    NAME_PATTERN,
    AutomationAt,
    AutomationDetail,
    AutomationDiff,
    AutomationList,
    AutomationRuns,
    AutomationSaved,
    AutomationVersion,
    ErrorBody,
    PutAutomationRequest,
    RollbackRequest,
)
from rebrowse.api.views import automation_diff, automation_info, automation_runs, automation_saved
from rebrowse.automation.sealed import redacted
from rebrowse.errors import FieldError
from rebrowse.store import automations, proxies, runs

router = APIRouter(prefix="/api/v1/automations", tags=["automations"], responses=ERRORS)
EndpointName = Annotated[str, Path(pattern=NAME_PATTERN, description="1-100 characters of A-Z a-z 0-9 _ . -")]
VersionQuery = Annotated[int, Query(ge=1, lt=INT4, description="A version number of the automation")]


@router.put(
    "/{endpoint_name}",
    operation_id="put_automation",
    responses={422: {"model": ErrorBody, "description": "The automation is invalid (errors give JSON paths)"}},
)
async def put_automation(
    endpoint_name: EndpointName, body: PutAutomationRequest, services: ServicesDep, caller: CallerDep
) -> AutomationSaved:
    """Create or update a named automation: each call stores a new version. Its secure parameters' values are
    stored sealed and never shown again: a value given as shown ("[sealed]" strings) keeps the one stored before.
    `settings` are the defaults of its tasks (warm sessions, proxy); left out, the newest version's stay."""
    settings = body.settings.model_dump() if body.settings is not None else None
    if body.settings is not None and body.settings.proxy is not None:
        async with services.db.connection() as conn:
            if not await proxies.has_proxy(conn, caller.account.id, body.settings.proxy):
                message = f"no proxy {body.settings.proxy!r} in this account (PUT /api/v1/proxies/{{name}})"
                raise BadRequest.of_fields([FieldError("settings.proxy", message)])
    return await save_version(
        services, caller.account.id, endpoint_name, body.automation, body.description, settings=settings
    )


@router.get("", operation_id="list_automations")
async def list_automations(services: ServicesDep, caller: CallerDep) -> AutomationList:
    """The account's automations with their newest version."""
    async with services.db.connection() as conn:
        found = await automations.list_automations(conn, caller.account.id)
    return AutomationList(automations=[automation_info(stored) for stored in found])


@router.get("/{endpoint_name}", operation_id="get_automation")
async def get_automation(endpoint_name: EndpointName, services: ServicesDep, caller: CallerDep) -> AutomationDetail:
    """The newest version with its automation JSON, and the list of versions."""
    async with services.db.connection() as conn:
        stored = await find_automation(conn, caller.account.id, endpoint_name)
        versions = await automations.list_versions(conn, caller.account.id, endpoint_name)
    return AutomationDetail(
        **automation_at(services, caller.account.id, stored).model_dump(),
        versions=[
            AutomationVersion(version=v.version, description=v.description, created_at=v.created_at) for v in versions
        ],
    )


@router.get("/{endpoint_name}/versions/{version}", operation_id="get_automation_version")
async def get_automation_version(
    endpoint_name: EndpointName,
    version: Annotated[int, Path(ge=1, lt=INT4, description="The version number")],
    services: ServicesDep,
    caller: CallerDep,
) -> AutomationAt:
    """One version with its automation JSON, as GET /api/v1/automations/{name} shows the newest."""
    async with services.db.connection() as conn:
        stored = await find_version(conn, caller.account.id, endpoint_name, version)
    return automation_at(services, caller.account.id, stored)


def automation_at(services: Services, account_id: uuid.UUID, stored: automations.StoredAutomation) -> AutomationAt:
    saved = automation_saved(stored, services.automations.load(account_id, stored).automation)
    return AutomationAt(**saved.model_dump(), automation=redacted(stored.definition))


@router.get("/{endpoint_name}/diff", operation_id="diff_automation")
async def diff_automation(
    endpoint_name: EndpointName,
    from_version: VersionQuery,
    to_version: VersionQuery,
    services: ServicesDep,
    caller: CallerDep,
) -> AutomationDiff:
    """What changed from one version to another: a unified diff of their automation JSON (pretty, in written
    order), and their description and settings. 400 naming the parameter for a version the automation lacks."""
    async with services.db.connection() as conn:
        before = await find_version(
            conn, caller.account.id, endpoint_name, from_version, field="from_version", error=BadRequest
        )
        after = await find_version(
            conn, caller.account.id, endpoint_name, to_version, field="to_version", error=BadRequest
        )
    return automation_diff(before, after, services.sealer)


@router.post(
    "/{endpoint_name}/rollback",
    operation_id="rollback_automation",
    responses={422: {"model": ErrorBody, "description": "The old version does not validate under today's settings"}},
)
async def rollback_automation(
    endpoint_name: EndpointName, body: RollbackRequest, services: ServicesDep, caller: CallerDep
) -> AutomationSaved:
    """Store an old version again as a NEW version: its automation, its sealed secure values and its settings.
    404 naming `version` when the automation has no such version."""
    return await roll_back(services, caller.account.id, endpoint_name, body.version, body.description)


@router.get("/{endpoint_name}/runs", operation_id="automation_runs")
async def get_automation_runs(
    endpoint_name: EndpointName,
    services: ServicesDep,
    caller: CallerDep,
    days: Annotated[int, Query(ge=1, le=366, description="How many UTC days back, today included")] = 30,
) -> AutomationRuns:
    """Its runs over time: per day (total, succeeded, failed, cancelled, median duration), the success rate,
    median and p95 durations, and its last failure."""
    async with services.db.connection() as conn:
        await find_automation(conn, caller.account.id, endpoint_name)
        found = await runs.runs_over_time(conn, caller.account.id, endpoint_name, days)
    return automation_runs(endpoint_name, days, found)


@router.delete("/{endpoint_name}", operation_id="delete_automation", status_code=204, response_class=Response)
async def delete_automation(endpoint_name: EndpointName, services: ServicesDep, caller: CallerDep) -> None:
    """Delete every version; tasks already submitted still run."""
    async with services.db.connection() as conn:
        if not await automations.delete_automation(conn, caller.account.id, endpoint_name):
            raise automation_not_found(endpoint_name)
