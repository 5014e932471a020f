"""Scheduled runs over the API: validation, tenancy, pausing, and firing ticks (time zones, exactly once)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from rebrowse.api.app import create_app, services_of
from rebrowse.api.deps import Services
from rebrowse.api.scheduling import fire_tick
from rebrowse.queue.app import make_queue
from rebrowse.settings import ServerSettings
from rebrowse.store import schedules, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from tests.api.conftest import AUTOMATION, Account, automation
from tests.api.test_auth import assert_error

SECRET = "JBSWY3DPEHPK3PXPSCHEDULED"
WINTER = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


async def put(account: Account, name: str = "nightly", **body: Any) -> dict[str, Any]:
    fields = {"cron": "*/5 * * * *", "endpoint_name": "login", "input_parameters": {"username": ["ada"]}, **body}
    response = await account.client.put(f"/api/v1/schedules/{name}", json=fields)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def tasks_of(db: Database, account: Account) -> list[tasks.Task]:
    async with db.connection() as conn:
        rows = await (
            await conn.execute("SELECT * FROM tasks WHERE account_id = %(a)s ORDER BY created_at", {"a": account.id})
        ).fetchall()
    return [tasks.task_of(row) for row in rows]


@pytest.fixture
def services(app: FastAPI) -> Services:
    return services_of(app)


async def test_put_get_list_pause_resume_delete(acme: Account, login: str) -> None:
    created = await put(acme, timezone="Europe/Paris", priority=3, unique_parameter_names=["username"])
    assert created["name"] == "nightly" and created["endpoint_name"] == "login"
    assert (created["cron"], created["timezone"], created["paused"]) == ("*/5 * * * *", "Europe/Paris", False)
    assert created["input_parameters"] == {"username": ["ada"]} and created["priority"] == 3
    next_run = datetime.fromisoformat(created["next_run_at"])
    assert next_run > datetime.now(UTC) and next_run.minute % 5 == 0
    assert created["last_run_at"] is None and created["last_task_id"] is None and created["last_error"] is None

    assert (await acme.client.get("/api/v1/schedules/nightly")).json() == created
    assert [s["name"] for s in (await acme.client.get("/api/v1/schedules")).json()["schedules"]] == ["nightly"]

    paused = (await acme.client.post("/api/v1/schedules/nightly/pause")).json()
    assert paused["paused"] is True and paused["next_run_at"] is None
    resumed = (await acme.client.post("/api/v1/schedules/nightly/resume")).json()
    assert resumed["paused"] is False and resumed["next_run_at"] is not None
    replaced = await put(acme, cron="0 9 * * 1-5", paused=True)
    assert (replaced["cron"], replaced["timezone"], replaced["paused"]) == ("0 9 * * 1-5", "UTC", True)
    assert replaced["created_at"] == created["created_at"]

    assert (await acme.client.delete("/api/v1/schedules/nightly")).status_code == 204
    assert_error(await acme.client.get("/api/v1/schedules/nightly"), 404, "nightly")
    assert (await acme.client.get("/api/v1/schedules")).json() == {"schedules": []}


async def test_secrets_are_sealed_and_never_shown(acme: Account, login: str, db: Database) -> None:
    shown = await put(
        acme,
        secure_parameters={"password": [{"totp": {"totp_secret": SECRET}}]},
        task_callback_url="http://127.0.0.1:9/hook",
        task_callback_api_key="callback-key-of-the-schedule",
    )
    assert SECRET not in str(shown) and "callback-key-of-the-schedule" not in str(shown)
    assert shown["task_callback_url"] == "http://127.0.0.1:9/hook"
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT request::text AS request, sealed_request FROM schedules")).fetchone()
    assert row is not None
    assert SECRET not in row["request"] and "callback-key" not in row["request"]
    assert row["sealed_request"] is not None and SECRET.encode() not in bytes(row["sealed_request"])


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({"cron": "61 * * * *"}, "cron", ["not a valid cron expression"]),
        ({"cron": "* * * *"}, "cron", ["5 fields"]),
        ({"cron": "*/10 * * * * *"}, "cron", ["5 fields"]),
        ({"cron": None}, "cron", []),
        ({"timezone": "Mars/Olympus"}, "timezone", ["IANA time zone"]),
        ({"timezone": ""}, "timezone", ["IANA time zone"]),
        ({"endpoint_name": "nope"}, "endpoint_name", ["no automation 'nope'"]),
        ({"input_parameters": {"user": ["x"]}}, "input_parameters.user", ["not declared"]),
        ({"unique_parameter_names": ["account"]}, "unique_parameter_names[0]", ["not a key of input_parameters"]),
        ({"priority": "high"}, "priority", []),
        ({"paused": "yes"}, "paused", ["boolean"]),
        ({"every": "minute"}, "every", ["unknown field"]),
    ],
)
async def test_invalid_schedules_are_400_naming_the_field(
    acme: Account, login: str, body: dict[str, Any], path: str, words: list[str]
) -> None:
    fields = {"cron": "* * * * *", "endpoint_name": "login", **body}
    error = assert_error(await acme.client.put("/api/v1/schedules/bad", json=fields), 400, path, *words)
    assert path in {e["path"] for e in error["errors"]}
    assert (await acme.client.get("/api/v1/schedules")).json() == {"schedules": []}


async def test_a_bad_name_is_400(acme: Account, login: str) -> None:
    response = await acme.client.put("/api/v1/schedules/bad name", json={"cron": "* * * * *", "endpoint_name": "login"})
    assert response.status_code == 400


async def test_another_accounts_schedule_is_404(acme: Account, login: str, other: Account) -> None:
    await put(acme)
    for response in (
        await other.client.get("/api/v1/schedules/nightly"),
        await other.client.post("/api/v1/schedules/nightly/pause"),
        await other.client.post("/api/v1/schedules/nightly/resume"),
        await other.client.delete("/api/v1/schedules/nightly"),
    ):
        assert_error(response, 404, "nightly")
    assert (await other.client.get("/api/v1/schedules")).json() == {"schedules": []}
    # Another account's automation of the same name does not exist for this one.
    assert_error(
        await other.client.put("/api/v1/schedules/mine", json={"cron": "* * * * *", "endpoint_name": "login"}),
        400,
        "endpoint_name",
    )
    assert (await acme.client.get("/api/v1/schedules/nightly")).json()["paused"] is False


async def test_a_tick_fires_matching_schedules_into_tasks(
    acme: Account, login: str, services: Services, db: Database
) -> None:
    await put(acme, "every-five", secure_parameters={"password": [{"totp": {"totp_secret": SECRET}}]})
    await put(acme, "paused", cron="* * * * *", paused=True)
    assert await fire_tick(services, at(WINTER, 10, 6)) == []  # */5 does not match :06; paused never fires

    (task,) = await fire_tick(services, at(WINTER, 10, 5))
    assert task.schedule_name == "every-five" and task.endpoint_name == "login" and task.status == "queued"
    assert task.input_parameters == {"username": ["ada"]} and task.job_id is not None
    assert task.secure_parameters is not None
    assert services.sealer.open_json(task.secure_parameters)["password"][0]["totp"]["totp_secret"] == SECRET
    shown = (await acme.client.get(f"/api/v1/tasks/{task.id}")).json()
    assert shown["schedule_name"] == "every-five"
    schedule = (await acme.client.get("/api/v1/schedules/every-five")).json()
    assert schedule["last_task_id"] == str(task.id) and schedule["last_task_status"] == "queued"
    assert datetime.fromisoformat(schedule["last_run_at"]) == at(WINTER, 10, 5)
    assert [t.id for t in await tasks_of(db, acme)] == [task.id]


async def test_a_tick_fired_many_times_at_once_creates_one_task(
    acme: Account, login: str, services: Services, db: Database
) -> None:
    await put(acme, cron="* * * * *")
    tick = at(WINTER, 11, 30)
    fired = await asyncio.gather(*(fire_tick(services, tick) for _ in range(8)))
    assert sum(len(created) for created in fired) == 1
    assert len(await tasks_of(db, acme)) == 1
    assert await fire_tick(services, tick) == []  # a retried job of the same tick
    assert len(await fire_tick(services, at(WINTER, 11, 31))) == 1


@pytest.fixture
async def second_api(settings: ServerSettings, database_url: str, sealer: Sealer) -> AsyncIterator[Services]:
    """Another API process's services: its own pool and queue on the same database."""
    db = Database(database_url, max_size=4)
    await db.open()
    queue = make_queue(database_url, max_connections=2)
    try:
        async with queue.open_async():
            yield services_of(create_app(settings, db, queue, sealer))
    finally:
        await db.close()


