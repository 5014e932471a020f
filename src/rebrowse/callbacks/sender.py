"""The background sender: delivers due callback events, records every attempt, retries with backoff.

All state lives in the outbox tables, so any number of senders (one per API process) share the work and a
restart loses nothing: a claimed event is leased for LEASE_S, and one whose sender died comes back after it.
Delivering never touches the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass

import httpx
import psycopg

from rebrowse.callbacks import signing
from rebrowse.settings import ServerSettings
from rebrowse.ssrf import AllowList, DestinationRefused, PinnedTransport
from rebrowse.store import accounts, callbacks, notifications
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.version import __version__

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # one delivery, from connecting to the response's status line
LEASE_S = 60.0  # longer than TIMEOUT_S: a claimed event is not claimed again while it is being delivered
POLL_INTERVAL_S = 5.0  # fallback when a NOTIFY is missed (e.g. the listening connection was down)
MAX_IN_FLIGHT = 16
BACKOFF_FIRST_S = 2.0
BACKOFF_CAP_S = 3600.0  # the default of REBROWSE_CALLBACK_BACKOFF_CAP
ERROR_CHARS = 300  # an attempt's error is kept short; receivers' bodies are never stored
DATABASE_DOWN = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: float
    refused: bool = False  # the destination is not allowed: retrying cannot help

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_s(attempts: int, cap_s: float = BACKOFF_CAP_S) -> float:
    """The wait before the next attempt after `attempts` failed ones: doubling up to `cap_s`, with jitter."""
    ceiling = min(cap_s, BACKOFF_FIRST_S * 2.0 ** min(max(0, attempts - 1), 32))
    # Half fixed, half random: retries of many events that failed together spread out instead of stampeding.
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def body_of(event: callbacks.CallbackEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def headers_for(event: callbacks.CallbackEvent, body: bytes, secret: bytes, api_key: str | None) -> dict[str, str]:
    """The headers of one attempt: signed with a fresh timestamp, so a retry is never refused as stale."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": f"rebrowse-callbacks/{__version__}",
        signing.EVENT_ID_HEADER: str(event.id),
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature_header(secret, timestamp, body),
    }
    if api_key is not None:
        headers["x-api-key"] = api_key
    return headers


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    """One POST; the response body is not read (a receiver cannot make the sender buffer it)."""
    started = time.perf_counter()

    def result(status_code: int | None, error: str | None, *, refused: bool = False) -> AttemptResult:
        return AttemptResult(
            status_code, error and error[:ERROR_CHARS], (time.perf_counter() - started) * 1000, refused
        )

    try:
        async with asyncio.timeout(TIMEOUT_S), client.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
    except TimeoutError:
        return result(None, f"no response within {TIMEOUT_S:g} s")
    except DestinationRefused as exc:
        return result(None, str(exc), refused=True)
    except httpx.InvalidURL:
        return result(None, "the callback URL is not valid", refused=True)
    except httpx.HTTPError as exc:
        return result(None, f"{type(exc).__name__}: {exc}")
    return result(status, None if 200 <= status < 300 else f"HTTP {status}")


def callback_api_key(sealer: Sealer, event: callbacks.CallbackEvent) -> str | None:
    """The task's callback key (sealed with `Sealer.seal_json` when the task was submitted)."""
    if event.api_key is None:
        return None
    value = sealer.open_json(event.api_key)
    return value if isinstance(value, str) else None


async def deliver(
    db: Database, sealer: Sealer, client: httpx.AsyncClient, event: callbacks.CallbackEvent, cap_s: float
) -> None:
    """Attempt one event and record the attempt with its consequence (a retry at most `cap_s` later)."""
    async with db.connection() as conn:
        secret = await accounts.signing_secret(conn, sealer, event.account_id)
    body = body_of(event)
    result = await post(client, event.url, body, headers_for(event, body, secret, callback_api_key(sealer, event)))
    await record(db, event, result, cap_s)


