"""The base of every automation model: unknown keys are errors, not silently dropped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A model that rejects keys it does not declare (Optexity ignores them, which hides typos).

    A string under a field is its description: the JSON Schema and docs/automation-format.md show it.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)
