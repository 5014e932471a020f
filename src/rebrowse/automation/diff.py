"""What changed between two definitions, as a person reads it: a unified diff of their pretty JSON."""

from __future__ import annotations

import difflib
import json
from typing import Any


def pretty(definition: dict[str, Any]) -> list[str]:
    """The definition as indented JSON lines, its keys in the order they were written (never sorted)."""
    return json.dumps(definition, indent=2, ensure_ascii=False).splitlines()


def unified_diff(before: dict[str, Any], after: dict[str, Any], before_name: str, after_name: str) -> str:
    """The unified diff from `before` to `after` ('' when their JSON is the same)."""
    lines = difflib.unified_diff(pretty(before), pretty(after), before_name, after_name, lineterm="")
    return "".join(f"{line}\n" for line in lines)