async def test_two_api_processes_firing_the_same_tick_create_one_task(
    acme: Account, login: str, services: Services, second_api: Services, db: Database
) -> None:
    await put(acme, cron="15 * * * *")
    tick = at(WINTER, 12, 15)
    fired = await asyncio.gather(*(fire_tick(api, tick) for api in [services, second_api] * 4))
    assert sum(len(created) for created in fired) == 1
    async with db.connection() as conn:
        count = await (await conn.execute("SELECT count(*) AS n FROM schedule_ticks")).fetchone()
    assert count is not None and count["n"] == 1
    assert len(await tasks_of(db, acme)) == 1


@pytest.mark.parametrize(
    ("timezone", "fires_at_utc", "not_at_utc"),
    [
        ("Europe/Paris", at(WINTER, 8), at(WINTER, 9)),  # UTC+1 in January
        ("Europe/Paris", at(datetime(2026, 7, 13, tzinfo=UTC), 7), at(datetime(2026, 7, 13, tzinfo=UTC), 8)),  # +2
        ("America/New_York", at(WINTER, 14), at(WINTER, 9)),  # UTC-5 in January
        ("Asia/Kolkata", at(WINTER, 3, 30), at(WINTER, 9)),  # UTC+5:30
    ],
)
async def test_a_cron_is_read_in_its_time_zone(
    acme: Account,
    login: str,
    services: Services,
    timezone: str,
    fires_at_utc: datetime,
    not_at_utc: datetime,
) -> None:
    shown = await put(acme, cron="0 9 * * *", timezone=timezone)
    assert datetime.fromisoformat(shown["next_run_at"]).astimezone(UTC).minute == fires_at_utc.minute
    assert await fire_tick(services, not_at_utc) == []
    (task,) = await fire_tick(services, fires_at_utc)
    assert task.schedule_name == "nightly"


