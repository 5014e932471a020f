"""The worker tests' fixtures (an open queue, an account submitting tasks, the shared sealer, workers), reused here."""

from __future__ import annotations

from tests.worker.conftest import queue, sealer, sealer_key, tenant, workers

__all__ = ["queue", "sealer", "sealer_key", "tenant", "workers"]
