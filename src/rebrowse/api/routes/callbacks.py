"""Callbacks: a task's deliveries and their attempts, redelivery, and the secret that signs them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import ServicesDep, find_task
from rebrowse.api.errors import Conflict
from rebrowse.api.schemas import ERRORS, ErrorBody
from rebrowse.callbacks.outbox import redeliver
from rebrowse.store import accounts, callbacks

router = APIRouter(prefix="/api/v1", tags=["callbacks"], responses=ERRORS)


class CallbackAttemptBody(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null when no response came")
    error: str | None
    duration_ms: float


class CallbackEventBody(BaseModel):
    event_id: uuid.UUID = Field(description="Sent as x-rebrowse-event-id: the same on every attempt")
    url: str
    state: Literal["pending", "delivered", "failed"]
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When the next attempt is due (pending events only)")
    give_up_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    attempts: list[CallbackAttemptBody] = Field(description="Every attempt, oldest first")


class TaskCallbacks(BaseModel):
    task_id: uuid.UUID
    callbacks: list[CallbackEventBody]


class Redelivery(BaseModel):
    success: Literal[True] = True
    task_id: uuid.UUID
    event_ids: list[uuid.UUID]
    message: str


class SigningSecret(BaseModel):
    signing_secret: str = Field(description="Hex; verify callbacks with rebrowse.verify_signature(bytes.fromhex(...))")


def event_body(history: callbacks.EventHistory) -> CallbackEventBody:
    event = history.event
    return CallbackEventBody(
        event_id=event.id,
        url=event.url,
        state=event.state,
        created_at=event.created_at,
        next_attempt_at=event.next_attempt_at if event.state == "pending" else None,
        give_up_at=event.give_up_at,
        delivered_at=event.delivered_at,
        last_error=event.last_error,
        attempts=[
            CallbackAttemptBody(
                attempted_at=a.attempted_at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms
            )
            for a in history.attempts
        ],
    )


@router.get("/tasks/{task_id}/callbacks", operation_id="list_task_callbacks")
async def list_task_callbacks(task_id: str, services: ServicesDep, caller: CallerDep) -> TaskCallbacks:
    """The task's callback and every attempt to deliver it."""
    task = await find_task(services, caller.account.id, task_id)
    async with services.db.connection() as conn:
        history = await callbacks.list_for_task(conn, caller.account.id, task.id)
    return TaskCallbacks(task_id=task.id, callbacks=[event_body(h) for h in history])


@router.post(
    "/tasks/{task_id}/callbacks/redeliver",
    operation_id="redeliver_task_callbacks",
    status_code=202,
    responses={409: {"model": ErrorBody, "description": "The task has no callback (yet)"}},
)
async def redeliver_task_callbacks(task_id: str, services: ServicesDep, caller: CallerDep) -> Redelivery:
    """Send the task's callback again, with the same event id, retried for another 24 hours."""
    task = await find_task(services, caller.account.id, task_id)
    events = await redeliver(services.db, caller.account.id, task.id)
    if not events:
        why = "it was submitted without task_callback_url" if task.is_terminal else "it has not ended yet"
        raise Conflict(f"Task {task.id} has no callback to send: {why}")
    return Redelivery(task_id=task.id, event_ids=[e.id for e in events], message="Callback queued for delivery")


@router.get("/callbacks/signing_secret", operation_id="get_signing_secret")
async def get_signing_secret(services: ServicesDep, caller: CallerDep) -> SigningSecret:
    """The account's secret that signs its callbacks (x-rebrowse-signature)."""
    async with services.db.connection() as conn:
        secret = await accounts.signing_secret(conn, services.sealer, caller.account.id)
    return SigningSecret(signing_secret=secret.hex())
