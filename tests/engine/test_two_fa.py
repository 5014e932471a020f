"""two_fa_action on a real page, with messages in a real PostgreSQL: the wait wakes when the message arrives."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebrowse.browser.egress import EgressPolicy
from rebrowse.demo.site import SiteServer
from rebrowse.llm.config import LlmConfig
from rebrowse.messages.models import Channel, Message
from rebrowse.messages.slack import SLACK_API_URL
from rebrowse.store import accounts, messages
from rebrowse.store.database import Database
from rebrowse.store.messages import SourceKind
from rebrowse.store.sealing import Sealer
from rebrowse.worker.inbox import AccountInbox
from tests.engine.conftest import Replay, action, automation
from tests.llm_server import Call, ChatServer, output_tool
from tests.mailserver import MAIL_PASSWORD, MAIL_USER, SLACK_TOKEN, Mailbox, SlackFake
from tests.waiting import eventually


@dataclass
class Mailroom:
    """Two accounts' inboxes over one database: messages are stored as the API stores them."""

    db: Database
    sealer: Sealer
    mine: uuid.UUID
    other: uuid.UUID

    def inbox(self, slack_api_url: str = SLACK_API_URL, allow_hosts: tuple[str, ...] = ("127.0.0.1",)) -> AccountInbox:
        """The account's inbox; its mailbox may be on the hosts allowed (the test's Dovecot: loopback)."""
        policy = EgressPolicy.from_settings(allow_hosts, deny_private=False)
        return AccountInbox(self.db, self.sealer, self.mine, slack_api_url=slack_api_url, policy=policy)

    async def configure(self, kind: SourceKind, config: dict[str, Any]) -> None:
        async with self.db.connection() as conn:
            await messages.set_source(conn, self.sealer, self.mine, kind, config)

    async def deliver(
        self,
        text: str,
        *,
        sender: str,
        receiver: str,
        channel: Channel = "sms",
        account: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> None:
        message = Message(channel, sender, receiver, text, at or datetime.now(UTC))
        async with self.db.connection() as conn:
            await messages.add_message(conn, self.sealer, account or self.mine, message)


@pytest.fixture
async def mailroom(db: Database, sealer: Sealer) -> AsyncIterator[Mailroom]:
    async with db.connection() as conn:
        mine = await accounts.create_account(conn, sealer, "mine")
        other = await accounts.create_account(conn, sealer, "other")
    yield Mailroom(db, sealer, mine.id, other.id)


def two_fa(source: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return action(
        "extraction_action",
        {"two_fa_action": {"action": source, "output_variable_name": "otp", "max_wait_time": 30, **fields}},
    )


SMS = {"type": "sms_two_fa_action", "from_number": "+1 555 0100", "to_number": "+15550199"}


def sign_in(nonce: str, code: str, step: dict[str, Any]) -> dict[str, Any]:
    """The fixture's 2FA page: ask for a code (the clock starts), wait for it, type it, verify, read the status."""
    return automation(
        f"two_fa.html?request={nonce}&expect={code}",
        [
            action("interaction_action", {"click_element": {"command": "locator('#send')"}}),
            step,
            action("interaction_action", {"input_text": {"command": "locator('#code')", "input_text": "{otp[0]}"}}),
            action("interaction_action", {"click_element": {"command": "locator('#verify')"}}),
            action(
                "extraction_action",
                {
                    "locator": {
                        "command": "locator('#status')",
                        "output_variable_name": "status",
                        "extraction_format": {"status": "str"},
                    }
                },
            ),
        ],
    )


async def code_requested(site: SiteServer, nonce: str) -> None:
    """Until the page asked for its code (its 2FA clock has started)."""
    await eventually(
        lambda: any(s["fields"].get("code_request") == nonce for s in site.submissions()), what="the code request"
    )


def status_of(result: Any) -> Any:
    return next(entry["json_data"]["status"] for entry in result.output_data if "status" in entry.get("json_data", {}))


async def test_a_message_after_the_clock_wakes_the_wait(replay: Replay, site: SiteServer, mailroom: Mailroom) -> None:
    nonce = uuid.uuid4().hex
    # Before the clock: an older code, which must not be taken.
    await mailroom.deliver(
        "Your code is 111111", sender="+15550100", receiver="+15550199", at=datetime.now(UTC) - timedelta(seconds=5)
    )
    run = asyncio.ensure_future(replay(sign_in(nonce, "482913", two_fa(SMS)), inbox=mailroom.inbox()))
    await code_requested(site, nonce)
    await mailroom.deliver("Your code is 999999", sender="+15550100", receiver="+15550199", account=mailroom.other)
    await mailroom.deliver("Your code is 222222", sender="+15550777", receiver="+15550199")
    await mailroom.deliver("Your code is 333333", sender="+15550100", receiver="+15550777")
    await mailroom.deliver(
        "Your code is 482913. It expires in 10 minutes.", sender="+1 (555) 0100", receiver="+15550199"
    )
    result = await asyncio.wait_for(run, 60)
    assert (result.status, result.error, status_of(result)) == ("success", None, "Verified")
    step = next(s for s in result.steps if s.action == "extract.two_fa_action")
    assert step.detail == "2FA code received by sms"
    typed = next(s for s in result.steps if s.action == "input_text")
    # Once taken, the code is masked like a secret: the page's URL holds it, the record does not.
    assert "482913" not in str(vars(typed))
    assert (typed.url or "").endswith("&expect=***")


async def test_the_wait_times_out_naming_the_step_and_the_filter(replay: Replay, mailroom: Mailroom) -> None:
    await mailroom.deliver(
        "Your code is 111111", sender="+15550100", receiver="+15550199", at=datetime.now(UTC) - timedelta(seconds=5)
    )
    result = await replay(sign_in(uuid.uuid4().hex, "1", two_fa(SMS, max_wait_time=0.5)), inbox=mailroom.inbox())
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("nodes[1] (extract.two_fa_action): no 2FA code by sms from +1 555 0100 to +15550199")
    assert "max_wait_time (0.5 s)" in result.error


async def test_without_an_inbox_the_step_says_it_needs_a_server(replay: Replay) -> None:
    result = await replay(sign_in(uuid.uuid4().hex, "1", two_fa(SMS)))
    assert result.status == "failed"
    assert "two_fa_action needs the messages of a rebrowse server" in (result.error or "")


async def test_a_code_pattern_picks_the_code(replay: Replay, site: SiteServer, mailroom: Mailroom) -> None:
    nonce = uuid.uuid4().hex
    email = {
        "type": "email_two_fa_action",
        "receiver_email_address": "ada@example.test",
        "sender_email_address": "noreply@bank.test",
    }
    step = two_fa(email, code_pattern=r"Code: ([A-Z]{3}-\d{3})")
    run = asyncio.ensure_future(replay(sign_in(nonce, "QXZ-512", step), inbox=mailroom.inbox()))
    await code_requested(site, nonce)
    await mailroom.deliver(
        "Sign-in to Bank\nCode: QXZ-512\nOrder 2026",
        channel="email",
        sender="Bank <NoReply@bank.test>",
        receiver="Ada <ada@example.test>, other@example.test",
    )
    result = await asyncio.wait_for(run, 60)
    assert (result.status, status_of(result)) == ("success", "Verified")


async def test_instructions_ask_the_model(
    replay: Replay, site: SiteServer, mailroom: Mailroom, chat_server: ChatServer
) -> None:
    nonce = uuid.uuid4().hex
    chat_server.script = lambda request: Call(output_tool(request), {"code": "740215"})
    step = two_fa(SMS, instructions="The code follows the word PIN")
    run = asyncio.ensure_future(
        replay(
            sign_in(nonce, "740215", step),
            inbox=mailroom.inbox(),
            llm=LlmConfig(model="test-model", base_url=chat_server.base_url),
        )
    )
    await code_requested(site, nonce)
    await mailroom.deliver("Bank: PIN 740215, ref 88812345", sender="+15550100", receiver="+15550199")
    result = await asyncio.wait_for(run, 60)
    assert (result.status, status_of(result)) == ("success", "Verified")
    (request,) = chat_server.requests
    assert "PIN 740215" in str(request)


async def test_instructions_without_a_model_name_the_setting(
    replay: Replay, site: SiteServer, mailroom: Mailroom
) -> None:
    nonce = uuid.uuid4().hex
    run = asyncio.ensure_future(
        replay(sign_in(nonce, "1", two_fa(SMS, instructions="the PIN")), inbox=mailroom.inbox())
    )
    await code_requested(site, nonce)
    await mailroom.deliver("PIN 740215", sender="+15550100", receiver="+15550199")
    result = await asyncio.wait_for(run, 60)
    assert result.status == "failed"
    assert "REBROWSE_LLM_MODEL" in (result.error or "")


# --- fetched sources: a real IMAP server, Slack's Web API (a fake at that edge) -------------------------------

EMAIL = {
    "type": "email_two_fa_action",
    "receiver_email_address": MAIL_USER,
    "sender_email_address": "noreply@bank.test",
}


def mailbox_settings(mailbox: Mailbox, password: str = MAIL_PASSWORD) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": mailbox.port,
        "username": MAIL_USER,
        "password": password,
        "security": "none",
        "folder": "INBOX",
    }


async def test_an_email_code_from_the_accounts_imap_mailbox(
    replay: Replay, site: SiteServer, mailroom: Mailroom, dovecot: Mailbox
) -> None:
    await mailroom.configure("imap", mailbox_settings(dovecot))
    dovecot.deliver(
        "Bank <noreply@bank.test>", MAIL_USER, "Your code", "Code: 111111", at=datetime.now(UTC) - timedelta(hours=1)
    )
    nonce = uuid.uuid4().hex
    run = asyncio.ensure_future(replay(sign_in(nonce, "583920", two_fa(EMAIL)), inbox=mailroom.inbox()))
    await code_requested(site, nonce)
    dovecot.deliver("Shop <offers@shop.test>", MAIL_USER, "Sale", "Save 20% with code 222222")
    dovecot.deliver("Bank <noreply@bank.test>", MAIL_USER, "Your sign-in code", "Your code is 583920.\n(c) 2026 Bank")
    result = await asyncio.wait_for(run, 60)
    assert (result.status, result.error, status_of(result)) == ("success", None, "Verified")


async def test_a_mailbox_that_refuses_the_login_fails_the_step_at_once(
    replay: Replay, mailroom: Mailroom, dovecot: Mailbox
) -> None:
    await mailroom.configure("imap", mailbox_settings(dovecot, password="wrong-password"))
    result = await replay(sign_in(uuid.uuid4().hex, "1", two_fa(EMAIL, max_wait_time=120)), inbox=mailroom.inbox())
    assert result.status == "failed"
    assert f"the account's mailbox {MAIL_USER}@127.0.0.1:{dovecot.port} could not be read" in (result.error or "")
    assert "wrong-password" not in (result.error or "")


async def test_a_mailbox_where_tasks_may_not_go_is_refused(
    replay: Replay, mailroom: Mailroom, dovecot: Mailbox
) -> None:
    await mailroom.configure("imap", mailbox_settings(dovecot))
    result = await replay(sign_in(uuid.uuid4().hex, "1", two_fa(EMAIL)), inbox=mailroom.inbox(allow_hosts=()))
    assert result.status == "failed"
    assert "the account's mailbox 127.0.0.1 cannot be reached: the egress policy denies 127.0.0.1:" in (
        result.error or ""
    )


SLACK = {
    "type": "slack_two_fa_action",
    "slack_workspace_domain": "acme",
    "channel_name": "#security-codes",
    "sender_name": "Okta Verify",
}


async def test_a_slack_code_from_the_channel_and_sender_asked_for(
    replay: Replay, site: SiteServer, mailroom: Mailroom, slack: SlackFake
) -> None:
    await mailroom.configure("slack", {"token": SLACK_TOKEN})
    nonce = uuid.uuid4().hex
    run = asyncio.ensure_future(
        replay(sign_in(nonce, "604418", two_fa(SLACK)), inbox=mailroom.inbox(slack_api_url=slack.url))
    )
    await code_requested(site, nonce)
    slack.post("C200", "Your code is 111111", user="U1")  # another channel
    slack.post("C100", "Your code is 222222", user="U2")  # another sender
    slack.post("C100", "Your Okta code is 604418", user="U1")
    result = await asyncio.wait_for(run, 60)
    assert (result.status, result.error, status_of(result)) == ("success", None, "Verified")
    assert {"conversations.list", "conversations.history", "users.info"} <= set(slack.calls)


async def test_slack_without_a_token_fails_naming_the_endpoint(replay: Replay, mailroom: Mailroom) -> None:
    result = await replay(sign_in(uuid.uuid4().hex, "1", two_fa(SLACK)), inbox=mailroom.inbox())
    assert result.status == "failed"
    assert "PUT /api/v1/accounts/current/message-sources/slack" in (result.error or "")
