"""Optexity locator commands, parsed into a chain of whitelisted Playwright locator calls.

Optexity runs `eval("page." + command)` after pasting input values into the command, so a value can
run code. Here a command is parsed with `ast` into an immutable chain of known locator methods and
properties whose arguments are literals; placeholders stay placeholders until the chain is applied,
and their values are then passed as plain arguments. Nothing is ever evaluated.
"""

from __future__ import annotations

import ast
import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, FrameLocator, Locator, Page

from rebrowse.automation.placeholders import PathSegment, PlaceholderRef
from rebrowse.errors import LocatorInvalid

MAX_COMMAND_LENGTH = 2000
MAX_STEPS = 32
MAX_NESTING = 4
_FRAGMENT_LENGTH = 120

Substitute: TypeAlias = Callable[[str], str]
_Target: TypeAlias = Page | Frame | Locator | FrameLocator


class _Kind(enum.Enum):
    """What a step is applied to, or produces."""

    ROOT = "page"
    LOCATOR = "Locator"
    FRAME_LOCATOR = "FrameLocator"


class _Type(enum.Flag):
    """The kinds of value a parameter accepts."""

    STR = enum.auto()
    REGEX = enum.auto()
    INT = enum.auto()
    BOOL = enum.auto()
    LOCATOR = enum.auto()


_TEXT = _Type.STR | _Type.REGEX


@dataclass(frozen=True)
class _Method:
    """A whitelisted locator method: required parameters (in order), every parameter's type, the kinds
    of receiver it applies to mapped to the kind it returns, and narrower types on a page or frame."""

    params: tuple[str, ...]
    types: dict[str, _Type]
    kinds: dict[_Kind, _Kind]
    root_types: dict[str, _Type] = field(default_factory=dict)

    def types_on(self, kind: _Kind) -> dict[str, _Type]:
        """The parameter types when the method is called on a receiver of this kind."""
        return self.types | self.root_types if kind is _Kind.ROOT else self.types


_ANY_TO_LOCATOR = {kind: _Kind.LOCATOR for kind in _Kind}
_LOCATOR_ONLY = {_Kind.LOCATOR: _Kind.LOCATOR}
_FILTERS = {"has_text": _TEXT, "has_not_text": _TEXT, "has": _Type.LOCATOR, "has_not": _Type.LOCATOR}


def _get_by(param: str, *, exact: bool = True) -> _Method:
    types = {param: _TEXT} | ({"exact": _Type.BOOL} if exact else {})
    return _Method((param,), types, _ANY_TO_LOCATOR)


_ROLE_TYPES = {
    "role": _Type.STR,
    "checked": _Type.BOOL,
    "disabled": _Type.BOOL,
    "expanded": _Type.BOOL,
    "include_hidden": _Type.BOOL,
    "level": _Type.INT,
    "name": _TEXT,
    "pressed": _Type.BOOL,
    "selected": _Type.BOOL,
    "exact": _Type.BOOL,
    "description": _TEXT,
}

# Page, Frame, Locator and FrameLocator members that return a Locator or a FrameLocator, nothing else.
_METHODS: dict[str, _Method] = {
    "locator": _Method(
        ("selector_or_locator",),
        {"selector_or_locator": _Type.STR | _Type.LOCATOR} | _FILTERS,
        _ANY_TO_LOCATOR,
        # Page.locator() and Frame.locator() take a selector string only.
        root_types={"selector_or_locator": _Type.STR},
    ),
    "get_by_role": _Method(("role",), _ROLE_TYPES, _ANY_TO_LOCATOR),
    "get_by_text": _get_by("text"),
    "get_by_label": _get_by("text"),
    "get_by_placeholder": _get_by("text"),
    "get_by_alt_text": _get_by("text"),
    "get_by_title": _get_by("text"),
    "get_by_test_id": _get_by("test_id", exact=False),
    "frame_locator": _Method(("selector",), {"selector": _Type.STR}, {kind: _Kind.FRAME_LOCATOR for kind in _Kind}),
    "nth": _Method(
        ("index",),
        {"index": _Type.INT},
        {_Kind.LOCATOR: _Kind.LOCATOR, _Kind.FRAME_LOCATOR: _Kind.FRAME_LOCATOR},
    ),
    "filter": _Method((), _FILTERS | {"visible": _Type.BOOL}, _LOCATOR_ONLY),
    "and_": _Method(("locator",), {"locator": _Type.LOCATOR}, _LOCATOR_ONLY),
    "or_": _Method(("locator",), {"locator": _Type.LOCATOR}, _LOCATOR_ONLY),
    "within": _Method(("locator",), {"locator": _Type.LOCATOR}, _LOCATOR_ONLY),
    "describe": _Method(("description",), {"description": _Type.STR}, _LOCATOR_ONLY),
}

