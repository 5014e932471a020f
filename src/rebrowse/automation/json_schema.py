"""The JSON Schema of the automation format, generated from the models, for editors and other tools."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from rebrowse.automation.schema import Automation

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:rebrowse:schemas:automation.json"
API_PATH = "/api/v1/schemas/automation.json"
TITLE = "rebrowse automation"


class WithFactoryDefaults(GenerateJsonSchema):
    """Pydantic's generator, also showing the defaults made by a factory (an empty list, a fresh dict)."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is None or schema.get("default_factory_takes_data"):
            return super().get_default_value(schema)
        default = factory()  # type: ignore[call-arg]
        return NoDefault if default is None else default


@cache
def automation_schema_text() -> str:
    """The schema as indented JSON text (built once: the models do not change while the process runs)."""
    generated = Automation.model_json_schema(by_alias=True, mode="validation", schema_generator=WithFactoryDefaults)
    schema = {"$schema": DIALECT, "$id": SCHEMA_ID, **generated, "title": TITLE}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def automation_json_schema() -> dict[str, Any]:
    """The schema as a fresh dict (the caller may change it)."""
    schema: dict[str, Any] = json.loads(automation_schema_text())
    return schema
