"""Storing a new version of a named automation: the one code path of PUT /api/v1/automations/{name} and of saving
a task's cached automation."""

from __future__ import annotations

import uuid
from typing import Any

from rebrowse.api.deps import Services, find_version
from rebrowse.api.errors import BadRequest, Conflict
from rebrowse.api.schemas import AutomationSaved
from rebrowse.api.views import automation_saved
from rebrowse.automation.sealed import SEALED, secure_parameters, with_secure
from rebrowse.errors import FieldError
from rebrowse.store import automations
from rebrowse.store.sealing import Sealer


async def save_version(
    services: Services,
    account_id: uuid.UUID,
    endpoint_name: str,
    definition: dict[str, Any],
    description: str | None,
    *,
    based_on: int | None = None,
    settings: dict[str, Any] | None = None,
) -> AutomationSaved:
    """Validate the definition and store it as the automation's next version. Its secure parameters' values are
    stored sealed: one given as shown ("[sealed]" strings) keeps the value stored before.

    `based_on`: the definition was written by a run of that version (a cached automation). Conflict unless it is
    still the newest; its secure parameters are that version's, whatever the run wrote (it masks their values).
    `settings`: the automation's settings on the server; None keeps those of the newest version."""
    async with services.db.transaction() as conn:
        await automations.lock_name(conn, account_id, endpoint_name)
        previous = await automations.get_automation(conn, account_id, endpoint_name)
        if based_on is not None:
            previous = check_unchanged(endpoint_name, based_on, previous)
            definition = with_secure(definition, secure_parameters(previous.definition))
        stored_before = {} if previous is None else automations.stored_secrets(previous, services.sealer)
        definition = automations.keep_sealed(definition, stored_before)
        automation = services.automations.check(definition)
        if settings is None:
            settings = {} if previous is None else previous.settings
        else:
            settings = with_sealed_callback_key(settings, previous, services.sealer)
        stored = await automations.put_automation(
            conn, services.sealer, account_id, endpoint_name, definition, description, settings
        )
    return automation_saved(stored, automation)


async def roll_back(
    services: Services, account_id: uuid.UUID, endpoint_name: str, version: int, description: str | None
) -> AutomationSaved:
    """Store that old version again as the newest: its definition, its secure values (sealed again) and its
    settings. NotFound naming `version` when the live automation has no such version."""
    async with services.db.transaction() as conn:
        await automations.lock_name(conn, account_id, endpoint_name)
        old = await find_version(conn, account_id, endpoint_name, version)
        definition = automations.with_secrets(old, services.sealer)
        automation = services.automations.check(definition)
        stored = await automations.put_automation(
            conn,
            services.sealer,
            account_id,
            endpoint_name,
            definition,
            description or f"Rolled back to version {version}",
            old.settings,
        )
    return automation_saved(stored, automation)


def with_sealed_callback_key(
    settings: dict[str, Any], previous: automations.StoredAutomation | None, sealer: Sealer
) -> dict[str, Any]:
    """The settings to store: a callback key given in clear is sealed; one given as shown ("[sealed]") keeps the
    key stored before."""
    key = settings.get("callback_api_key")
    if key is None:
        return settings
    if key == SEALED:
        before = None if previous is None else previous.settings.get("callback_api_key")
        if before is None:
            raise BadRequest.of_fields([FieldError("settings.callback_api_key", "there is no stored key to keep")])
        return {**settings, "callback_api_key": before}
    return {**settings, "callback_api_key": sealer.seal_json(key).decode()}


def check_unchanged(
    endpoint_name: str, based_on: int, newest: automations.StoredAutomation | None
) -> automations.StoredAutomation:
    """The newest version, when it is still `based_on`; Conflict when the automation was deleted or given a new
    version since."""
    if newest is None:
        raise Conflict(f"Automation '{endpoint_name}' was deleted after version {based_on} ran")
    if newest.version != based_on:
        raise Conflict(
            f"Automation '{endpoint_name}' has changed since the task ran version {based_on}:"
            f" its newest version is {newest.version}, which this would overwrite"
        )
    return newest
