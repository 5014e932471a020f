"""Dashboard sessions: a cookie holding a session's id and expiry, sealed with the server's key; the session's
row in the database says whether it still holds (signing out and revoking its key end it at once)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from rebrowse.store.sealing import Sealer, SealingError

COOKIE = "rebrowse_session"
CSRF_HEADER = "x-rebrowse-csrf"  # a cross-site form cannot send it; a cross-site fetch would need CORS we never grant
SESSION_TTL_S = 12 * 3600


@dataclass(frozen=True)
class Session:
    """Which session (a row of dashboard_sessions) and until when."""

    id: uuid.UUID
    expires_at: float


def seal_session(
    sealer: Sealer, session_id: uuid.UUID, *, ttl_s: float = SESSION_TTL_S, now: float | None = None
) -> str:
    """The cookie value for a session: its id (never the key) and the expiry, sealed."""
    expires = (time.time() if now is None else now) + ttl_s
    return sealer.seal_json({"session": str(session_id), "expires_at": expires}).decode()


def open_session(sealer: Sealer, value: str, *, now: float | None = None) -> Session | None:
    """The session in a cookie value; None when it is forged, garbled or expired."""
    try:
        data = sealer.open_json(value.encode())
        session = Session(uuid.UUID(data["session"]), float(data["expires_at"]))
    except (SealingError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return session if session.expires_at > (time.time() if now is None else now) else None
