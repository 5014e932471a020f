"""The SDK's schedule calls, sync and async alike, against the real API served on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

import rebrowse
from rebrowse.client import InvalidRequestError, NotFoundError, Schedule
from tests.client.conftest import Api


async def test_async_client_manages_schedules(api: Api) -> None:
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        made = await client.put_schedule(
            "morning", "lookup", {"email": "a@example.com"}, cron="0 9 * * 1-5", timezone="Europe/Paris", priority=2
        )
        assert (made.name, made.cron, made.timezone, made.paused) == ("morning", "0 9 * * 1-5", "Europe/Paris", False)
        assert made.input_parameters == {"email": ["a@example.com"]} and made.priority == 2
        assert made.next_run_at is not None and made.next_run_at.minute == 0
        assert [s.name for s in await client.list_schedules()] == ["morning"]
        assert (await client.pause_schedule("morning")).paused is True
        assert (await client.get_schedule("morning")).next_run_at is None
        assert (await client.resume_schedule("morning")).paused is False
        with pytest.raises(InvalidRequestError) as bad:
            await client.put_schedule("morning", "lookup", {}, cron="every day")
        assert [e.path for e in bad.value.errors] == ["cron"]
        await client.delete_schedule("morning")
        with pytest.raises(NotFoundError):
            await client.get_schedule("morning")


def sync_session(api: Api) -> tuple[Schedule, list[Schedule], Schedule]:
    with rebrowse.Client(api.url, api.key, timeout=10) as client:
        made = client.put_schedule("nightly", "lookup", {"email": "b@example.com"}, cron="30 2 * * *", paused=True)
        listed = client.list_schedules()
        resumed = client.resume_schedule("nightly")
        client.delete_schedule("nightly")
        return made, listed, resumed


async def test_sync_client_manages_schedules(api: Api) -> None:
    made, listed, resumed = await asyncio.to_thread(sync_session, api)
    assert made.paused is True and made.next_run_at is None and made.timezone == "UTC"
    assert [s.name for s in listed] == ["nightly"]
    assert resumed.paused is False and resumed.next_run_at is not None
    async with rebrowse.AsyncClient(api.url, api.key) as client:
        assert await client.list_schedules() == []
