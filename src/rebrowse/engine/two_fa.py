"""two_fa_action: wait for a message that arrived after the step's 2FA clock started, and keep its code.

The wait is woken by each message stored for the task's account (see worker/inbox.py), never by a fixed poll.
The code is read by the step's pattern, or by the model when the step gives instructions (as Optexity always does).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from rebrowse.automation.actions import EmailTwoFa, ExtractionAction, SlackTwoFa, TwoFaAction
from rebrowse.engine.asking import ask
from rebrowse.engine.state import Step
from rebrowse.errors import StepFailed
from rebrowse.messages.codes import DEFAULT_CODE_PATTERN, AmbiguousCode, compile_code_pattern, find_code
from rebrowse.messages.models import Channel, Message, MessageQuery

NO_INBOX = (
    "two_fa_action needs the messages of a rebrowse server (POST /api/v1/messages, the Twilio webhook, the "
    "account's mailbox or Slack): run the automation as a task of a server"
)
CODE_INSTRUCTIONS = (
    "You read one message that a service sent to sign someone in. Answer with the one-time code it contains, "
    "exactly as written, or null when it contains none."
)
# A message is taken once: the clock moves just past it, so the next two_fa_action needs a newer message.
AFTER_MESSAGE = timedelta(microseconds=1)


class CodeInMessage(BaseModel):
    code: str | None = Field(description="the one-time code exactly as written in the message; null when none")


def query_for(step: Step, action: TwoFaAction, started: datetime) -> MessageQuery:
    """The messages the step accepts: its filters (placeholders filled in), from the 2FA clock (less the start
    offset) to the end of the wait (plus the end offset)."""
    source = action.action
    channel: Channel
    if isinstance(source, EmailTwoFa):
        channel, sender, receiver = "email", source.sender_email_address, source.receiver_email_address
    elif isinstance(source, SlackTwoFa):
        channel, sender, receiver = "slack", source.sender_name, source.channel_name
    else:
        channel, sender, receiver = "sms", source.from_number, source.to_number
    since = step.state.two_fa_clock - timedelta(minutes=action.start_2fa_time_offset_minutes)
    # Mail servers keep arrival times to the second (IMAP INTERNALDATE): a mail of the clock's own second counts.
    since = since.replace(microsecond=0)
    until = started + timedelta(seconds=action.max_wait_time, minutes=action.end_2fa_time_offset_minutes)
    return MessageQuery(channel, step.sub(sender), step.sub(receiver), since, until)


async def two_fa_action(step: Step, action: TwoFaAction, wrapper: ExtractionAction) -> None:
    """Store the code of the newest accepted message as [code] in the output variable."""
    inbox = step.state.inbox
    if inbox is None:
        raise StepFailed(NO_INBOX)
    query = query_for(step, action, datetime.now(UTC))
    step.record.detail = f"waiting for a 2FA code by {query.describe()}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + action.max_wait_time
    async with inbox.watch(query, step.record.path) as watch:
        while (remaining := deadline - loop.time()) > 0:
            for message in await watch.wait(remaining):
                code = await read_code(step, action, message)
                if code:
                    keep(step, action, code, message)
                    return
    raise StepFailed(
        f"no 2FA code by {query.describe()} arrived within max_wait_time ({action.max_wait_time:g} s) after "
        f"{query.since.isoformat(timespec='seconds')}"
    )


async def read_code(step: Step, action: TwoFaAction, message: Message) -> str | None:
    """The message's code, by the model when the step gives instructions, else by its pattern."""
    if action.instructions:
        prompt = f"{action.instructions}\n\nThe message:\n{message.text}"
        answer = await ask(step, prompt, CodeInMessage, purpose="two_fa", instructions=CODE_INSTRUCTIONS)
        return (answer.output.code or "").strip() or None
    try:
        return find_code(compile_code_pattern(action.code_pattern or DEFAULT_CODE_PATTERN), message.text)
    except AmbiguousCode as exc:
        raise StepFailed(str(exc)) from None


def keep(step: Step, action: TwoFaAction, code: str, message: Message) -> None:
    """Store the code, mask it in every later record and log, and start the clock again after its message."""
    state = step.state
    state.secrets.redactor.add(code)
    state.generated[action.output_variable_name] = [code]
    state.two_fa_clock = message.received_at + AFTER_MESSAGE
    step.record.detail = f"2FA code received by {message.channel}"
