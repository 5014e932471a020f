"""Dashboard sessions: a cookie holding the API key's hash and an expiry, sealed with the server's key."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rebrowse.store import accounts
from rebrowse.store.database import Connection
from rebrowse.store.sealing import Sealer, SealingError

COOKIE = "rebrowse_session"
CSRF_HEADER = "x-rebrowse-csrf"  # a cross-site form cannot send it; a cross-site fetch would need CORS we never grant
SESSION_TTL_S = 12 * 3600


@dataclass(frozen=True)
class Session:
    """Who signed in (the sha256 of their API key) and until when."""

    key_hash: bytes
    expires_at: float


def seal_session(sealer: Sealer, api_key: str, *, ttl_s: float = SESSION_TTL_S, now: float | None = None) -> str:
    """The cookie value for a sign-in with this key: its hash (never the key) and the expiry, sealed."""
    expires = (time.time() if now is None else now) + ttl_s
    return sealer.seal_json({"key_hash": accounts.key_hash(api_key).hex(), "expires_at": expires}).decode()


def open_session(sealer: Sealer, value: str, *, now: float | None = None) -> Session | None:
    """The session in a cookie value; None when it is forged, garbled or expired."""
    try:
        data = sealer.open_json(value.encode())
        session = Session(bytes.fromhex(data["key_hash"]), float(data["expires_at"]))
    except (SealingError, ValueError, TypeError, KeyError):
        return None
    return session if session.expires_at > (time.time() if now is None else now) else None


async def session_caller(conn: Connection, session: Session) -> accounts.Caller | None:
    """The caller whose key signed this session in; None once the key is revoked."""
    return await accounts.authenticate_hash(conn, session.key_hash)
