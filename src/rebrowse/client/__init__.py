"""The Python SDK of the rebrowse API: `Client` (blocking) and `AsyncClient` (asyncio), on httpx."""

from __future__ import annotations

from rebrowse.client.aio import AsyncClient
from rebrowse.client.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    MissingAPIKey,
    NotFoundError,
    RebrowseAPIError,
    WaitTimeout,
)
from rebrowse.client.models import Cancellation, Download, LlmUsage, Schedule, Task
from rebrowse.client.sync import Client
from rebrowse.errors import RebrowseError

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "Cancellation",
    "Client",
    "ConflictError",
    "Download",
    "InvalidRequestError",
    "LlmUsage",
    "MissingAPIKey",
    "NotFoundError",
    "RebrowseAPIError",
    "RebrowseError",
    "Schedule",
    "Task",
    "WaitTimeout",
]
