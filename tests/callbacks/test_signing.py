"""Callback signatures: what a receiver checks."""

from __future__ import annotations

import hashlib
import hmac

import rebrowse
from rebrowse.callbacks.signing import sign, signature_header, verify_signature

SECRET = b"s" * 32
BODY = b'{"task_id":"t1","status":"success"}'
NOW = 1_700_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == expected
    assert signature_header(SECRET, NOW, BODY) == f"v1={expected}"


def test_round_trip_is_accepted() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify_signature(SECRET, BODY, str(NOW), header, now=NOW + 10)
    assert rebrowse.verify_signature is verify_signature


def test_tampering_is_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, BODY.replace(b"success", b"failed"), str(NOW), header, now=NOW)
    assert not verify_signature(b"x" * 32, BODY, str(NOW), header, now=NOW)
    # The timestamp is signed too: moving it to pass the staleness check breaks the signature.
    assert not verify_signature(SECRET, BODY, str(NOW + 1), header, now=NOW)
    assert not verify_signature(SECRET, BODY, str(NOW), header.replace("v1=", "v0="), now=NOW)


def test_stale_and_future_timestamps_are_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify_signature(SECRET, BODY, str(NOW), header, now=NOW + 300)
    assert not verify_signature(SECRET, BODY, str(NOW), header, now=NOW + 301)
    assert not verify_signature(SECRET, BODY, str(NOW), header, now=NOW - 301)
    assert verify_signature(SECRET, BODY, str(NOW), header, tolerance_s=3600, now=NOW + 3000)


def test_missing_or_malformed_headers_are_rejected() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, BODY, None, header, now=NOW)
    assert not verify_signature(SECRET, BODY, str(NOW), None, now=NOW)
    assert not verify_signature(SECRET, BODY, "soon", header, now=NOW)
    assert not verify_signature(SECRET, BODY, str(NOW), "garbage", now=NOW)
    assert not verify_signature(SECRET, BODY, str(NOW), "v1=é", now=NOW)


def test_any_of_several_signatures_may_match() -> None:
    good = signature_header(SECRET, NOW, BODY)
    other = signature_header(b"old" * 11, NOW, BODY)
    assert verify_signature(SECRET, BODY, str(NOW), f"{other}, {good}", now=NOW)
    assert not verify_signature(SECRET, BODY, str(NOW), f"{other},{other}", now=NOW)
