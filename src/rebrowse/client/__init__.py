"""The Python SDK of the rebrowse API: `Client` (blocking) and `AsyncClient` (asyncio), on httpx."""

from __future__ import annotations

from rebrowse.client.aio import AsyncClient
from rebrowse.client.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RebrowseAPIError,
    WaitTimeout,
)
from rebrowse.client.models import Cancellation, Download, LlmUsage, TaskStatus
from rebrowse.client.sync import Client

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "Cancellation",
    "Client",
    "ConflictError",
    "Download",
    "InvalidRequestError",
    "LlmUsage",
    "NotFoundError",
    "RebrowseAPIError",
    "TaskStatus",
    "WaitTimeout",
]
