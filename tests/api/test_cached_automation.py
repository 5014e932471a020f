"""A task's cached automation over the API: offered on the task and its callback, served, and saved as the
automation's next version (the run that writes it: tests/worker/test_cached_automation_e2e.py)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from rebrowse.automation.sealed import redacted
from rebrowse.secrets.redaction import MASK
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts, automations, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import AUTOMATION, BASE_URL, Account, submit_ok
from tests.api.test_auth import assert_error
from tests.api.test_tasks import HEALED, callback_payload, finish, start

FIXED_COMMAND = 'get_by_role("button", name="Sign in", exact=True)'


def cached_definition() -> dict[str, Any]:
    """The test automation as a healed run writes it: the sign-in click's new command, secret values masked."""
    definition = copy.deepcopy(AUTOMATION)
    definition["parameters"]["secure_parameters"]["password"] = [{"totp": {"totp_secret": MASK}}]
    definition["nodes"][1]["interaction_action"]["click_element"]["command"] = FIXED_COMMAND
    return definition


def write_cached(path: Path, definition: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(definition))
    return str(path)


async def ended_task(
    account: Account,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
    *,
    cached: Any = None,
    healed: bool = True,
    where: Path | None = None,
) -> str:
    """A task of `login` that succeeded; with `cached`, its run wrote that cached automation (in its artifacts
    directory, unless `where` says elsewhere)."""
    task_id = await submit_ok(account, task_callback_url="https://hooks.example.com/done")
    await start(db, task_id)
    path = None
    if cached is not None:
        path = write_cached(where or settings.artifacts / task_id / "cached_automation.json", cached)
    outcome = tasks.Outcome("success", healed=[HEALED] if healed else [], cached_automation=path)
    await finish(db, sealer, settings, task_id, outcome)
    return task_id


