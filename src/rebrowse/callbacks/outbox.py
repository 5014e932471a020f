"""Writing callback events: queued in the caller's transaction, announced to the senders when it commits."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from rebrowse.callbacks.payload import build_payload, build_waiting_payload
from rebrowse.store import callbacks, notifications
from rebrowse.store.database import Connection, Database
from rebrowse.store.tasks import Task


async def notify(conn: Connection) -> None:
    """Wake the senders (on any host) once the caller's transaction commits."""
    await notifications.notify(conn, callbacks.CHANNEL)


async def enqueue(
    conn: Connection, task: Task, *, public_url: str, final_screenshot: bytes | None = None
) -> callbacks.CallbackEvent | None:
    """Queue the finished task's callback (None when it has no callback URL); the worker that ran the task hands
    over the final screenshot's bytes (the API's hosts may not share its files)."""
    if not task.callback_url:
        return None
    event_id = uuid.uuid4()
    created_at = datetime.now(UTC)
    payload = build_payload(
        task,
        event_id=event_id,
        created_at=created_at,
        public_url=public_url,
        # A screenshot may show what was typed into the page: its bytes travel only when asked for.
        final_screenshot=(
            base64.b64encode(final_screenshot).decode()
            if final_screenshot is not None and task.callback_include_screenshot
            else None
        ),
    )
    event = await callbacks.insert_event(
        conn,
        event_id=event_id,
        task_id=task.id,
        account_id=task.account_id,
        url=task.callback_url,
        api_key=task.callback_api_key,  # stays sealed with the same key
        payload=payload,
        created_at=created_at,
    )
    await notify(conn)
    return event


async def enqueue_waiting(conn: Connection, task: Task, *, public_url: str) -> callbacks.CallbackEvent | None:
    """Queue a `waiting_for_person` event, only when the submission subscribed to it (receivers that did not get
    exactly the one final callback they always got)."""
    if not task.callback_url or "waiting_for_person" not in task.callback_events:
        return None
    event_id, created_at = uuid.uuid4(), datetime.now(UTC)
    event = await callbacks.insert_event(
        conn,
        event_id=event_id,
        task_id=task.id,
        account_id=task.account_id,
        url=task.callback_url,
        api_key=task.callback_api_key,
        payload=build_waiting_payload(task, event_id=event_id, created_at=created_at, public_url=public_url),
        created_at=created_at,
    )
    await notify(conn)
    return event


async def redeliver(db: Database, account_id: uuid.UUID, task_id: uuid.UUID) -> list[callbacks.CallbackEvent]:
    """Send the task's callback again, with the same event id; empty when the account's task has none."""
    async with db.transaction() as conn:
        events = await callbacks.reset_for_redelivery(conn, account_id, task_id)
        if events:
            await notify(conn)
    return events
