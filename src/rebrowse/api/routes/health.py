"""Liveness: the only route that needs no API key."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rebrowse.api.deps import ServicesDep
from rebrowse.api.schemas import Health
from rebrowse.store.database import ping
from rebrowse.version import __version__

router = APIRouter(prefix="/api/v1", tags=["health"])
logger = logging.getLogger("rebrowse.api")
DATABASE_CHECK_S = 5.0


async def database_ok(services: ServicesDep) -> bool:
    try:
        async with asyncio.timeout(DATABASE_CHECK_S), services.db.connection() as conn:
            await ping(conn)
    except Exception as exc:  # any failure to reach the database is what this check reports
        logger.warning("health check: database unavailable: %s", exc)
        return False
    return True


@router.get(
    "/health",
    operation_id="health",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database down"}},
)
async def health(services: ServicesDep) -> Health | JSONResponse:
    """Whether the API and its database answer."""
    if await database_ok(services):
        return Health(status="ok", version=__version__, database="ok")
    down = Health(status="unavailable", version=__version__, database="unavailable")
    return JSONResponse(down.model_dump(), status_code=503)
