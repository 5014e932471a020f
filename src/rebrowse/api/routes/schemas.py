"""The JSON Schema of the automation format, for editors and tools (any valid key may read it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from rebrowse.api.auth import CallerDep
from rebrowse.api.schemas import ERRORS
from rebrowse.automation.json_schema import automation_schema_text

router = APIRouter(prefix="/api/v1/schemas", tags=["schemas"], responses=ERRORS)
SCHEMA_MEDIA_TYPE = "application/schema+json"
SCHEMA_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A JSON Schema (draft 2020-12)", "content": {SCHEMA_MEDIA_TYPE: {}}}
}


@router.get("/automation.json", operation_id="automation_schema", responses=SCHEMA_RESPONSE)
async def automation_schema(caller: CallerDep) -> Response:
    """The JSON Schema of an automation: point an editor's `$schema` or `json.schemas` setting at a copy of it."""
    return Response(automation_schema_text(), media_type=SCHEMA_MEDIA_TYPE)
