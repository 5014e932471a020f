"""POST /api/v1/messages, the Twilio SMS webhook and the account's message sources: sealed, per account."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI

from rebrowse.messages.models import MessageQuery
from rebrowse.store import messages
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.worker.inbox import AccountInbox
from tests.api.conftest import BASE_URL, Account, new_account

TWILIO_TOKEN = "twilio-auth-token-of-acme"


def sms(text: str, **fields: str) -> dict[str, str]:
    return {"channel": "sms", "from": "+15550100", "to": "+15550199", "text": text, **fields}


def recent_sms() -> MessageQuery:
    now = datetime.now(UTC)
    return MessageQuery("sms", "", "", now - timedelta(minutes=1), now + timedelta(minutes=1))


async def test_a_posted_message_wakes_only_its_accounts_wait(
    acme: Account, other: Account, db: Database, sealer: Sealer
) -> None:
    async with (
        AccountInbox(db, sealer, acme.id).watch(recent_sms(), "nodes[0]") as acme_watch,
        AccountInbox(db, sealer, other.id).watch(recent_sms(), "nodes[0]") as other_watch,
    ):
        waiting = asyncio.ensure_future(acme_watch.wait(30))
        response = await acme.client.post("/api/v1/messages", json=sms("Your code is 482913"))
        assert response.status_code == 201, response.text
        assert response.json()["channel"] == "sms"
        (message,) = await asyncio.wait_for(waiting, 30)
        assert (message.sender, message.receiver, message.text) == ("+15550100", "+15550199", "Your code is 482913")
        assert await other_watch.wait(0.2) == []  # never another account's


async def test_messages_are_sealed_at_rest(acme: Account, db: Database) -> None:
    response = await acme.client.post(
        "/api/v1/messages", json=sms("Your code is 771100", received_at="2026-01-31T12:00:00Z")
    )
    assert response.status_code == 201, response.text
    assert response.json()["received_at"] == "2026-01-31T12:00:00Z"
    async with db.connection() as conn:
        row = await (
            await conn.execute("SELECT * FROM messages WHERE id = %s", (uuid.UUID(response.json()["id"]),))
        ).fetchone()
    assert row is not None
    assert b"771100" not in bytes(row["sealed"]) and b"+15550100" not in bytes(row["sealed"])


async def test_bad_messages_name_the_field(acme: Account) -> None:
    cases = [
        ({k: v for k, v in sms("x").items() if k != "from"}, "from"),
        (sms("x", channel="fax"), "channel"),
        (sms("x", received_at="2026-01-31T12:00:00"), "received_at"),
        (sms(""), "text"),
        ({**sms("x"), "urgent": True}, "urgent"),
    ]
    for body, field in cases:
        response = await acme.client.post("/api/v1/messages", json=body)
        assert response.status_code == 400, (field, response.text)
        assert [error["path"] for error in response.json()["errors"]] == [field]


async def test_expired_messages_are_deleted(acme: Account, db: Database) -> None:
    response = await acme.client.post("/api/v1/messages", json=sms("old code 123456"))
    async with db.connection() as conn:
        await conn.execute("UPDATE messages SET created_at = now() - interval '2 hours'")
        await acme.client.post("/api/v1/messages", json=sms("new code 654321"))
        assert await messages.delete_expired(conn, 3600) == 1
        left = await (await conn.execute("SELECT id FROM messages")).fetchall()
    assert str(left[0]["id"]) != response.json()["id"] and len(left) == 1


# --- Twilio ----------------------------------------------------------------------------------------------


def twilio_signature(token: str, url: str, form: dict[str, str]) -> str:
    """Twilio's documented algorithm, written out independently of rebrowse's."""
    payload = url + "".join(f"{key}{form[key]}" for key in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


async def twilio_post(
    client: httpx.AsyncClient, account_id: object, form: dict[str, str], signature: str | None = None
) -> httpx.Response:
    path = f"/api/v1/messages/twilio/{account_id}"
    signature = signature or twilio_signature(TWILIO_TOKEN, BASE_URL + path, form)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    return await client.post(path, content=urlencode(form), headers=headers)


async def test_twilio_webhook_checks_its_signature(
    acme: Account, anonymous: httpx.AsyncClient, db: Database, sealer: Sealer
) -> None:
    assert (
        await acme.client.put("/api/v1/accounts/current/message-sources/twilio", json={"auth_token": TWILIO_TOKEN})
    ).status_code == 204
    form = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": "+15550100", "To": "+15550199", "Body": "Code 908172"}
    refused = await twilio_post(anonymous, acme.id, form, signature=twilio_signature("wrong-token", "x", form))
    assert refused.status_code == 403
    assert "X-Twilio-Signature" in refused.json()["detail"]
    tampered = await twilio_post(
        anonymous,
        acme.id,
        {**form, "Body": "Code 000000"},
        signature=twilio_signature(TWILIO_TOKEN, BASE_URL + f"/api/v1/messages/twilio/{acme.id}", form),
    )
    assert tampered.status_code == 403
    accepted = await twilio_post(anonymous, acme.id, form)
    assert accepted.status_code == 200 and accepted.text.endswith("<Response></Response>")
    again = await twilio_post(anonymous, acme.id, form)  # Twilio retries: stored once
    assert again.status_code == 200
    now = datetime.now(UTC)
    async with db.connection() as conn:
        stored = await messages.received(conn, sealer, acme.id, "sms", now - timedelta(minutes=1), now)
    assert [message.text for _, message in stored] == ["Code 908172"]


async def test_twilio_webhook_of_an_account_without_it_is_404(other: Account, anonymous: httpx.AsyncClient) -> None:
    form = {"From": "+1", "To": "+2", "Body": "1234"}
    assert (await twilio_post(anonymous, other.id, form)).status_code == 404
    assert (await twilio_post(anonymous, uuid.uuid4(), form)).status_code == 404
    assert (await twilio_post(anonymous, "not-an-id", form)).status_code == 404


# --- message sources -------------------------------------------------------------------------------------

MAILBOX = {"host": "imap.example.test", "username": "codes@example.test", "password": "mailbox-password-123"}


async def test_sources_are_set_listed_without_secrets_and_deleted(acme: Account, other: Account) -> None:
    sources = "/api/v1/accounts/current/message-sources"
    assert (await acme.client.put(f"{sources}/imap", json=MAILBOX)).status_code == 204
    assert (await acme.client.put(f"{sources}/slack", json={"token": "xoxb-secret-slack"})).status_code == 204
    listed = await acme.client.get(sources)
    assert listed.status_code == 200
    body = listed.json()
    assert [(s["kind"], s["detail"]) for s in body["sources"]] == [
        ("imap", "codes@example.test at imap.example.test:993 (tls), INBOX"),
        ("slack", "Slack bot token set"),
    ]
    assert body["twilio_webhook"] == f"{BASE_URL}/api/v1/messages/twilio/{acme.id}"
    assert "mailbox-password-123" not in listed.text and "xoxb-secret-slack" not in listed.text
    assert (await other.client.get(sources)).json()["sources"] == []  # another account's are never seen
    assert (await other.client.delete(f"{sources}/imap")).status_code == 404
    assert (await acme.client.delete(f"{sources}/imap")).status_code == 204
    assert (await acme.client.delete(f"{sources}/imap")).status_code == 404
    bad_kind = await acme.client.delete(f"{sources}/fax")
    assert bad_kind.status_code == 400 and bad_kind.json()["errors"][0]["path"] == "kind"


async def test_bad_source_settings_name_the_field(acme: Account) -> None:
    sources = "/api/v1/accounts/current/message-sources"
    for body, field in [
        ({**MAILBOX, "port": 0}, "port"),
        ({**MAILBOX, "security": "ssl3"}, "security"),
        ({k: v for k, v in MAILBOX.items() if k != "password"}, "password"),
    ]:
        response = await acme.client.put(f"{sources}/imap", json=body)
        assert response.status_code == 400, response.text
        assert [error["path"] for error in response.json()["errors"]] == [field]


async def test_a_member_key_cannot_set_sources(app: FastAPI, db: Database, sealer: Sealer) -> None:
    member = await new_account(app, db, sealer, "members", role="member")
    async with member.client:
        response = await member.client.put("/api/v1/accounts/current/message-sources/slack", json={"token": "t"})
        assert response.status_code == 403
        # a member's scripts may still deliver messages
        assert (await member.client.post("/api/v1/messages", json=sms("1234"))).status_code == 201
