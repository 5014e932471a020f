"""The inbox of one account's runs: waits wake on PostgreSQL notifications of stored messages; fetched sources
(the account's IMAP mailbox, Slack) are checked on a short cadence while a wait lasts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx

from rebrowse.browser.egress import EgressDenied, EgressPolicy
from rebrowse.errors import RebrowseError
from rebrowse.messages.imap import MailboxFailed, MailboxReader, MailboxSettings
from rebrowse.messages.models import Message, MessageQuery
from rebrowse.messages.slack import SLACK_API_URL, SlackReader, SlackSettings
from rebrowse.store import messages, notifications
from rebrowse.store.database import Database
from rebrowse.store.messages import SourceKind
from rebrowse.store.sealing import Sealer
from rebrowse.store.tasks import Waiting

# How often a fetched source is checked while a step waits. IMAP IDLE would push new mail, but Python's imaplib
# has no IDLE before 3.14, and Slack offers pushes only to a public Events URL; a check every 2 s on one open
# connection (IMAP) or one call (Slack, well inside its per-minute limit) costs little, lasts only while a step
# waits, and adds at most 2 s to a code's arrival. Posted messages (API, Twilio) wake waits at once.
SOURCE_CHECK_S = 2.0

Fetched = list[tuple[str, Message]]
WaitNote = Callable[[Waiting | None], Awaitable[None]]


class SourceMissing(RebrowseError):
    """The account has not configured the source a step's channel is read from."""


class Source(Protocol):
    async def check(self) -> Fetched: ...

    async def close(self) -> None: ...


@dataclass
class MailboxSource:
    settings: MailboxSettings
    since: datetime
    policy: EgressPolicy
    reader: MailboxReader | None = None

    async def check(self) -> Fetched:
        if self.reader is None:
            # The account chose the host: the worker connects only where tasks may connect (egress policy).
            try:
                address = await self.policy.address(self.settings.host, self.settings.port)
            except (EgressDenied, OSError) as exc:
                raise MailboxFailed(f"the account's mailbox {self.settings.host} cannot be reached: {exc}") from None
            self.reader = MailboxReader(self.settings, self.since, str(address))
        return await asyncio.to_thread(self.reader.check)

    async def close(self) -> None:
        if self.reader is not None:
            await asyncio.to_thread(self.reader.close)


@dataclass
class SlackSource:
    reader: SlackReader
    client: httpx.AsyncClient = field(default_factory=httpx.AsyncClient)

    async def check(self) -> Fetched:
        return await self.reader.check(self.client)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class AccountInbox:
    """What an account's runs read codes from (a worker makes one per task)."""

    db: Database
    sealer: Sealer
    account_id: uuid.UUID
    slack_api_url: str = SLACK_API_URL
    # Where an account's mailbox may be: the tasks' egress policy (the worker's slot's); by default public hosts.
    policy: EgressPolicy = field(default_factory=lambda: EgressPolicy.from_settings((), deny_private=False))
    note_wait: WaitNote | None = None  # told what the task waits for (None: it stopped waiting)

    @asynccontextmanager
    async def watch(self, query: MessageQuery, node: str) -> AsyncIterator[StoreWatch]:
        # LISTEN before the first look, so that a message stored in between still wakes the wait.
        async with notifications.listening(self.db.url, messages.NOTIFY_CHANNEL) as listener:
            source = await self._source(query)
            watch = StoreWatch(self, query, listener, source)
            if self.note_wait is not None:
                waiting = Waiting(
                    message=f"a 2FA code by {query.describe()}",
                    node=node,
                    since=datetime.now(UTC),
                    deadline=query.until,
                    kind="two_fa",
                )
                await self.note_wait(waiting)
            try:
                yield watch
            finally:
                if source is not None:
                    await source.close()
                if self.note_wait is not None:
                    await self.note_wait(None)

    async def _source(self, query: MessageQuery) -> Source | None:
        """The fetched source of the query's channel; None for SMS (posted to the API, never fetched)."""
        if query.channel == "sms":
            return None
        kind: SourceKind = "imap" if query.channel == "email" else "slack"
        async with self.db.connection() as conn:
            config = await messages.get_source(conn, self.sealer, self.account_id, kind)
        if config is None and query.channel == "slack":
            raise SourceMissing(
                "the account has no Slack token: set one with PUT /api/v1/accounts/current/message-sources/slack"
            )
        if config is None:
            return None  # mail may still be forwarded to POST /api/v1/messages
        if kind == "imap":
            return MailboxSource(MailboxSettings(**config), query.since, self.policy)
        return SlackSource(SlackReader(SlackSettings(**config), query.receiver, query.since, self.slack_api_url))


@dataclass
class StoreWatch:
    inbox: AccountInbox
    query: MessageQuery
    listener: notifications.Listener
    source: Source | None
    seen: set[uuid.UUID] = field(default_factory=set)

    async def wait(self, timeout_s: float) -> Sequence[Message]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self.source is not None:
                await self._ingest(await self.source.check())
            fresh = await self._fresh()
            remaining = deadline - loop.time()
            if fresh or remaining <= 0:
                return fresh
            await self._notified(min(remaining, SOURCE_CHECK_S) if self.source is not None else remaining)

    async def _ingest(self, fetched: Fetched) -> None:
        async with self.inbox.db.connection() as conn:
            for key, message in fetched:
                await messages.add_message(conn, self.inbox.sealer, self.inbox.account_id, message, source_key=key)

    async def _fresh(self) -> list[Message]:
        """The accepted messages not returned before, newest first."""
        q, inbox = self.query, self.inbox
        async with inbox.db.connection() as conn:
            stored = await messages.received(conn, inbox.sealer, inbox.account_id, q.channel, q.since, q.until)
        fresh = [(id_, message) for id_, message in stored if id_ not in self.seen and q.accepts(message)]
        self.seen.update(id_ for id_, _ in fresh)
        return [message for _, message in fresh]

    async def _notified(self, timeout_s: float) -> None:
        """Return when a message of this account was stored, or after `timeout_s`."""
        account = str(self.inbox.account_id)
        async for notify in self.listener.notifies(timeout=timeout_s):
            if notify.payload == account:
                return
