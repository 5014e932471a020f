"""A message as stored, the filter a two_fa_action waits with, and the inbox the engine waits on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from typing import Literal, Protocol, get_args

Channel = Literal["email", "sms", "slack"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
MAX_TEXT = 64 * 1024  # characters of a message kept: a code is near the top, and a pattern runs over all of it


@dataclass(frozen=True)
class Message:
    """One inbound message; `sender` and `receiver` are as the source gave them (addresses, numbers, names)."""

    channel: Channel
    sender: str
    receiver: str
    text: str
    received_at: datetime


@dataclass(frozen=True)
class MessageQuery:
    """The messages a two_fa_action accepts: its channel, from and to whom (empty: anyone), received in a window."""

    channel: Channel
    sender: str
    receiver: str
    since: datetime
    until: datetime

    def accepts(self, message: Message) -> bool:
        return (
            message.channel == self.channel
            and self.since <= message.received_at <= self.until
            and same_party(self.channel, self.sender, message.sender)
            and same_party(self.channel, self.receiver, message.receiver)
        )

    def describe(self) -> str:
        """The filter in words, for a step's record and its timeout error (addresses only, never a text)."""
        parts = [f"{self.channel}"]
        if self.sender:
            parts.append(f"from {self.sender}")
        if self.receiver:
            parts.append(f"to {self.receiver}")
        return " ".join(parts)


def same_party(channel: Channel, wanted: str, actual: str) -> bool:
    """Whether a message's sender (or receiver) is the one a step asks for: email compares addresses (a display
    name or another recipient around it does not matter), SMS the digits of numbers, Slack names without '#'/'@'."""
    if not wanted.strip():
        return True
    if channel == "email":
        return addresses(wanted) <= addresses(actual)
    if channel == "sms":
        return digits(wanted) == digits(actual)
    return slack_name(wanted) == slack_name(actual)


def addresses(text: str) -> set[str]:
    return {address.lower() for _, address in getaddresses([text]) if address}


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def slack_name(name: str) -> str:
    return name.strip().lstrip("#@").lower()


class MessageWatch(Protocol):
    async def wait(self, timeout_s: float) -> Sequence[Message]:
        """The accepted messages not returned before, newest first, waiting up to `timeout_s` for one to arrive;
        empty when none did."""
        ...


class Inbox(Protocol):
    """Where a run's messages come from (a worker's: the database of its task's account)."""

    def watch(self, query: MessageQuery, node: str) -> AbstractAsyncContextManager[MessageWatch]:
        """Wait for messages `query` accepts; fetched sources are checked while the watch lasts."""
        ...
