"""rebrowse: replay recorded browser automations (Optexity format) on real Chromium.

`pip install rebrowse` brings this SDK (and the CLI's remote commands); the server and workers need
`pip install "rebrowse[server]"`. Nothing imported here needs the server parts.
"""

from __future__ import annotations

from rebrowse.callbacks.signing import verify_signature
from rebrowse.client import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RebrowseAPIError,
    RebrowseError,
    Schedule,
    Task,
    WaitTimeout,
)
from rebrowse.version import __version__

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "RebrowseAPIError",
    "RebrowseError",
    "Schedule",
    "Task",
    "WaitTimeout",
    "__version__",
    "verify_signature",
]
