"""1Password parameters, through a fake at the edge of the 1Password cloud (which is unreachable here)."""

from __future__ import annotations

import pyotp
import pytest

from rebrowse.automation.parameters import SecureParameter
from rebrowse.errors import SecretUnavailable
from rebrowse.secrets.onepassword import OnePasswordResolver
from rebrowse.secrets.resolver import SecretResolver


class FakeOnePassword:
    """Answers references from a dict and counts every call."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.calls: list[str] = []

    async def resolve(self, reference: str) -> str:
        self.calls.append(reference)
        if reference not in self.fields:
            raise SecretUnavailable(f"1Password reference {reference}: not found")
        return self.fields[reference]


def onepassword_param(vault: str, item: str, field: str, **extra: object) -> SecureParameter:
    source = {"vault_name": vault, "item_name": item, "field_name": field, **extra}
    return SecureParameter.model_validate({"onepassword": source})


async def test_raw_field_is_resolved_once_per_run_and_redacted() -> None:
    fake = FakeOnePassword({"op://Work/Portal login/password": "correct horse battery"})
    resolver = SecretResolver(onepassword=fake)
    param = onepassword_param("Work", "Portal login", "password")
    assert await resolver.resolve(param) == "correct horse battery"
    assert await resolver.resolve(param) == "correct horse battery"
    assert fake.calls == ["op://Work/Portal login/password"]
    assert resolver.redactor.redact_text("typed correct horse battery") == "typed ***"


async def test_totp_field_gives_a_code_for_the_stored_seed() -> None:
    seed = pyotp.random_base32()
    fake = FakeOnePassword({"op://Work/Portal/otp seed": seed})
    resolver = SecretResolver(onepassword=fake)
    param = onepassword_param("Work", "Portal", "otp seed", type="totp_secret", digits=6)
    code = await resolver.resolve(param)
    assert pyotp.TOTP(seed).verify(code, valid_window=1)
    assert resolver.redactor.redact_text(f"{seed} {code}") == "*** ***"


async def test_bad_seed_names_the_reference_not_the_seed() -> None:
    fake = FakeOnePassword({"op://Work/Portal/otp seed": "not a seed at all!"})
    param = onepassword_param("Work", "Portal", "otp seed", type="totp_secret", digits=6)
    with pytest.raises(SecretUnavailable, match="op://Work/Portal/otp seed") as caught:
        await SecretResolver(onepassword=fake).resolve(param)
    assert "not a seed at all!" not in str(caught.value)


async def test_unconfigured_1password_is_unavailable() -> None:
    with pytest.raises(SecretUnavailable, match=r"op://V/I/F: 1Password is not configured"):
        await SecretResolver().resolve(onepassword_param("V", "I", "F"))


@pytest.mark.parametrize("item", ["a/b", "a?attribute=otp", "a#b", ""])
async def test_names_that_would_change_the_reference_are_refused(item: str) -> None:
    fake = FakeOnePassword({})
    with pytest.raises(SecretUnavailable, match="cannot be used in a secret reference"):
        await SecretResolver(onepassword=fake).resolve(onepassword_param("V", item, "F"))
    assert fake.calls == []


async def test_sdk_rejects_a_malformed_token_without_echoing_it() -> None:
    # A token that does not decode fails inside the SDK before any network call.
    token = "ops_not-a-real-service-account-token"
    with pytest.raises(SecretUnavailable, match=r"^1Password: authentication failed") as caught:
        await OnePasswordResolver(token).resolve("op://V/I/F")
    assert token not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