_PROPERTIES: dict[str, dict[_Kind, _Kind]] = {
    "first": {_Kind.LOCATOR: _Kind.LOCATOR, _Kind.FRAME_LOCATOR: _Kind.FRAME_LOCATOR},
    "last": {_Kind.LOCATOR: _Kind.LOCATOR, _Kind.FRAME_LOCATOR: _Kind.FRAME_LOCATOR},
    "visible": _LOCATOR_ONLY,
    "content_frame": {_Kind.LOCATOR: _Kind.FRAME_LOCATOR},
    "owner": {_Kind.FRAME_LOCATOR: _Kind.LOCATOR},
}

# Every step a command may hold, for messages that say what is allowed.
ALLOWED_STEPS = (*_METHODS, *_PROPERTIES)

# Only the flags Playwright can carry over to a JavaScript RegExp.
_REGEX_FLAGS: dict[str, re.RegexFlag] = {
    "IGNORECASE": re.IGNORECASE,
    "I": re.IGNORECASE,
    "MULTILINE": re.MULTILINE,
    "M": re.MULTILINE,
    "DOTALL": re.DOTALL,
    "S": re.DOTALL,
    "UNICODE": re.UNICODE,
    "U": re.UNICODE,
}
_FLAG_NAMES = ("IGNORECASE", "MULTILINE", "DOTALL", "UNICODE")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class RegexArg:
    """A `re.compile(pattern, flags)` argument; the pattern is substituted when the chain is resolved."""

    pattern: str
    flags: int = 0


Argument: TypeAlias = "str | int | bool | RegexArg | PlaceholderRef | LocatorChain | None"


@dataclass(frozen=True)
class Step:
    """One link of a chain: a method call with named arguments, or a property read."""

    name: str
    arguments: tuple[tuple[str, Argument], ...] = ()
    is_property: bool = False


@dataclass(frozen=True)
class LocatorChain:
    """A parsed locator command: whitelisted steps applied in order to a page or frame."""

    steps: tuple[Step, ...]
    command: str = field(compare=False)


