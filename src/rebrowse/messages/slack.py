"""A Slack workspace, read through the Web API (conversations.history) while a two_fa_action waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from rebrowse.errors import RebrowseError
from rebrowse.messages.models import MAX_TEXT, Message

SLACK_API_URL = "https://slack.com/api"
SLACK_TIMEOUT_S = 15.0
PAGE = 200  # conversations per conversations.list page, messages per conversations.history call


class SlackFailed(RebrowseError):
    """Slack's Web API refused a call or could not be reached."""


@dataclass(frozen=True)
class SlackSettings:
    """An account's Slack bot token (scopes channels:history, channels:read, users:read; groups:* for private
    channels), sealed at rest."""

    token: str


@dataclass
class SlackReader:
    """Reads one channel's new messages; the channel's id and senders' names are looked up once per wait."""

    settings: SlackSettings
    channel_name: str
    since: datetime
    api_url: str = SLACK_API_URL
    _channel_id: str | None = None
    _names: dict[str, str] = field(default_factory=dict)
    _latest: str | None = None  # the ts of the newest message seen: the next call asks only for newer ones

    async def check(self, client: httpx.AsyncClient) -> list[tuple[str, Message]]:
        """(ts, message) of the channel's messages since the last check (the first: since the window's start)."""
        channel = self._channel_id or await self._find_channel(client)
        oldest = self._latest or f"{self.since.timestamp():.6f}"
        answer = await self._call(client, "conversations.history", channel=channel, oldest=oldest, limit=PAGE)
        found = []
        for item in answer.get("messages", []):
            if item.get("type") != "message" or "ts" not in item:
                continue
            sender = await self._sender(client, item)
            received_at = datetime.fromtimestamp(float(item["ts"]), UTC)
            text = str(item.get("text", ""))[:MAX_TEXT]
            found.append((f"{channel}:{item['ts']}", Message("slack", sender, self.channel_name, text, received_at)))
            if self._latest is None or float(item["ts"]) > float(self._latest):
                self._latest = item["ts"]
        return found

    async def _find_channel(self, client: httpx.AsyncClient) -> str:
        wanted = self.channel_name.strip().lstrip("#")
        cursor = ""
        while True:
            answer = await self._call(
                client, "conversations.list", types="public_channel,private_channel", limit=PAGE, cursor=cursor
            )
            for channel in answer.get("channels", []):
                if channel.get("name") == wanted:
                    self._channel_id = str(channel["id"])
                    return self._channel_id
            cursor = answer.get("response_metadata", {}).get("next_cursor", "")
            if not cursor:
                raise SlackFailed(f"Slack has no channel #{wanted} that the account's token can read")

    async def _sender(self, client: httpx.AsyncClient, item: dict[str, Any]) -> str:
        """A bot's name, else the user's real (or handle) name, else the raw id."""
        named = item.get("username") or item.get("bot_profile", {}).get("name")
        if named:
            return str(named)
        user = str(item.get("user", ""))
        if user and user not in self._names:
            answer = await self._call(client, "users.info", user=user)
            info = answer.get("user", {})
            self._names[user] = str(info.get("real_name") or info.get("name") or user)
        return self._names.get(user, user)

    async def _call(self, client: httpx.AsyncClient, method: str, **params: Any) -> dict[str, Any]:
        url = f"{self.api_url.rstrip('/')}/{method}"
        headers = {"Authorization": f"Bearer {self.settings.token}"}
        try:
            response = await client.get(url, params=params, headers=headers, timeout=SLACK_TIMEOUT_S)
            answer: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SlackFailed(f"Slack's {method} could not be called: {type(exc).__name__}") from None
        if not answer.get("ok"):
            raise SlackFailed(f"Slack's {method} refused: {answer.get('error', f'HTTP {response.status_code}')}")
        return answer
