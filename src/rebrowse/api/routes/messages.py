"""Inbound messages for two_fa_action: posted by any gateway or script, or by Twilio's SMS webhook (its signature
checked), and the account's message sources (IMAP mailbox, Slack token, Twilio auth token), set by its owner."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.deps import ServicesDep, parse_uuid
from rebrowse.api.errors import Forbidden, NotFound
from rebrowse.api.schemas import (
    ERRORS,
    ErrorBody,
    MailboxRequest,
    MessageAccepted,
    MessageSourceInfo,
    MessageSourceList,
    PostMessageRequest,
    SlackRequest,
    TwilioRequest,
)
from rebrowse.messages.models import MAX_TEXT, Message
from rebrowse.store import messages
from rebrowse.store.accounts import Caller
from rebrowse.store.messages import SourceKind

router = APIRouter(prefix="/api/v1", tags=["messages"], responses=ERRORS)
TWILIO_SIGNATURE = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SOURCES = "/accounts/current/message-sources"
OWNER_ONLY: dict[int | str, dict[str, Any]] = {403: {"model": ErrorBody, "description": "A member key"}}


@router.post("/messages", operation_id="post_message", status_code=201)
async def post_message(body: PostMessageRequest, services: ServicesDep, caller: CallerDep) -> MessageAccepted:
    """Deliver a message to the account's inbox: a two_fa_action waiting for one like it wakes at once."""
    message = Message(body.channel, body.sender, body.receiver, body.text, body.received_at or datetime.now(UTC))
    async with services.db.connection() as conn:
        message_id = await messages.add_message(conn, services.sealer, caller.account.id, message)
    assert message_id is not None  # only a source_key can make a message a repeat
    return MessageAccepted(id=message_id, channel=message.channel, received_at=message.received_at)


@router.post(
    "/messages/twilio/{account_id}",
    operation_id="twilio_sms_webhook",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "Empty TwiML: no reply is sent"},
        403: {"model": ErrorBody, "description": f"A missing or wrong {TWILIO_SIGNATURE}"},
    },
)
async def twilio_sms(account_id: str, request: Request, services: ServicesDep) -> Response:
    """Twilio's incoming-SMS webhook for one account (its URL is listed by GET .../message-sources): the
    request is authenticated by its signature with the account's Twilio auth token, not by an API key."""
    parsed = parse_uuid(account_id)
    async with services.db.connection() as conn:
        config = None if parsed is None else await messages.get_source(conn, services.sealer, parsed, "twilio")
    if parsed is None or config is None:
        raise NotFound(f"No Twilio webhook for account {account_id[:100]}")
    params = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    url = webhook_url(services.settings.base_url, request)
    expected = twilio_signature(config["auth_token"], url, params)
    if not hmac.compare_digest(expected, request.headers.get(TWILIO_SIGNATURE, "")):
        raise Forbidden(f"{TWILIO_SIGNATURE} does not match this request signed with the account's Twilio auth token")
    form = dict(params)
    message = Message(
        "sms", form.get("From", ""), form.get("To", ""), form.get("Body", "")[:MAX_TEXT], datetime.now(UTC)
    )
    async with services.db.connection() as conn:
        await messages.add_message(conn, services.sealer, parsed, message, source_key=form.get("MessageSid") or None)
    return Response(EMPTY_TWIML, media_type="application/xml")


def webhook_url(base_url: str, request: Request) -> str:
    """The URL Twilio called, as it signed it: the server's public URL (behind a proxy) with the path and query."""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base_url}{request.url.path}{query}"


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: base64 of HMAC-SHA1 over the URL followed by each form field's name and value,
    sorted by name."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


# ---------------------------------------------------------------------------------------------------------
# The account's message sources


def owner(caller: Caller) -> Caller:
    """The caller, when its key may configure the account; 403 for a member key."""
    if caller.role == "member":
        raise Forbidden("This needs an owner or admin API key of the account")
    return caller


@router.get(SOURCES, operation_id="list_message_sources")
async def list_message_sources(services: ServicesDep, caller: CallerDep) -> MessageSourceList:
    """Where the account's messages come from (passwords and tokens are never shown), and its Twilio webhook."""
    async with services.db.connection() as conn:
        found = await messages.list_sources(conn, services.sealer, caller.account.id)
    return MessageSourceList(
        sources=[
            MessageSourceInfo(kind=kind, detail=describe(kind, config), updated_at=at) for kind, config, at in found
        ],
        twilio_webhook=f"{services.settings.base_url}/api/v1/messages/twilio/{caller.account.id}",
    )


def describe(kind: SourceKind, config: dict[str, Any]) -> str:
    if kind == "imap":
        return f"{config['username']} at {config['host']}:{config['port']} ({config['security']}), {config['folder']}"
    return "Slack bot token set" if kind == "slack" else "Twilio auth token set"


async def set_source(services: ServicesDep, caller: Caller, kind: SourceKind, config: dict[str, Any]) -> None:
    async with services.db.connection() as conn:
        await messages.set_source(conn, services.sealer, owner(caller).account.id, kind, config)


@router.put(
    f"{SOURCES}/imap", operation_id="set_mailbox", status_code=204, response_class=Response, responses=OWNER_ONLY
)
async def set_mailbox(body: MailboxRequest, services: ServicesDep, caller: CallerDep) -> None:
    """The IMAP mailbox email 2FA codes are read from (checked while a step waits); the password is sealed."""
    await set_source(services, caller, "imap", body.model_dump())


@router.put(
    f"{SOURCES}/slack", operation_id="set_slack", status_code=204, response_class=Response, responses=OWNER_ONLY
)
async def set_slack(body: SlackRequest, services: ServicesDep, caller: CallerDep) -> None:
    """The Slack bot token Slack 2FA codes are read with (conversations.history); sealed."""
    await set_source(services, caller, "slack", body.model_dump())


@router.put(
    f"{SOURCES}/twilio", operation_id="set_twilio", status_code=204, response_class=Response, responses=OWNER_ONLY
)
async def set_twilio(body: TwilioRequest, services: ServicesDep, caller: CallerDep) -> None:
    """The Twilio auth token the account's SMS webhook calls are checked with; sealed."""
    await set_source(services, caller, "twilio", body.model_dump())


@router.delete(
    f"{SOURCES}/{{kind}}",
    operation_id="delete_message_source",
    status_code=204,
    response_class=Response,
    responses=OWNER_ONLY,
)
async def delete_message_source(kind: SourceKind, services: ServicesDep, caller: CallerDep) -> None:
    """Forget one of the account's message sources (imap, slack or twilio)."""
    async with services.db.connection() as conn:
        if not await messages.delete_source(conn, owner(caller).account.id, kind):
            raise NotFound(f"The account has no {kind} message source")