async def test_a_tick_that_cannot_submit_fails_visibly(
    acme: Account, login: str, services: Services, db: Database
) -> None:
    await put(acme, cron="* * * * *")
    # The automation's new version no longer declares the schedule's input.
    changed = automation(parameters={"input_parameters": {"query": ["x"]}, "secure_parameters": {}})
    changed["nodes"] = AUTOMATION["nodes"][1:]
    assert (await acme.client.put("/api/v1/automations/login", json={"automation": changed})).status_code == 200
    assert await fire_tick(services, at(WINTER, 13, 0)) == []
    failed = (await acme.client.get("/api/v1/schedules/nightly")).json()
    assert "input_parameters.username" in failed["last_error"] and "not declared" in failed["last_error"]
    assert datetime.fromisoformat(failed["last_run_at"]) == at(WINTER, 13, 0)

    assert (await acme.client.delete("/api/v1/automations/login")).status_code == 204
    assert await fire_tick(services, at(WINTER, 13, 1)) == []
    gone = (await acme.client.get("/api/v1/schedules/nightly")).json()
    assert "'login' not found" in gone["last_error"] and gone["last_task_id"] is None
    assert await tasks_of(db, acme) == []
    async with db.connection() as conn:
        stored = await schedules.get_schedule(conn, acme.id, "nightly")
    assert stored is not None and stored.last_error == gone["last_error"]


async def test_unknown_schedule_is_404(acme: Account) -> None:
    for response in (
        await acme.client.get("/api/v1/schedules/none"),
        await acme.client.post("/api/v1/schedules/none/pause"),
        await acme.client.delete("/api/v1/schedules/none"),
    ):
        assert_error(response, 404, "'none'")


async def test_a_stored_request_that_no_longer_validates_fails_its_tick_without_its_secrets(
    acme: Account, login: str, services: Services, db: Database
) -> None:
    await put(acme, cron="* * * * *", secure_parameters={"password": [{"totp": {"totp_secret": SECRET}}]})
    async with db.connection() as conn:  # as if the request model had changed since the schedule was stored
        await conn.execute("""UPDATE schedules SET request = request || '{"retired_field": "x"}'""")
    assert await fire_tick(services, at(WINTER, 14, 0)) == []
    failed = (await acme.client.get("/api/v1/schedules/nightly")).json()
    assert "retired_field: unknown field" in failed["last_error"] and SECRET not in failed["last_error"]
