"""Named automations: every PUT stores a new version; tasks run the newest one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import ServicesDep, automation_not_found, find_automation
from rebrowse.api.errors import BadRequest
from rebrowse.api.saving import save_version
from rebrowse.api.schemas import (
    ERRORS,
    NAME_PATTERN,
    AutomationDetail,
    AutomationList,
    AutomationSaved,
    AutomationVersion,
    ErrorBody,
    PutAutomationRequest,
)
from rebrowse.api.views import automation_info, automation_saved
from rebrowse.automation.sealed import redacted
from rebrowse.errors import FieldError
from rebrowse.store import automations, proxies

router = APIRouter(prefix="/api/v1/automations", tags=["automations"], responses=ERRORS)
EndpointName = Annotated[str, Path(pattern=NAME_PATTERN, description="1-100 characters of A-Z a-z 0-9 _ . -")]


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
    saved = automation_saved(stored, services.automations.load(caller.account.id, stored).automation)
    return AutomationDetail(
        **saved.model_dump(),
        automation=redacted(stored.definition),
        versions=[
            AutomationVersion(version=v.version, description=v.description, created_at=v.created_at) for v in versions
        ],
    )


@router.delete("/{endpoint_name}", operation_id="delete_automation", status_code=204, response_class=Response)
async def delete_automation(endpoint_name: EndpointName, services: ServicesDep, caller: CallerDep) -> None:
    """Delete every version; tasks already submitted still run."""
    async with services.db.connection() as conn:
        if not await automations.delete_automation(conn, caller.account.id, endpoint_name):
            raise automation_not_found(endpoint_name)
