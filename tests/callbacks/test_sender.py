"""The sender against a real receiver on 127.0.0.1: retries, give-up, refusals, headers, redelivery."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from rebrowse.callbacks.outbox import redeliver
from rebrowse.callbacks.sender import backoff_s
from rebrowse.callbacks.signing import verify_signature
from rebrowse.settings import ServerSettings
from rebrowse.store import accounts, callbacks, tasks
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer, generate_key
from tests.callbacks.conftest import Receiver, finished_task, running_sender
from tests.waiting import eventually, free_port


async def history_of(db: Database, task: tasks.Task) -> callbacks.EventHistory:
    async with db.connection() as conn:
        [history] = await callbacks.list_for_task(conn, task.account_id, task.id)
    return history


def in_state(db: Database, task: tasks.Task, state: callbacks.EventState) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await history_of(db, task)).event.state == state

    return check


async def test_500_then_200_is_delivered_once_with_one_event_id(
    db: Database, sealer: Sealer, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    task = await finished_task(db, sealer, receiver.url)
    async with running_sender(db, sealer):
        await eventually(in_state(db, task, "delivered"), what="delivery")
    history = await history_of(db, task)
    assert [a.status_code for a in history.attempts] == [500, 200]
    assert history.attempts[0].error == "HTTP 500" and history.attempts[1].error is None
    assert history.event.delivered_at is not None and history.event.attempts == 2
    assert len(receiver.received) == 2
    ids = {r.headers["x-rebrowse-event-id"] for r in receiver.received}
    assert ids == {str(history.event.id)}
    async with db.connection() as conn:
        secret = await accounts.signing_secret(conn, sealer, task.account_id)
        again = await tasks.get_task(conn, task.id)
    last = receiver.received[-1]
    assert verify_signature(
        secret, last.body, last.headers["x-rebrowse-timestamp"], last.headers["x-rebrowse-signature"]
    )
    assert last.payload == history.event.payload and last.payload["task_id"] == str(task.id)
    assert last.headers["content-type"] == "application/json" and "x-api-key" not in last.headers
    # A delivery never changes the task.
    assert again is not None and (again.status, again.completed_at) == (task.status, task.completed_at)


async def test_api_key_header_is_sent_for_events_queued_before_the_sender_started(
    db: Database, sealer: Sealer, receiver: Receiver
) -> None:
    task = await finished_task(db, sealer, receiver.url, api_key="hook-secret-1")
    async with running_sender(db, sealer):
        await eventually(lambda: len(receiver.received) == 1, what="delivery")
        await eventually(in_state(db, task, "delivered"), what="delivered state")
    assert receiver.received[0].headers["x-api-key"] == "hook-secret-1"


async def test_receiver_down_schedules_retries(db: Database, sealer: Sealer) -> None:
    task = await finished_task(db, sealer, f"http://127.0.0.1:{free_port()}/hook")

    async def attempted() -> bool:
        return len((await history_of(db, task)).attempts) >= 1

    async with running_sender(db, sealer):
        await eventually(attempted, what="a first attempt")
    history = await history_of(db, task)
    assert history.event.state == "pending" and history.event.last_error is not None
    assert history.attempts[0].status_code is None and "Connect" in (history.attempts[0].error or "")
    assert history.event.next_attempt_at > history.attempts[-1].attempted_at


async def test_gives_up_after_the_deadline(db: Database, sealer: Sealer, receiver: Receiver) -> None:
    receiver.statuses = [503]
    task = await finished_task(db, sealer, receiver.url)
    async with db.connection() as conn:
        await conn.execute("UPDATE callback_events SET give_up_at = now() - interval '1 second'")
    async with running_sender(db, sealer):
        await eventually(in_state(db, task, "failed"), what="give-up")
    history = await history_of(db, task)
    assert [a.status_code for a in history.attempts] == [503] and history.event.last_error == "HTTP 503"


async def test_internal_destination_fails_without_a_request(db: Database, sealer: Sealer, receiver: Receiver) -> None:
    task = await finished_task(db, sealer, receiver.url)
    async with running_sender(db, sealer, allow=()):
        await eventually(in_state(db, task, "failed"), what="refusal")
    history = await history_of(db, task)
    assert receiver.received == []
    assert "may not reach" in (history.event.last_error or "") and history.attempts[0].status_code is None


async def test_redeliver_sends_the_same_event_again(db: Database, sealer: Sealer, receiver: Receiver) -> None:
    task = await finished_task(db, sealer, receiver.url)
    async with running_sender(db, sealer):
        await eventually(in_state(db, task, "delivered"), what="first delivery")
        first = await history_of(db, task)
        other = uuid.uuid4()
        assert await redeliver(db, other, task.id) == []  # another account's task: nothing to redeliver
        [event] = await redeliver(db, task.account_id, task.id)
        assert event.id == first.event.id and event.state == "pending"
        await eventually(lambda: len(receiver.received) == 2, what="redelivery")
        await eventually(in_state(db, task, "delivered"), what="delivered again")
    history = await history_of(db, task)
    assert [r.headers["x-rebrowse-event-id"] for r in receiver.received] == [str(event.id)] * 2
    assert [a.status_code for a in history.attempts] == [200, 200]
    assert history.event.delivered_at is not None and history.event.delivered_at > first.event.created_at
    assert history.event.give_up_at > datetime.now(UTC)


async def test_a_failure_on_our_side_counts_as_an_attempt(db: Database, sealer: Sealer, receiver: Receiver) -> None:
    # A callback key sealed with another server key cannot be opened: the event must not loop unrecorded.
    foreign = Sealer(generate_key()).seal_json("k")
    task = await finished_task(db, sealer, receiver.url, callback_api_key=foreign)

    async def attempted() -> bool:
        return len((await history_of(db, task)).attempts) >= 1

    async with running_sender(db, sealer):
        await eventually(attempted, what="a recorded attempt")
    history = await history_of(db, task)
    assert history.attempts[0].error == "sender error: SealingError" and history.event.state == "pending"
    assert receiver.received == []


def test_backoff_doubles_with_jitter_up_to_an_hour() -> None:
    for attempts, ceiling in [(1, 2.0), (2, 4.0), (5, 32.0), (40, 3600.0), (10_000, 3600.0)]:
        delays = [backoff_s(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len({backoff_s(3) for _ in range(20)}) > 1


def test_backoff_stays_under_the_configured_cap() -> None:
    delays = [backoff_s(attempts, cap_s=5.0) for attempts in range(1, 40)]
    assert max(delays) <= 5.0
    assert min(backoff_s(30, cap_s=5.0) for _ in range(20)) >= 2.5


def test_the_cap_is_a_setting() -> None:
    assert ServerSettings.from_env({"REBROWSE_CALLBACK_BACKOFF_CAP": "5"}).callback_backoff_cap_s == 5.0
    assert ServerSettings.from_env({}).callback_backoff_cap_s == 3600.0