async def test_a_run_that_used_no_model_offers_nothing(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await ended_task(acme, db, sealer, settings)
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()["cached_automation_url"] is None
    assert (await callback_payload(db, acme, task_id))["cached_automation_url"] is None
    for response in (
        await acme.client.get(f"/api/v1/tasks/{task_id}/cached_automation"),
        await acme.client.post(f"/api/v1/tasks/{task_id}/cached_automation/save"),
    ):
        assert_error(response, 404, task_id, "has no cached automation", "succeeded with the help of a model")


async def test_a_task_still_queued_has_no_cached_automation(acme: Account, login: str) -> None:
    task_id = await submit_ok(acme)
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()["cached_automation_url"] is None
    assert_error(await acme.client.get(f"/api/v1/tasks/{task_id}/cached_automation"), 404, "no cached automation")


async def test_the_cached_automation_is_offered_served_and_saved_as_the_next_version(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await ended_task(acme, db, sealer, settings, cached=cached_definition())
    url = f"{BASE_URL}/api/v1/tasks/{task_id}/cached_automation"
    assert (await acme.client.get(f"/api/v1/tasks/{task_id}")).json()["cached_automation_url"] == url
    assert (await callback_payload(db, acme, task_id))["cached_automation_url"] == url

    # Secure values read "[sealed]", as GET /api/v1/automations/{name} shows them.
    served = (await acme.client.get(url)).json()
    assert served == redacted(cached_definition())
    assert served["parameters"]["secure_parameters"] == {"password": [{"totp": {"totp_secret": "[sealed]"}}]}

    saved = await acme.client.post(f"/api/v1/tasks/{task_id}/cached_automation/save")
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2 and saved.json()["description"] == f"fixed version of task {task_id}"
    newest = (await acme.client.get("/api/v1/automations/login")).json()
    assert newest["version"] == 2
    assert newest["automation"]["nodes"][1]["interaction_action"]["click_element"]["command"] == FIXED_COMMAND
    # The secure parameter's value stored with version 1 is kept (not the run's mask), still sealed.
    async with db.connection() as conn:
        stored = await automations.get_automation(conn, acme.id, "login")
    assert stored is not None and stored.sealed_secrets is not None
    assert automations.stored_secrets(stored, sealer) == AUTOMATION["parameters"]["secure_parameters"]


async def test_a_run_that_only_used_the_model_saves_a_cached_version(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await ended_task(acme, db, sealer, settings, cached=cached_definition(), healed=False)
    saved = (await acme.client.post(f"/api/v1/tasks/{task_id}/cached_automation/save")).json()
    assert saved["description"] == f"cached version of task {task_id}"


async def test_saving_refuses_an_automation_changed_or_deleted_since_the_task_ran(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await ended_task(acme, db, sealer, settings, cached=cached_definition())
    save = f"/api/v1/tasks/{task_id}/cached_automation/save"
    assert (await acme.client.put("/api/v1/automations/login", json={"automation": AUTOMATION})).status_code == 200
    assert_error(await acme.client.post(save), 409, "has changed since the task ran version 1", "newest version is 2")

    assert (await acme.client.delete("/api/v1/automations/login")).status_code == 204
    assert_error(await acme.client.post(save), 409, "'login' was deleted after version 1 ran")


async def test_a_cached_automation_that_no_longer_validates_is_a_422_naming_the_field(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    broken = cached_definition()
    broken["nodes"][1]["interaction_action"]["click_element"]["command"] = 42
    task_id = await ended_task(acme, db, sealer, settings, cached=broken)
    body = assert_error(await acme.client.post(f"/api/v1/tasks/{task_id}/cached_automation/save"), 422, "invalid")
    assert [e["path"] for e in body["errors"]] == ["nodes[1].interaction_action.click_element.command"]
    assert (await acme.client.get("/api/v1/automations/login")).json()["version"] == 1


async def test_a_cached_automation_that_is_not_an_object_is_not_served(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings
) -> None:
    task_id = await ended_task(acme, db, sealer, settings, cached=["not", "an", "automation"])
    assert_error(await acme.client.get(f"/api/v1/tasks/{task_id}/cached_automation"), 404, "is not a JSON object")


async def test_only_a_file_among_the_tasks_artifacts_is_served(
    acme: Account, login: str, db: Database, sealer: Sealer, settings: ServerSettings, tmp_path: Path
) -> None:
    # A row written before the artifact store recorded a path; only its name is looked up, in the task's files.
    outside = tmp_path / "elsewhere" / "cached_automation.json"
    task_id = await ended_task(acme, db, sealer, settings, cached=cached_definition(), where=outside)
    assert_error(await acme.client.get(f"/api/v1/tasks/{task_id}/cached_automation"), 404, "no cached automation")


async def test_any_key_of_the_account_may_save_and_no_other_account_sees_it(
    acme: Account,
    other: Account,
    anonymous: httpx.AsyncClient,
    login: str,
    app: FastAPI,
    db: Database,
    sealer: Sealer,
    settings: ServerSettings,
) -> None:
    task_id = await ended_task(acme, db, sealer, settings, cached=cached_definition())
    paths = (f"/api/v1/tasks/{task_id}/cached_automation", f"/api/v1/tasks/{task_id}/cached_automation/save")
    assert_error(await anonymous.get(paths[0]), 401, "Missing API key")
    assert_error(await anonymous.post(paths[1]), 401, "Missing API key")
    assert_error(await other.client.get(paths[0]), 404, "Task not found")
    assert_error(await other.client.post(paths[1]), 404, "Task not found")
    assert_error(await acme.client.get(f"/api/v1/tasks/{uuid.uuid4()}/cached_automation"), 404, "Task not found")

    # A member key may PUT automations, so it may save one too.
    async with db.connection() as conn:
        _, member_key = await accounts.create_key(conn, acme.id, "member", role="member")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, headers={"x-api-key": member_key}
    ) as member:
        saved = await member.post(paths[1])
    assert saved.status_code == 200 and saved.json()["version"] == 2