async def record(db: Database, event: callbacks.CallbackEvent, result: AttemptResult, cap_s: float) -> None:
    """Keep the attempt, then mark the event delivered, failed (refused), or due again after a backoff."""
    async with db.transaction() as conn:
        await callbacks.record_attempt(
            conn, event.id, status_code=result.status_code, error=result.error, duration_ms=result.duration_ms
        )
        if result.delivered:
            await callbacks.mark_delivered(conn, event.id)
        elif result.refused:
            await callbacks.mark_failed(conn, event.id)
        else:
            await callbacks.schedule_retry(conn, event.id, backoff_s(event.attempts + 1, cap_s))


async def deliver_logged(
    db: Database, sealer: Sealer, client: httpx.AsyncClient, event: callbacks.CallbackEvent, cap_s: float
) -> None:
    """deliver(); a failure on our side counts as a failed attempt, so the event still ends by its deadline."""
    try:
        await deliver(db, sealer, client, event, cap_s)
    except Exception as exc:
        log.exception("callback event %s could not be processed", event.id, extra={"task_id": str(event.task_id)})
        # Best effort: when the database is what failed, the event comes back once its lease ends.
        with contextlib.suppress(Exception):
            await record(db, event, AttemptResult(None, f"sender error: {type(exc).__name__}", 0.0), cap_s)


class Sender:
    """Claims due events while fewer than MAX_IN_FLIGHT deliveries are under way."""

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        client: httpx.AsyncClient,
        wake: asyncio.Event,
        backoff_cap_s: float = BACKOFF_CAP_S,
    ) -> None:
        self.db = db
        self.backoff_cap_s = backoff_cap_s
        self.sealer = sealer
        self.client = client
        self.wake = wake
        self.in_flight: set[asyncio.Task[None]] = set()

    async def dispatch(self) -> float:
        """Start deliveries for due events; returns how long to wait before looking again (unless woken)."""
        try:
            free = MAX_IN_FLIGHT - len(self.in_flight)
            async with self.db.connection() as conn:
                if free:
                    for event in await callbacks.claim_due(conn, limit=free, lease_s=LEASE_S):
                        self.start(event)
                if len(self.in_flight) >= MAX_IN_FLIGHT:
                    return POLL_INTERVAL_S  # a finishing delivery wakes the loop
                due = await callbacks.seconds_until_due(conn)
        except DATABASE_DOWN as exc:
            log.warning("callback sender cannot reach the database (%s); trying again", type(exc).__name__)
            return POLL_INTERVAL_S
        return POLL_INTERVAL_S if due is None else min(due, POLL_INTERVAL_S)

    def start(self, event: callbacks.CallbackEvent) -> None:
        task = asyncio.create_task(deliver_logged(self.db, self.sealer, self.client, event, self.backoff_cap_s))
        self.in_flight.add(task)
        task.add_done_callback(self.finished)

    def finished(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.wake.set()

    async def drain(self, *, cancel: bool) -> None:
        """Wait for the deliveries under way (cancelled first when `cancel`)."""
        if cancel:
            for task in self.in_flight:
                task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)


async def listen(url: str, wake: asyncio.Event) -> None:
    """Set `wake` on every NOTIFY of the outbox channel, reconnecting after a lost connection."""
    while True:
        try:
            async with notifications.listening(url, callbacks.CHANNEL) as conn:
                wake.set()  # events queued while nobody was listening
                async for _ in conn.notifies():
                    wake.set()
        except DATABASE_DOWN as exc:
            log.warning("callback sender lost its LISTEN connection (%s); polling meanwhile", type(exc).__name__)
            await asyncio.sleep(POLL_INTERVAL_S)


async def run_sender(db: Database, sealer: Sealer, settings: ServerSettings, stop: asyncio.Event) -> None:
    """Deliver callbacks until `stop` is set, then finish the deliveries under way."""
    wake = asyncio.Event()
    transport = PinnedTransport(AllowList.parse(settings.callback_allow_hosts))
    async with httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=TIMEOUT_S) as client:
        sender = Sender(db, sealer, client, wake, settings.callback_backoff_cap_s)
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: wake.set())
        listener = asyncio.create_task(listen(db.url, wake))
        try:
            while not stop.is_set():
                wake.clear()
                delay = await sender.dispatch()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)
        finally:
            for task in (stopping, listener):
                task.cancel()
            await sender.drain(cancel=not stop.is_set())
