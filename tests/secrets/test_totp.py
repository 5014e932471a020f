"""TOTP codes: correct for the seed, tolerant of grouped seeds, and errors that never show the seed."""

from __future__ import annotations

import pyotp
import pytest

from rebrowse.automation.parameters import SecureParameter
from rebrowse.errors import SecretUnavailable
from rebrowse.secrets.resolver import SecretResolver
from rebrowse.secrets.totp import totp_code

SEED = pyotp.random_base32()


def matches_seed(code: str, seed: str, digits: int = 6) -> bool:
    # One window either side, so a code generated just before a 30 s boundary still counts.
    return bool(pyotp.TOTP(seed, digits=digits).verify(code, valid_window=1))


def test_code_is_the_seeds_current_code() -> None:
    code = totp_code(SEED, 6)
    assert len(code) == 6 and code.isdigit()
    assert matches_seed(code, SEED)
    assert not matches_seed(code, pyotp.random_base32())


def test_digits_are_honoured() -> None:
    code = totp_code(SEED, 8)
    assert len(code) == 8
    assert matches_seed(code, SEED, digits=8)


def test_classic_80_bit_seed_is_accepted() -> None:
    # Many sites still issue 16-character (80-bit) seeds; logging into them must work.
    seed = "JBSWY3DPEHPK3PXP"
    assert matches_seed(totp_code(seed, 6), seed)


def test_grouped_lowercase_seed_is_accepted() -> None:
    grouped = " ".join(SEED[i : i + 4] for i in range(0, len(SEED), 4)).lower()
    assert matches_seed(totp_code(grouped, 6), SEED)


@pytest.mark.parametrize(
    "seed",
    ["not*base32!seed-value-here-123", "JBSWY3DP", ""],
    ids=["not-base32", "too-short", "empty"],
)
def test_bad_seed_is_unavailable_without_showing_it(seed: str) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        totp_code(seed, 6, source="the test seed")
    message = str(caught.value)
    assert message.startswith("the test seed: ")
    if seed:
        assert seed not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@pytest.mark.parametrize("digits", [0, 5, 11])
def test_digits_out_of_range_are_refused(digits: int) -> None:
    with pytest.raises(SecretUnavailable, match="digits must be between 6 and 10"):
        totp_code(SEED, digits)


async def test_resolver_generates_a_code_and_redacts_code_and_seed() -> None:
    resolver = SecretResolver()
    param = SecureParameter.model_validate({"totp": {"totp_secret": SEED, "digits": 7}})
    code = await resolver.resolve(param)
    assert len(code) == 7 and matches_seed(code, SEED, digits=7)
    text = resolver.redactor.redact_text(f"code={code} seed={SEED}")
    assert text == "code=*** seed=***"


async def test_resolver_reports_a_bad_direct_seed_by_source() -> None:
    param = SecureParameter.model_validate({"totp": {"totp_secret": "bad!seed!value!"}})
    with pytest.raises(SecretUnavailable, match=r"^totp parameter: ") as caught:
        await SecretResolver().resolve(param)
    assert "bad!seed!value!" not in str(caught.value)
