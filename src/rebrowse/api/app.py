"""The FastAPI application of the control plane."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import procrastinate
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from rebrowse import __version__
from rebrowse.api.body_limit import BodyLimit
from rebrowse.api.deps import Services
from rebrowse.api.errors import install_error_handlers
from rebrowse.api.routes import (
    automations,
    callbacks,
    health,
    inference,
    keys,
    metrics,
    proxies,
    schemas,
    sessions,
    stream,
    tasks,
)
from rebrowse.dashboard import routes as dashboard
from rebrowse.observability.metrics import LiveViewConnections
from rebrowse.settings import ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer

MAX_BODY_BYTES = 16 * 1024 * 1024  # large recorded automations fit; anything bigger is refused with 413
# Browser assets shipped in the package (the noVNC client, the dashboard): public, like any page's scripts.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: ServerSettings, db: Database, queue: procrastinate.App, sealer: Sealer) -> FastAPI:
    """The API on an open database and queue (the caller opens and closes them)."""
    app = FastAPI(
        title="rebrowse",
        version=__version__,
        description="Replay recorded browser automations (Optexity format) on real Chromium.",
        # Nothing in rebrowse sets up OpenTelemetry; switched off, FastAPI no longer asks for its providers on
        # every request (a few percent of a request's time).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.services = Services(settings=settings, db=db, queue=queue, sealer=sealer)
    app.state.live_view_connections = LiveViewConnections()
    routers = (health, automations, inference, tasks, sessions, proxies, callbacks, keys, stream, metrics, schemas)
    for module in (*routers, dashboard):
        app.include_router(module.router)
    app.include_router(dashboard.pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.openapi = without_fastapi_422(app.openapi)  # type: ignore[method-assign]
    return app


def without_fastapi_422(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document without the 422 FastAPI lists on every route: invalid requests are 400 here."""

    def openapi() -> dict[str, Any]:
        schema = build()
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):
                    del responses["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema

    return openapi
