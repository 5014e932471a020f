"""rebrowse: replay recorded browser automations (Optexity format) on real Chromium."""

from __future__ import annotations

from rebrowse.callbacks.signing import verify_signature
from rebrowse.client import AsyncClient, Client

__version__ = "0.1.0"
__all__ = ["AsyncClient", "Client", "__version__", "verify_signature"]
