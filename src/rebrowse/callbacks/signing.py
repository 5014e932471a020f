"""Callback signatures: HMAC-SHA256 over the timestamp and the body, with the account's signing secret.

A receiver checks `x-rebrowse-signature: v1=<hex>` against the raw body and `x-rebrowse-timestamp`, and
refuses old timestamps so that a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
EVENT_ID_HEADER = "x-rebrowse-event-id"
TIMESTAMP_HEADER = "x-rebrowse-timestamp"
SIGNATURE_HEADER = "x-rebrowse-signature"
TOLERANCE_S = 300  # how far a timestamp may be from the receiver's clock


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `{timestamp}.` followed by the body."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    """The value of the signature header for this body."""
    return f"{SCHEME}={sign(secret, timestamp, body)}"


def secret_bytes(secret: bytes | str) -> bytes:
    """The secret itself, given as bytes or as the hex string `GET /api/v1/callbacks/signing_secret` returns."""
    if isinstance(secret, bytes):
        return secret
    try:
        return bytes.fromhex(secret)
    except ValueError:
        raise ValueError("secret: expected the hex string GET /api/v1/callbacks/signing_secret returns") from None


def verify_signature(
    secret: bytes | str,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    tolerance_s: float = TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """Whether a callback's headers prove it comes from rebrowse and is recent (True) or not (False).

    `secret` is the account's signing secret: the hex string the API returns, or its bytes."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret_bytes(secret), timestamp, body)
    # Several comma-separated signatures may be sent while a secret is being rotated; any valid one is enough.
    candidates = [part.strip().partition("=") for part in signature_header.split(",")]
    return any(
        scheme == SCHEME and hmac.compare_digest(value.encode(), expected.encode()) for scheme, _, value in candidates
    )
