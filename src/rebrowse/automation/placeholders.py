"""Optexity placeholders (`{name[0]}`, `{api_result.body.id}`, loop bindings), substituted as values.

Substitution only ever produces text: the result is used as a literal value by the caller (a locator
argument, an input value, a URL), never pasted into code that is evaluated afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from rebrowse.errors import PlaceholderError

# `{name}`, `{name[0]}`, `{name.a.b[0].c}`: no spaces, so `{"a": 1}` and `{ text }` are left alone.
_PLACEHOLDER = re.compile(r"\{([^\W\d]\w*)((?:\.\w+|\[[0-9]+\])*)\}")
_SEGMENT = re.compile(r"\.(\w+)|\[([0-9]+)\]")

PathSegment: TypeAlias = str | int
Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None


@dataclass(frozen=True)
class PlaceholderRef:
    """One placeholder: the variable name and the path into its value (str = dict key, int = list index)."""

    name: str
    path: tuple[PathSegment, ...] = ()

    @property
    def text(self) -> str:
        """The placeholder as it is written in an automation, e.g. `{name[0]}`."""
        parts = [f"[{s}]" if isinstance(s, int) else f".{s}" for s in self.path]
        return "{" + self.name + "".join(parts) + "}"


def references(text: str) -> list[PlaceholderRef]:
    """The distinct placeholders of a text, in order of first appearance."""
    seen: dict[PlaceholderRef, None] = {}
    for match in _PLACEHOLDER.finditer(text):
        seen.setdefault(_ref_of(match), None)
    return list(seen)


def substitute(text: str, values: Mapping[str, object], *, strict: bool = True) -> str:
    """Replace every placeholder of `text` by its value; only names that appear in the text are looked up.

    A placeholder with a path (`{name[0]}`, `{name.a}`) whose name is not bound raises PlaceholderError,
    unless `strict` is false, in which case it is left as written. A bare `{name}` that is not bound is
    always left as written (it may be ordinary text).
    """
    roots: dict[str, object] = {}

    def replace(match: re.Match[str]) -> str:
        ref = _ref_of(match)
        if ref.name not in roots:
            try:
                roots[ref.name] = values[ref.name]
            except KeyError:
                if ref.path and strict:
                    raise PlaceholderError(f"placeholder {ref.text} names no value") from None
                return match.group(0)
        return _render(_walk(ref, roots[ref.name]))

    return _PLACEHOLDER.sub(replace, text)


def rename(text: str, old: str, new: str) -> str:
    """The text with every placeholder of the variable `old` naming `new` instead (its path kept)."""
    return _PLACEHOLDER.sub(lambda m: "{" + new + m.group(2) + "}" if m.group(1) == old else m.group(0), text)


def _ref_of(match: re.Match[str]) -> PlaceholderRef:
    # findall yields ("key", "") for `.key` and ("", "3") for `[3]`.
    path = tuple(key or int(index) for key, index in _SEGMENT.findall(match.group(2)))
    return PlaceholderRef(match.group(1), path)


def _walk(ref: PlaceholderRef, value: object) -> object:
    for segment in ref.path:
        value = _step(ref, value, segment)
    if value is None:
        raise PlaceholderError(f"placeholder {ref.text} has no value (it is None)")
    return value


def _step(ref: PlaceholderRef, value: object, segment: PathSegment) -> object:
    if isinstance(segment, int):
        if not isinstance(value, list | tuple):
            raise PlaceholderError(f"placeholder {ref.text}: [{segment}] applies to a list only")
        if segment >= len(value):
            raise PlaceholderError(f"placeholder {ref.text}: index {segment} is out of range ({len(value)} values)")
        return value[segment]
    if not isinstance(value, Mapping) or segment not in value:
        raise PlaceholderError(f"placeholder {ref.text}: no key {segment!r}")
    return value[segment]


def _render(value: object) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def expand_loop(text: str, *, index_name: str, index: int, loop_variables: Sequence[str], locator: str | None) -> str:
    """Bind one loop iteration's placeholders in a text (`{v[i]}`, `{index_of(v)}`, `{locator[i]}`, `{i}`)."""
    for variable in loop_variables:
        text = text.replace(f"{{{variable}[{index_name}]}}", f"{{{variable}[{index}]}}")
        text = text.replace(f"{{index_of({variable})}}", str(index))
    if locator is not None:
        text = text.replace(f"{{locator[{index_name}]}}", f"{locator}.nth({index})")
    # Last, so the bare index cannot break the more specific forms above.
    return text.replace(f"{{{index_name}}}", str(index))


def expand_loop_in(
    obj: Json, *, index_name: str, index: int, loop_variables: Sequence[str], locator: str | None
) -> Json:
    """A deep copy of a JSON-like structure with `expand_loop` applied to every string (keys included)."""

    def expand(value: Json) -> Json:
        if isinstance(value, str):
            return expand_loop(
                value, index_name=index_name, index=index, loop_variables=loop_variables, locator=locator
            )
        if isinstance(value, list):
            return [expand(item) for item in value]
        if isinstance(value, dict):
            return {str(expand(key)): expand(item) for key, item in value.items()}
        return value

    return expand(obj)
