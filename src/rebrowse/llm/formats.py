"""An Optexity extraction format as a pydantic model: the JSON schema a model answers in, and its validator.

Every field is optional (null allowed), as in Optexity: a page may not show a value, and the step decides
(`allow_none`) whether a null is acceptable. Keys keep their spelling (spaces, leading underscores) as aliases.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from rebrowse.automation.formats import FormatError, parse_type


class Answer(BaseModel):
    """The base of every format's model: fields are read and written under their format keys."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    def data(self) -> dict[str, Any]:
        """The answer as the format spells it."""
        return self.model_dump(mode="json", by_alias=True)


def format_model(fmt: dict[str, Any], name: str = "Extraction") -> type[Answer]:
    """The model of a format (see rebrowse.automation.formats for what a format may hold)."""
    fields: dict[str, Any] = {}
    for index, (key, value) in enumerate(fmt.items()):
        annotation = field_type(value, f"{name}_{safe_name(key)}")
        fields[f"field_{index}"] = (annotation | None, Field(default=None, alias=key))
    model: type[Answer] = create_model(name, __base__=Answer, **fields)
    return model


def field_type(value: object, name: str) -> Any:
    """The type of one format value: a type string, a nested format, or a one-item list of either."""
    if isinstance(value, str):
        return parse_type(value)
    if isinstance(value, dict):
        return format_model(value, name)
    if isinstance(value, list) and len(value) == 1:
        return list[field_type(value[0], name)]  # type: ignore[misc]
    raise FormatError(f"{value!r} is not a type string, an object of fields, or a list of one of them")


def safe_name(key: str) -> str:
    """A key as part of a schema title (letters, digits, underscores)."""
    return re.sub(r"\W+", "_", key).strip("_") or "field"


def requested_model(name: str | None, provider: str | None) -> str | None:
    """One model name from an action's `llm_model_name` and its deprecated `llm_provider`.

    A bare name with a provider becomes `provider/name` (LiteLLM's spelling, which the client maps)."""
    if not name:
        return None
    if provider and "/" not in name and ":" not in name:
        return f"{provider}/{name}"
    return name
