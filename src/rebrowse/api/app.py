"""The FastAPI application of the control plane."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import playwright
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from rebrowse.api.artifacts import TRACE_VIEWER_PATH
from rebrowse.api.body_limit import BodyLimit
from rebrowse.api.dashboard import routes as dashboard
from rebrowse.api.deps import Services
from rebrowse.api.errors import install_error_handlers
from rebrowse.api.routes import (
    automations,
    callbacks,
    health,
    inference,
    keys,
    messages,
    metrics,
    proxies,
    recordings,
    schedules,
    schemas,
    sessions,
    stream,
    tasks,
)
from rebrowse.observability.metrics import LiveViewConnections
from rebrowse.queue.app import Queue
from rebrowse.settings import ServerSettings
from rebrowse.store.database import Database
from rebrowse.store.sealing import Sealer
from rebrowse.version import __version__

MAX_BODY_BYTES = 16 * 1024 * 1024  # large recorded automations fit; anything bigger is refused with 413
# Browser assets shipped in the package (the noVNC client, the dashboard): public, like any page's scripts.
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: ServerSettings, db: Database, queue: Queue, sealer: Sealer) -> FastAPI:
    """The API on an open database and queue (the caller opens and closes them)."""
    app = FastAPI(
        title="rebrowse",
        version=__version__,
        description="Replay recorded browser automations (Optexity format) on real Chromium.",
        # Nothing in rebrowse sets up OpenTelemetry; switched off, FastAPI no longer asks for its providers on
        # every request (a few percent of a request's time).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = Services(settings=settings, db=db, queue=queue, sealer=sealer)
    app.state.live_view_connections = LiveViewConnections()
    routers = (
        health,
        automations,
        inference,
        tasks,
        sessions,
        proxies,
        callbacks,
        keys,
        messages,
        stream,
        recordings,
        schedules,
        metrics,
        schemas,
    )
    for module in (*routers, dashboard):
        app.include_router(module.router)
    app.include_router(dashboard.pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if (viewer := trace_viewer_dir()) is not None:
        app.mount(TRACE_VIEWER_PATH, StaticFiles(directory=viewer, html=True), name="trace-viewer")
    add_api_docs(app)
    install_error_handlers(app)
    app.add_exception_handler(404, dashboard.not_found)  # before the handler of every HTTPException
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    if settings.cors_origins:
        # Keys travel in a header, never in cookies: the dashboard's session cookie stays same-origin.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["x-api-key", "content-type"],
            expose_headers=["content-disposition", "retry-after"],
            allow_credentials=False,
        )
    app.openapi = without_fastapi_422(app.openapi)  # type: ignore[method-assign]
    return app


def services_of(app: FastAPI) -> Services:
    """The services create_app built for the app (the server shares them with the scheduler)."""
    return cast(Services, app.state.services)


def trace_viewer_dir() -> Path | None:
    """Playwright's trace viewer, the static build inside the installed Playwright package (public files, like
    /static; the traces it opens are served by the API to the signed-in caller only); None if this build lacks it."""
    viewer = Path(playwright.__file__).resolve().parent / "driver" / "package" / "lib" / "vite" / "traceViewer"
    return viewer if (viewer / "index.html").is_file() else None


def add_api_docs(app: FastAPI) -> None:
    """/docs and /redoc from the assets shipped in the package (scripts/update-api-docs): they work offline."""
    assets = "/static/apidocs"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="rebrowse API",
            swagger_js_url=f"{assets}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{assets}/swagger-ui/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="rebrowse API",
            redoc_js_url=f"{assets}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )


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
