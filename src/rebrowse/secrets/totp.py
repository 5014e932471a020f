"""Time-based one-time passwords (RFC 6238) from a base32 seed."""

from __future__ import annotations

import base64
import binascii

import pyotp

from rebrowse.errors import SecretUnavailable

MIN_DIGITS = 6
MAX_DIGITS = 10
# RFC 4226 asks for 128 bits, but many sites issue 80-bit (16-character) seeds, which must keep working.
MIN_SEED_BYTES = 10


def totp_code(seed: str, digits: int, *, source: str = "TOTP") -> str:
    """The current TOTP code for `seed`; `source` names where the seed came from in errors."""
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        allowed = f"between {MIN_DIGITS} and {MAX_DIGITS}"
        raise SecretUnavailable(f"{source}: digits must be {allowed}, not {digits}")
    # Seeds are often shown in groups ("abcd efgh ..."); base32 itself has no whitespace.
    compact = "".join(seed.split()).upper()
    if len(seed_bytes(compact)) < MIN_SEED_BYTES:
        # The message never quotes the seed, so it cannot leak it.
        raise SecretUnavailable(f"{source}: the seed is not valid base32 of at least 80 bits")
    return str(pyotp.TOTP(compact, digits=digits).now())


def seed_bytes(seed: str) -> bytes:
    """The decoded seed, or b"" when it is not base32."""
    try:
        return base64.b32decode(seed + "=" * (-len(seed) % 8))
    except (ValueError, binascii.Error):
        return b""