def parse_locator(command: str) -> LocatorChain:
    """Parse an Optexity locator command (no `page.` prefix) into a chain, or raise LocatorInvalid."""
    source = command.strip().strip('"').strip()
    if not source:
        raise LocatorInvalid("the locator command is empty")
    if len(source) > MAX_COMMAND_LENGTH:
        raise LocatorInvalid(f"the locator command is longer than {MAX_COMMAND_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise LocatorInvalid(f"the locator command is not a valid expression: {_quote(source)}") from None
    return _Parser(source).chain(tree.body, depth=0)


def _quote(text: str) -> str:
    if len(text) > _FRAGMENT_LENGTH:
        text = text[: _FRAGMENT_LENGTH - 3] + "..."
    return f"`{text}`"


class _Parser:
    """Turns the AST of one command into a LocatorChain, refusing anything outside the whitelist."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, reason: str, node: ast.AST) -> LocatorInvalid:
        fragment = ast.get_source_segment(self.source, node) or ast.unparse(node)
        return LocatorInvalid(f"invalid locator command: {reason}: {_quote(fragment)}")

    def chain(self, node: ast.expr, depth: int) -> LocatorChain:
        if depth > MAX_NESTING:
            raise self.fail(f"locators are nested more than {MAX_NESTING} deep", node)
        kind = _Kind.ROOT
        steps: list[Step] = []
        for name, call, at in reversed(self.links(node)):
            step, kind = self.step(name, call, at, kind, depth)
            steps.append(step)
        if kind is not _Kind.LOCATOR:
            raise self.fail(f"the command ends in a {kind.value}, not a Locator", node)
        command = ast.get_source_segment(self.source, node) or ast.unparse(node)
        return LocatorChain(tuple(steps), command)

    def links(self, node: ast.expr) -> list[tuple[str, ast.Call | None, ast.expr]]:
        """The (name, call or None for a property, node) links of a chain, outermost first."""
        found: list[tuple[str, ast.Call | None, ast.expr]] = []
        current = node
        while len(found) <= MAX_STEPS:
            if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
                found.append((current.func.attr, current, current))
                current = current.func.value
            elif isinstance(current, ast.Call) and isinstance(current.func, ast.Name):
                found.append((current.func.id, current, current))
                return found
            elif isinstance(current, ast.Attribute):
                found.append((current.attr, None, current))
                current = current.value
            elif isinstance(current, ast.Name) and current.id == "page" and found:
                # Optexity adds `page.` itself; accept it written out too (common in has= arguments).
                return found
            else:
                raise self.fail("not a chain of locator calls", current)
        raise self.fail(f"the chain has more than {MAX_STEPS} steps", node)

    def step(self, name: str, call: ast.Call | None, at: ast.expr, kind: _Kind, depth: int) -> tuple[Step, _Kind]:
        if call is None:
            results = _PROPERTIES.get(name)
            if results is None:
                hint = " (it is a method: call it)" if name in _METHODS else ""
                raise self.fail(f"`.{name}` is not an allowed locator property{hint}", at)
            if kind not in results:
                raise self.fail(f"`.{name}` does not apply to a {kind.value}", at)
            return Step(name, is_property=True), results[kind]
        method = _METHODS.get(name)
        if method is None:
            hint = " (it is a property: drop the parentheses)" if name in _PROPERTIES else ""
            raise self.fail(f"`{name}()` is not an allowed locator method{hint}", at)
        if kind not in method.kinds:
            raise self.fail(f"`{name}()` does not apply to a {kind.value}", at)
        types = method.types_on(kind)
        return Step(name, self.arguments(name, method.params, types, call, depth)), method.kinds[kind]

    def arguments(
        self, name: str, params: tuple[str, ...], types: dict[str, _Type], call: ast.Call, depth: int
    ) -> tuple[tuple[str, Argument], ...]:
        if len(call.args) > len(params):
            raise self.fail(f"`{name}()` takes at most {len(params)} positional arguments", call)
        given: dict[str, Argument] = {}
        for param, node in zip(params, call.args, strict=False):
            given[param] = self.argument(node, types[param], depth, optional=False)
        for keyword in call.keywords:
            if keyword.arg is None:
                raise self.fail("`**` arguments are not allowed", keyword)
            if keyword.arg in given:
                raise self.fail(f"`{keyword.arg}` is given twice", keyword)
            expected = types.get(keyword.arg)
            if expected is None:
                raise self.fail(f"`{name}()` has no argument `{keyword.arg}`", keyword)
            optional = keyword.arg not in params
            given[keyword.arg] = self.argument(keyword.value, expected, depth, optional=optional)
        missing = [param for param in params if param not in given]
        if missing:
            raise self.fail(f"`{name}()` needs `{missing[0]}`", call)
        # Required parameters first, in order, so a description can render them positionally.
        ordered = list(params) + [p for p in given if p not in params]
        return tuple((param, given[param]) for param in ordered)

    def argument(self, node: ast.expr, expected: _Type, depth: int, *, optional: bool) -> Argument:
        value = _literal(node)
        if value is not _NOT_LITERAL:
            if value is None and optional:
                return None
            if isinstance(value, str | int) and _type_of(value) in expected:
                return value
            raise self.fail(f"expected {_describe_type(expected)}", node)
        if isinstance(node, ast.Set) and expected & (_Type.STR | _Type.INT):
            return self.placeholder(node)
        if isinstance(node, ast.Call) and _is_regex_call(node) and _Type.REGEX in expected:
            return self.regex(node)
        if isinstance(node, ast.Call | ast.Attribute) and _Type.LOCATOR in expected:
            return self.chain(node, depth + 1)
        raise self.fail(f"expected {_describe_type(expected)}", node)

    def placeholder(self, node: ast.Set) -> PlaceholderRef:
        """`{name[0]}` / `{name.a[1]}` parse as a one-element set display; turn it back into a reference."""
        if len(node.elts) != 1:
            raise self.fail("a placeholder holds a single name", node)
        path: list[PathSegment] = []
        current = node.elts[0]
        while not isinstance(current, ast.Name):
            if isinstance(current, ast.Attribute) and not current.attr.startswith("__"):
                path.append(current.attr)
                current = current.value
            elif (
                isinstance(current, ast.Subscript)
                and isinstance(current.slice, ast.Constant)
                and type(current.slice.value) is int
                and current.slice.value >= 0
            ):
                path.append(current.slice.value)
                current = current.value
            else:
                raise self.fail("a placeholder is `{name[0]}` or `{name.key}`", node)
        if current.id.startswith("__"):
            raise self.fail("a placeholder cannot name a dunder", node)
        return PlaceholderRef(current.id, tuple(reversed(path)))

    def regex(self, call: ast.Call) -> RegexArg:
        flag_nodes = list(call.args[1:])
        for keyword in call.keywords:
            if keyword.arg != "flags":
                raise self.fail("re.compile() takes a pattern and flags only", call)
            flag_nodes.append(keyword.value)
        if not call.args or len(flag_nodes) > 1:
            raise self.fail("re.compile() takes a pattern and flags only", call)
        pattern = call.args[0]
        if not (isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)):
            raise self.fail("the pattern of re.compile() must be a string literal", pattern)
        flags = self.flags(flag_nodes[0]) if flag_nodes else 0
        try:
            re.compile(pattern.value, flags)
        except re.error as exc:
            raise self.fail(f"invalid regular expression ({exc})", pattern) from None
        return RegexArg(pattern.value, flags)

    def flags(self, node: ast.expr) -> int:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.flags(node.left) | self.flags(node.right)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "re"
            and node.attr in _REGEX_FLAGS
        ):
            return int(_REGEX_FLAGS[node.attr])
        raise self.fail("flags must be re.IGNORECASE, re.MULTILINE or re.DOTALL, joined with |", node)


_NOT_LITERAL = object()


def _literal(node: ast.expr) -> object:
    """The value of a constant or a negated number, else _NOT_LITERAL."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        number = node.operand.value
        if isinstance(number, int | float) and not isinstance(number, bool):
            return -number
    return _NOT_LITERAL


def _is_regex_call(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "re"
        and node.func.attr == "compile"
    )


def _type_of(value: str | int) -> _Type:
    if isinstance(value, bool):
        return _Type.BOOL
    return _Type.INT if isinstance(value, int) else _Type.STR


def _describe_type(expected: _Type) -> str:
    names = {
        _Type.STR: "a string",
        _Type.REGEX: "re.compile(...)",
        _Type.INT: "a whole number",
        _Type.BOOL: "True or False",
        _Type.LOCATOR: "a locator",
    }
    return " or ".join(text for kind, text in names.items() if kind in expected)


def resolve_locator(chain: LocatorChain, root: Page | Frame, substitute: Substitute) -> Locator:
    """Apply a parsed chain to a page or frame; every string and placeholder goes through `substitute`."""
    target: _Target = root
    for step in chain.steps:
        target = _apply(step, target, root, substitute, chain)
    if not isinstance(target, Locator):
        raise LocatorInvalid(f"locator command {_quote(chain.command)} does not produce a Locator")
    return target


def _apply(step: Step, target: _Target, root: Page | Frame, substitute: Substitute, chain: LocatorChain) -> _Target:
    if step.name not in (_PROPERTIES if step.is_property else _METHODS):
        raise LocatorInvalid(f"`{step.name}` is not an allowed locator step in {_quote(chain.command)}")
    member = getattr(target, step.name, None)
    if member is None:
        raise LocatorInvalid(f"`{step.name}` is not available on a {type(target).__name__} in {_quote(chain.command)}")
    if step.is_property:
        result: _Target = member
        return result
    method = _METHODS[step.name]
    values = {name: _value(arg, method.types[name], root, substitute) for name, arg in step.arguments}
    # Required parameters go positionally: their names differ between Page and Locator (`selector`).
    args = [values.pop(name) for name in method.params]
    try:
        result = member(*args, **values)
    except (PlaywrightError, TypeError, ValueError) as exc:
        raise LocatorInvalid(f"`{step.name}()` failed in {_quote(chain.command)}: {exc}") from None
    return result


def _value(arg: Argument, expected: _Type, root: Page | Frame, substitute: Substitute) -> object:
    if isinstance(arg, str):
        return substitute(arg)
    if isinstance(arg, PlaceholderRef):
        return _placeholder_value(arg, expected, substitute)
    if isinstance(arg, RegexArg):
        try:
            return re.compile(substitute(arg.pattern), arg.flags)
        except re.error:
            # The substituted pattern may hold an input value: name the written pattern only.
            raise LocatorInvalid(f"pattern {json.dumps(arg.pattern)} is not valid once substituted") from None
    if isinstance(arg, LocatorChain):
        return resolve_locator(arg, root, substitute)
    return arg


def _placeholder_value(ref: PlaceholderRef, expected: _Type, substitute: Substitute) -> str | int:
    text = substitute(ref.text)
    if _Type.INT in expected and _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    if _Type.STR in expected:
        return text
    raise LocatorInvalid(f"placeholder {ref.text} must hold a whole number")


def describe_locator(chain: LocatorChain, substitute: Substitute) -> str:
    """A readable rendering of a chain after substitution, e.g. `get_by_role("button", name="Go").nth(1)`.

    Pass a `substitute` that masks secrets when the result goes to a record or an error.
    """
    parts: list[str] = []
    for position, step in enumerate(chain.steps):
        if step.is_property:
            parts.append(f".{step.name}")
            continue
        method = _METHODS[step.name]
        rendered = [
            _render(arg, method.types[name], substitute)
            if name in method.params
            else f"{name}={_render(arg, method.types[name], substitute)}"
            for name, arg in step.arguments
        ]
        parts.append(("." if position else "") + f"{step.name}({', '.join(rendered)})")
    return "".join(parts)


def _render(arg: Argument, expected: _Type, substitute: Substitute) -> str:
    if isinstance(arg, str):
        return json.dumps(substitute(arg), ensure_ascii=False)
    if isinstance(arg, PlaceholderRef):
        value = _placeholder_value(arg, expected, substitute)
        return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)
    if isinstance(arg, RegexArg):
        flags = " | ".join(f"re.{name}" for name in _FLAG_NAMES if arg.flags & _REGEX_FLAGS[name])
        pattern = json.dumps(substitute(arg.pattern), ensure_ascii=False)
        return f"re.compile({pattern}{', ' + flags if flags else ''})"
    if isinstance(arg, LocatorChain):
        return describe_locator(arg, substitute)
    return repr(arg)
