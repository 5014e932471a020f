"""Stream tokens: short-lived, single-use proof that a key of an account may watch one task's live view (scope
"view"), or also drive it while the task waits for a person (scope "control").

A token is the Sealer's Fernet token (AES-CBC with an HMAC-SHA256 under the server's secret key) of a small JSON
claim, so only this deployment can mint one and nobody can read or change what it says.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from rebrowse.errors import RebrowseError
from rebrowse.store.sealing import Sealer, SealingError

DEFAULT_TTL_S = 60.0
Scope = Literal["view", "control"]
SCOPES: tuple[Scope, ...] = ("view", "control")
PURPOSE = "rebrowse.stream"  # keeps any other value sealed with the same key from passing for a token


class TokenRefused(RebrowseError):
    """The stream token is not valid for this task."""


@dataclass(frozen=True)
class StreamGrant:
    """What a valid token allows: this account may watch this task until `expires_at` (epoch seconds), once,
    while the key that asked for the token (`key_id`) is not revoked. `token_id` tells tokens apart. With scope
    "control", the viewer's keyboard and mouse reach the browser while the task is interactive."""

    token_id: uuid.UUID
    task_id: uuid.UUID
    account_id: uuid.UUID
    key_id: uuid.UUID
    expires_at: float
    scope: Scope = "view"


def issue(
    sealer: Sealer,
    task_id: uuid.UUID,
    account_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    now: float | None = None,
    scope: Scope = "view",
) -> str:
    """A token for this key of this account to watch (scope "control": and drive) this task once, valid for ttl_s
    seconds."""
    expires_at = (time.time() if now is None else now) + ttl_s
    claim = {
        "purpose": PURPOSE,
        "id": str(uuid.uuid4()),
        "task": str(task_id),
        "account": str(account_id),
        "key": str(key_id),
        "exp": expires_at,
        "scope": scope,
    }
    return sealer.seal_json(claim).decode()


def verify(sealer: Sealer, token: str, task_id: uuid.UUID, *, now: float | None = None) -> StreamGrant:
    """The grant the token carries; TokenRefused when it is forged, expired or for another task."""
    try:
        claim = sealer.open_json(token.encode())
        grant = grant_of(claim)
    except (SealingError, ValueError, KeyError, TypeError, UnicodeError):
        raise TokenRefused("Invalid stream token") from None
    if grant.task_id != task_id:
        raise TokenRefused("The stream token is for another task")
    if grant.expires_at <= (time.time() if now is None else now):
        raise TokenRefused("The stream token has expired: request a new stream_url")
    return grant


def grant_of(claim: Any) -> StreamGrant:
    """The grant in a decoded claim; ValueError when it is not a stream claim."""
    if not isinstance(claim, dict) or claim.get("purpose") != PURPOSE:
        raise ValueError("not a stream token")
    scope = claim.get("scope", "view")
    if scope not in SCOPES:
        raise ValueError("not a stream scope")
    return StreamGrant(
        uuid.UUID(claim["id"]),
        uuid.UUID(claim["task"]),
        uuid.UUID(claim["account"]),
        uuid.UUID(claim["key"]),
        float(claim["exp"]),
        scope,
    )
