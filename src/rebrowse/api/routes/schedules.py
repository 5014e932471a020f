"""Scheduled runs: named cron schedules of the account that submit a task of an automation at every tick."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import Services, ServicesDep
from rebrowse.api.errors import BadRequest, NotFound
from rebrowse.api.scheduling import schedule_spec
from rebrowse.api.schemas import ERRORS, NAME_PATTERN, PutScheduleRequest, ScheduleInfo, ScheduleList
from rebrowse.api.submission import checked_task
from rebrowse.api.views import schedule_info
from rebrowse.errors import FieldError
from rebrowse.store import schedules
from rebrowse.store.accounts import Caller
from rebrowse.store.schedules import Schedule

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], responses=ERRORS)
ScheduleName = Annotated[str, Path(pattern=NAME_PATTERN, description="1-100 characters of A-Z a-z 0-9 _ . -")]


def not_found(name: str) -> NotFound:
    return NotFound(f"name: no schedule {name!r} in this account")


async def found(services: Services, caller: Caller, name: str) -> Schedule:
    async with services.db.connection() as conn:
        schedule = await schedules.get_schedule(conn, caller.account.id, name)
    if schedule is None:
        raise not_found(name)
    return schedule


@router.put("/{name}", operation_id="put_schedule")
async def put_schedule(
    name: ScheduleName, body: PutScheduleRequest, services: ServicesDep, caller: CallerDep
) -> ScheduleInfo:
    """Create or replace a schedule; its request is checked against the automation as a submission is."""
    try:
        await checked_task(services, caller.account.id, body)
    except NotFound:
        raise BadRequest.of_fields(
            [FieldError("endpoint_name", f"no automation {body.endpoint_name!r} in this account")]
        ) from None
    async with services.db.connection() as conn:
        stored = await schedules.put_schedule(conn, caller.account.id, name, schedule_spec(services, body))
    return schedule_info(stored, datetime.now(UTC))


@router.get("", operation_id="list_schedules")
async def list_schedules(services: ServicesDep, caller: CallerDep) -> ScheduleList:
    """The account's schedules, with their next and last runs."""
    async with services.db.connection() as conn:
        stored = await schedules.list_schedules(conn, caller.account.id)
    now = datetime.now(UTC)
    return ScheduleList(schedules=[schedule_info(schedule, now) for schedule in stored])


@router.get("/{name}", operation_id="get_schedule")
async def get_schedule(name: ScheduleName, services: ServicesDep, caller: CallerDep) -> ScheduleInfo:
    return schedule_info(await found(services, caller, name), datetime.now(UTC))


async def set_paused(services: Services, caller: Caller, name: str, paused: bool) -> ScheduleInfo:
    async with services.db.connection() as conn:
        if not await schedules.set_paused(conn, caller.account.id, name, paused):
            raise not_found(name)
    return schedule_info(await found(services, caller, name), datetime.now(UTC))


@router.post("/{name}/pause", operation_id="pause_schedule")
async def pause_schedule(name: ScheduleName, services: ServicesDep, caller: CallerDep) -> ScheduleInfo:
    """Stop firing the schedule until it is resumed (ticks in between are skipped, not made up)."""
    return await set_paused(services, caller, name, True)


@router.post("/{name}/resume", operation_id="resume_schedule")
async def resume_schedule(name: ScheduleName, services: ServicesDep, caller: CallerDep) -> ScheduleInfo:
    """Fire the schedule again from its next tick."""
    return await set_paused(services, caller, name, False)


@router.delete("/{name}", operation_id="delete_schedule", status_code=204, response_class=Response)
async def delete_schedule(name: ScheduleName, services: ServicesDep, caller: CallerDep) -> None:
    """Delete the schedule (the tasks it submitted stay)."""
    async with services.db.connection() as conn:
        if not await schedules.delete_schedule(conn, caller.account.id, name):
            raise not_found(name)
