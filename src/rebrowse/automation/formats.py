"""The type strings of an extraction format (`"str"`, `"List[int]"`, `"Optional[str]"`), read by a small parser.

Optexity evaluates these strings as Python; rebrowse reads them with this grammar instead, so a format can only
name the types below, and one it cannot read is refused (with its JSON path) when the automation is uploaded:

    type    := primary ("|" primary)*
    primary := NAME ("[" type ("," type)* "]")?
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import reduce
from operator import or_
from typing import Any

# Scalars by every spelling Optexity recordings use (Python's, typing's, JSON Schema's).
SCALARS: dict[str, Any] = {
    "str": str,
    "string": str,
    "int": int,
    "integer": int,
    "float": float,
    "number": float,
    "bool": bool,
    "boolean": bool,
    "any": Any,
    "none": None,
    "nonetype": None,
}
LISTS = frozenset({"list", "sequence"})
DICTS = frozenset({"dict", "mapping"})
TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[\[\],|]))")
UNDERSTOOD = "str, int, float, bool, Any, None, List[...], Dict[str, ...], Optional[...], Union[...] or a | b"


class FormatError(ValueError):
    """A type string this grammar does not read; the message says what is wrong."""


def tokens(text: str) -> list[str]:
    """The names and punctuation of a type string."""
    found: list[str] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise FormatError(f"unexpected {text[position:].strip()[:1]!r} in type {text!r}")
        found.append(match.group("name") or match.group("punct"))
        position = match.end()
    return found


class Parser:
    """A recursive-descent reader of one type string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.position = 0

    def parse(self) -> Any:
        if not self.tokens:
            raise FormatError("empty type: use " + UNDERSTOOD)
        result = self.union()
        if self.position < len(self.tokens):
            raise FormatError(f"unexpected {self.tokens[self.position]!r} in type {self.text!r}")
        return result

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FormatError(f"type {self.text!r} ends early: expected {expected or 'a type'}")
        self.position += 1
        return token

    def union(self) -> Any:
        members = [self.primary()]
        while self.peek() == "|":
            self.take("|")
            members.append(self.primary())
        return union_of(members)

    def primary(self) -> Any:
        name = self.take()
        if name in "[],|":
            raise FormatError(f"expected a type name in {self.text!r}, found {name!r}")
        arguments: list[Any] = []
        if self.peek() == "[":
            self.take("[")
            arguments.append(self.union())
            while self.peek() == ",":
                self.take(",")
                arguments.append(self.union())
            self.take("]")
        return self.build(name, arguments)

    def build(self, name: str, arguments: Sequence[Any]) -> Any:
        """The Python type for a name and its arguments."""
        key = name.lower().removeprefix("typing.")
        if key in SCALARS and not arguments:
            return SCALARS[key]
        if key in LISTS and len(arguments) <= 1:
            return list[arguments[0] if arguments else Any]  # type: ignore[misc]
        if key in DICTS and len(arguments) in (0, 2):
            if arguments and arguments[0] is not str:
                raise FormatError(f"dictionary keys must be str in {self.text!r}")
            return dict[str, arguments[1] if arguments else Any]  # type: ignore[misc]
        if key == "optional" and len(arguments) == 1:
            return union_of([arguments[0], None])
        if key == "union" and arguments:
            return union_of(list(arguments))
        raise FormatError(f"type {self.text!r} is not understood (at {name!r}): use {UNDERSTOOD}")


def union_of(members: list[Any]) -> Any:
    """`a | b | ...` of parsed types (None stands for NoneType, as in annotations)."""
    types = [type(None) if member is None else member for member in members]
    return types[0] if len(types) == 1 else reduce(or_, types)


def parse_type(text: str) -> Any:
    """The Python type a type string names; FormatError when the grammar does not read it."""
    return Parser(text).parse()


def format_problems(fmt: object, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, message) for every part of an extraction format that cannot become a schema.

    A format is a dict whose values are type strings, nested formats, or a one-item list of either.
    """
    if not isinstance(fmt, dict):
        yield path, "must be an object of field names to types"
        return
    if not fmt:
        yield path, "must name at least one field"
    for key, value in fmt.items():
        yield from value_problems(value, f"{path}.{key}")


def value_problems(value: object, path: str) -> Iterator[tuple[str, str]]:
    """The problems of one field's type: a type string, a nested format, or `[item]`."""
    if isinstance(value, str):
        try:
            parse_type(value)
        except FormatError as exc:
            yield path, str(exc)
    elif isinstance(value, dict):
        yield from format_problems(value, path)
    elif isinstance(value, list) and len(value) == 1:
        yield from value_problems(value[0], f"{path}[0]")
    else:
        yield path, f"must be a type string, an object of fields, or a list of one of them, not {value!r}"
