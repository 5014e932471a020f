"""Reading codes out of messages, and which messages a step's filter accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rebrowse.messages.codes import DEFAULT_CODE_PATTERN, AmbiguousCode, compile_code_pattern, find_code
from rebrowse.messages.models import Message, MessageQuery

DEFAULT = compile_code_pattern(DEFAULT_CODE_PATTERN)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your code is 482913", "482913"),
        ("482913 is your verification code.", "482913"),
        ("Sign-in code: 4829\nOrder 20261204 shipped on 2026-12-04", "4829"),  # the line that speaks of a code
        ("Total: 12.3456 EUR, call 555-0100", None),  # decimals and phone fragments are not codes
        ("no digits here", None),
        ("123", None),
    ],
)
def test_the_default_pattern(text: str, code: str | None) -> None:
    assert find_code(DEFAULT, text) == code


def test_several_codes_and_nothing_to_tell_them_apart_is_an_error() -> None:
    with pytest.raises(AmbiguousCode, match="2 different codes"):
        find_code(DEFAULT, "Use 482913 or 771100")


def test_a_pattern_group_picks_the_code() -> None:
    assert find_code(compile_code_pattern(r"PIN:\s*([A-Z0-9]{6})"), "Ref 123456\nPIN: QX72LM") == "QX72LM"


def test_a_pattern_with_two_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="at most one group"):
        compile_code_pattern(r"(\d)(\d)")


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def query(channel: str = "email", sender: str = "", receiver: str = "") -> MessageQuery:
    return MessageQuery(channel, sender, receiver, NOW, NOW + timedelta(minutes=5))  # type: ignore[arg-type]


def mail(sender: str, receiver: str, *, at: datetime = NOW, channel: str = "email") -> Message:
    return Message(channel, sender, receiver, "code 1234", at)  # type: ignore[arg-type]


def test_filters_compare_addresses_numbers_and_names() -> None:
    wanted = query(sender="NoReply@Bank.test", receiver="ada@example.test")
    assert wanted.accepts(mail("Bank <noreply@bank.test>", "Ada <ada@example.test>, bob@example.test"))
    assert not wanted.accepts(mail("Bank <alerts@bank.test>", "ada@example.test"))
    assert not wanted.accepts(mail("noreply@bank.test", "bob@example.test"))
    assert query("sms", "+1 (555) 0100").accepts(mail("+15550100", "+1", channel="sms"))
    assert not query("sms", "+15550100").accepts(mail("+15550101", "+1", channel="sms"))
    assert query("slack", "Okta Verify", "#codes").accepts(mail("okta verify", "codes", channel="slack"))
    assert query().accepts(mail("anyone@x.test", "anyone@y.test"))  # empty filters accept anyone


def test_the_window_and_the_channel() -> None:
    assert not query().accepts(mail("a@x.test", "b@x.test", at=NOW - timedelta(seconds=1)))
    assert not query().accepts(mail("a@x.test", "b@x.test", at=NOW + timedelta(minutes=6)))
    assert not query("sms").accepts(mail("a@x.test", "b@x.test"))
